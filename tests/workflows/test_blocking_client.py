"""The blocking client a Frappe hook uses, against the session's real dev server, PostgreSQL and Redis.

Its calls run in a worker thread here so that the session's event loop (which runs the workers) keeps going,
as it would in a separate worker process in production.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import time
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import Client

import starter
from config.settings import Settings
from infra.embedded import free_port
from starter import (
    BlockingDuesflowClient,
    DuesflowClient,
    DuesflowError,
    LedgerUnavailable,
    NotFound,
    TemporalUnavailable,
)
from tests import builders as b

TREASURER = "treasurer@example.nl"
ADMIN_ROLES = ["System Manager"]


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    """Public methods and their signatures, annotations resolved (so ``list[Job]`` is the same type on both)."""
    return {
        name: inspect.signature(member, eval_str=True)
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def test_both_clients_offer_the_same_methods_with_the_same_signatures() -> None:
    """One public surface: the ERP's blocking client and the async client differ only in being blocking."""
    sync, async_ = public_methods(BlockingDuesflowClient), public_methods(DuesflowClient)
    assert sorted(sync) == sorted(async_), {
        "only on the blocking client": sorted(set(sync) - set(async_)),
        "only on the async client": sorted(set(async_) - set(sync)),
    }
    for name, signature in async_.items():
        assert signature == sync[name], f"{name}: async {signature} vs blocking {sync[name]}"
        assert inspect.iscoroutinefunction(getattr(DuesflowClient, name)), name
        assert not inspect.iscoroutinefunction(getattr(BlockingDuesflowClient, name)), name
    documented = {"submit", "wait", "progress", "jobs", "job", "job_statistics", "retry", "cancel", "cleanup"}
    documented |= {"notifications", "unread_count", "mark_notifications_read", "reminders", "overdue_report"}
    documented |= {"handed_off", "reminder_states", "due_collection_retries", "returns_needing_attention"}
    documented |= {"run_upkeep", "member_history", "member_summary", "mandate", "load_reference_data"}
    assert documented <= set(sync)
    assert "bulk" in async_["submit"].parameters
    # Every exception a caller is meant to catch comes from `starter`, none from temporalio.
    for name in ("JobFailed", "JobCancelled", "NotFound", "TemporalUnavailable", "LedgerUnavailable"):
        assert issubclass(getattr(starter, name), DuesflowError), name
    assert issubclass(starter.NotAllowed, PermissionError) and issubclass(starter.NotFound, LookupError)


@pytest.mark.usefixtures("workers")
async def test_blocking_client_submits_and_reads(settings: Settings, temporal_client: Client, site: str) -> None:
    config = settings.model_copy(update={"temporal_address": temporal_client.service_client.config.target_host})
    today = dt.date.today()

    def erp_hook() -> dict[str, Any]:
        with BlockingDuesflowClient(config) as client:
            client.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
            verdict = client.submit(b.invoice("INV-1", "C1", 30.0), site=site, user=TREASURER)
            result = client.wait(verdict.workflow_id)
            backfilled = client.submit(b.invoice("INV-OLD", "C1", 5.0), site=site, user=TREASURER, bulk=True)
            client.wait(backfilled.workflow_id)
            # What a "My submissions" page in the ERP would call.
            # Visibility follows a closed workflow asynchronously: poll it, bounded.
            deadline = time.monotonic() + 15
            jobs = client.jobs(site, TREASURER)
            while [j.status for j in jobs] != ["Completed"] * 2:
                assert time.monotonic() < deadline, jobs
                time.sleep(0.1)
                jobs = client.jobs(site, TREASURER)
            notes = client.notifications(site, TREASURER)
            return {
                "verdict": verdict,
                "result": result,
                "jobs": jobs,
                "job": client.job(site, "INV-1", TREASURER),
                "stats": client.job_statistics(site, TREASURER),
                "read": client.mark_notifications_read(site, TREASURER, [n.id for n in notes]),
                "unread": client.unread_count(site, TREASURER),
                "history": client.member_history(site, "M1"),
                "summary": client.member_summary(site, "M1"),
                "overdue": client.overdue_report(site, dt.date(2025, 6, 1)),
                "states": client.reminder_states(site),
                "handed_off": client.handed_off(site),
                "retries": client.due_collection_retries(site, today),
                "attention": client.returns_needing_attention(site),
                "upkeep": client.run_upkeep("analytics-rollup", today, site),
                "cleanup": client.cleanup(site, "beheer@example.nl", ADMIN_ROLES, days=30),
            }

    got = await asyncio.to_thread(erp_hook)
    verdict = got["verdict"]
    assert verdict.status == "accepted" and [s.status for s in got["result"].steps] == ["done"]
    assert {j.workflow_id for j in got["jobs"]} == {verdict.workflow_id, f"{site}:Sales Invoice:INV-OLD"}
    assert got["job"].workflow_id == verdict.workflow_id and got["stats"].by_status["Completed"] == 2
    assert (got["read"], got["unread"]) == (1, 0)  # a backfilled document's success notifies nobody
    assert sorted((r.invoice, r.amount) for r in got["history"]) == [("INV-1", 30), ("INV-OLD", 5)]
    assert (got["summary"].total_invoices, got["summary"].total_outstanding) == (2, Decimal("35.00"))
    [line] = got["overdue"]
    assert (line.member, line.invoices, line.outstanding, line.band) == ("M1", ["INV-1", "INV-OLD"], 35, "Critical")
    assert got["handed_off"] == [] and got["retries"] == [] and got["attention"] == []
    assert set(got["states"]) <= {"scheduled", "reminding"}  # INV-1's reminder flow (INV-OLD is below €10)
    assert got["upkeep"].job == "analytics-rollup" and got["cleanup"] == {"notifications": 0}


async def test_without_temporal_the_ledger_calls_still_work(settings: Settings, site: str) -> None:
    """Making the client contacts nothing; reads, notifications and cleanup never need Temporal. Only the calls
    that do raise, and with duesflow's own error naming the address."""
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    config = settings.model_copy(update={"temporal_address": nowhere})

    def erp_hook() -> None:
        with BlockingDuesflowClient(config) as client:
            client.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
            assert client.member_history(site, "M1") == []
            assert client.member_summary(site, "M1").total_invoices == 0
            assert client.mandate(site, "MD-1") is None
            assert client.daily_totals(site, dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == []
            assert client.member_totals(site, "M1").count == 0
            assert client.method_statistics(site) == []
            assert client.audit_trail(site, "Sales Invoice", "INV-1") == []
            assert client.reminders(site, "INV-1") is None
            assert client.overdue_report(site, dt.date(2025, 6, 1)) == []
            assert client.reminder_states(site) == {}
            assert client.handed_off(site) == []
            assert client.due_collection_retries(site, dt.date(2025, 6, 1)) == []
            assert client.returns_needing_attention(site) == []
            assert client.notifications(site, TREASURER) == []
            assert client.unread_count(site, TREASURER) == 0
            assert client.mark_notifications_read(site, TREASURER) == 0
            assert client.cleanup(site, "beheer@example.nl", ADMIN_ROLES) == {"notifications": 0}
            with pytest.raises(NotFound, match="member 'M-GHOST' is not known"):
                client.member_summary(site, "M-GHOST")
            for call in (
                lambda: client.submit(b.invoice("INV-1", "C1", 30.0), site=site, user=TREASURER),
                lambda: client.jobs(site, TREASURER),
                lambda: client.wait(f"{site}:Sales Invoice:INV-1"),
            ):
                with pytest.raises(TemporalUnavailable, match=nowhere):
                    call()

    await asyncio.to_thread(erp_hook)


async def test_a_database_that_does_not_answer_is_ledger_unavailable(settings: Settings, site: str) -> None:
    """Every ledger call says which database did not answer, as duesflow's own error (never the password)."""
    port = free_port()  # nothing listens there
    config = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://duesflow:s3cret@127.0.0.1:{port}/ledger"}
    )

    def erp_hook() -> None:
        with BlockingDuesflowClient(config) as client:
            calls = {
                "load_reference_data": lambda: client.load_reference_data([b.customer("C1")], site=site),
                "member_history": lambda: client.member_history(site, "M1"),
                "member_summary": lambda: client.member_summary(site, "M1"),
                "mandate": lambda: client.mandate(site, "MD-1"),
                "daily_totals": lambda: client.daily_totals(site, dt.date(2025, 1, 1), dt.date(2025, 1, 31)),
                "member_totals": lambda: client.member_totals(site, "M1"),
                "method_statistics": lambda: client.method_statistics(site),
                "audit_trail": lambda: client.audit_trail(site, "Sales Invoice", "INV-1"),
                "reminders": lambda: client.reminders(site, "INV-1"),
                "overdue_report": lambda: client.overdue_report(site, dt.date(2025, 6, 1)),
                "reminder_states": lambda: client.reminder_states(site),
                "handed_off": lambda: client.handed_off(site),
                "due_collection_retries": lambda: client.due_collection_retries(site, dt.date(2025, 6, 1)),
                "returns_needing_attention": lambda: client.returns_needing_attention(site),
                "notifications": lambda: client.notifications(site, TREASURER),
                "unread_count": lambda: client.unread_count(site, TREASURER),
                "mark_notifications_read": lambda: client.mark_notifications_read(site, TREASURER),
                "cleanup": lambda: client.cleanup(site, "beheer@example.nl", ADMIN_ROLES),
            }
            for name, call in calls.items():
                with pytest.raises(LedgerUnavailable) as err:
                    call()
                assert err.value.address == f"127.0.0.1:{port}", name
                assert "s3cret" not in str(err.value), name

    await asyncio.to_thread(erp_hook)
