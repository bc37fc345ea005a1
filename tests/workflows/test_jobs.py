"""The job API (docs/business-rules.md §8) on the real dev server, PostgreSQL and Redis: a user's list and details, an
admin's view, statistics, retry from the failed step, cancel, notifications and cleanup."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any, TypeVar

import pytest
import redis
from sqlalchemy import Engine, func, select, text, update
from temporalio.client import Client, WorkflowExecutionStatus

from config.settings import Settings, user_key_of
from domain.errors import JobCancelled
from domain.users import NotAllowed
from ledger.cache import ReadCache
from ledger.schema import audit_records, mandate_usages, notifications, payment_facts
from starter.client import DuesflowClient
from tests import builders as b
from tests.own_queues import own_queues, serve
from tests.polling import eventually
from tests.recording import keep
from workflows import search_attributes as sa

TREASURER = "Penningmeester@Example.nl"
SECRETARY = "secretaris@example.nl"
ADMIN = "beheer@example.nl"
ADMIN_ROLES = ["System Manager"]

pytestmark = pytest.mark.usefixtures("workers")
T = TypeVar("T")


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def submit_and_wait(duesflow: DuesflowClient, site: str, doc: dict[str, Any], user: str) -> str:
    verdict = await duesflow.submit(doc, site=site, user=user)
    assert verdict.status == "accepted", verdict.errors
    assert verdict.workflow_id is not None
    await duesflow.wait(verdict.workflow_id)
    return verdict.workflow_id


async def test_users_see_their_own_jobs_and_admins_see_all(
    duesflow: DuesflowClient, temporal_client: Client, settings: Settings, site: str
) -> None:
    await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
    invoice = await submit_and_wait(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"), SECRETARY)
    payment = await submit_and_wait(duesflow, site, b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)]), TREASURER)

    mine = await eventually(lambda: duesflow.jobs(site, TREASURER), lambda js: [j.status for j in js] == ["Completed"])
    assert [(j.workflow_id, j.status, j.steps_done, j.steps_total) for j in mine] == [(payment, "Completed", 2, 2)]
    assert mine[0].progress_percent == 100 and mine[0].last_error is None
    assert mine[0].submitted_by == TREASURER
    everyone = await eventually(
        lambda: duesflow.jobs(site, ADMIN, ADMIN_ROLES), lambda js: all(j.status == "Completed" for j in js)
    )
    assert [j.workflow_id for j in everyone] == [payment, invoice]  # newest first
    assert [j.workflow_id for j in await duesflow.jobs(site, ADMIN, ADMIN_ROLES, doctype="Sales Invoice")] == [invoice]
    assert await duesflow.jobs(site, TREASURER, status="failed") == []

    detail = await duesflow.job(site, payment, TREASURER.lower())  # the ERP treats user ids case-insensitively
    assert detail.summary == "Payment Entry PAY-1 · €15.00 · Bank Transfer"
    assert [(s.name, s.status, s.attempts) for s in detail.steps] == [
        ("history:M1", "done", 1),
        ("analytics", "done", 1),
    ]
    assert all(s.duration_seconds is not None and s.duration_seconds >= 0 for s in detail.steps)
    with pytest.raises(NotAllowed, match="submitted by another user"):
        await duesflow.job(site, invoice, TREASURER)
    with pytest.raises(LookupError, match="no job"):
        await duesflow.job("other.site", payment, ADMIN, ADMIN_ROLES)
    with pytest.raises(ValueError, match="limit must be between 1 and 100"):
        await duesflow.jobs(site, TREASURER, limit=101)
    with pytest.raises(ValueError, match="status must be one of Queued, Running, Retrying"):
        await duesflow.jobs(site, TREASURER, status="done")

    # Search attributes name the document, its members and a pseudonym of the user, never the address.
    attrs = (await temporal_client.get_workflow_handle(payment).describe()).typed_search_attributes
    assert attrs.get(sa.USER) == user_key_of(settings, TREASURER) != TREASURER
    assert attrs.get(sa.MEMBERS) == ["M1"] and attrs.get(sa.STATE) == "completed"
    assert all("@" not in str(pair.value) for pair in attrs)


async def test_retry_reruns_a_failed_submission_from_the_failed_step(
    duesflow: DuesflowClient, temporal_client: Client, engine: Engine, site: str
) -> None:
    customer, member = b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit")
    await duesflow.load_reference_data([customer, member, b.mandate("MD-1", "M1", maximum_amount=10.0)], site=site)
    await submit_and_wait(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"), TREASURER)
    sepa_payment = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    wid = await submit_and_wait(duesflow, site, sepa_payment, TREASURER)

    failed = await eventually(lambda: duesflow.jobs(site, TREASURER, status="Failed"), lambda js: len(js) == 1)
    assert [(j.workflow_id, j.status, j.steps_done, j.steps_total) for j in failed] == [(wid, "Failed", 2, 3)]
    assert "exceeds the mandate maximum" in (failed[0].last_error or "")
    stats = await duesflow.job_statistics(site, TREASURER)
    assert (stats.by_status["Completed"], stats.by_status["Failed"], stats.success_rate) == (1, 1, 0.5)
    assert stats.last_24h == {"submitted": 2, "completed": 1, "failed": 1}
    assert stats.top_errors and "sepa failed" in stats.top_errors[0][0]
    by_step = [
        e.id async for e in temporal_client.list_workflows(f"DuesflowSite = '{site}' AND DuesflowFailedSteps = 'sepa'")
    ]
    assert by_step == [wid]  # what the runbook's batch reset selects

    with pytest.raises(NotAllowed, match="only holders of an admin role"):
        await duesflow.retry(site, wid, TREASURER)
    # The fix: the mandate's maximum is raised in the ERP and synced. Then the admin retries.
    await duesflow.load_reference_data([customer, member, b.mandate("MD-1", "M1", maximum_amount=150.0)], site=site)
    report = await duesflow.retry(site, wid, ADMIN, ADMIN_ROLES)
    assert report.steps == ["sepa"] and report.new_run_id != report.failed_run_id
    result = await duesflow.wait(wid)
    assert [(s.name, s.status) for s in result.steps] == [
        ("sepa", "done"),
        ("history:M1", "done"),
        ("analytics", "done"),
    ]
    with pytest.raises(ValueError, match="only failed jobs can be retried"):
        await eventually(lambda: duesflow.job(site, wid, ADMIN, ADMIN_ROLES), lambda j: j.status == "Completed")
        await duesflow.retry(site, wid, ADMIN, ADMIN_ROLES)
    # The failed run stays in Temporal's visibility beside the new one; the job is listed and counted once.
    jobs = await eventually(
        lambda: duesflow.jobs(site, TREASURER), lambda js: [j.status for j in js] == ["Completed"] * 2
    )
    assert [(j.workflow_id, j.run_id, j.status) for j in jobs if j.name == "PAY-1"] == [
        (wid, report.new_run_id, "Completed")
    ]
    stats = await duesflow.job_statistics(site, TREASURER)
    assert (stats.total, stats.by_status["Completed"], stats.by_status["Failed"], stats.top_errors) == (2, 2, 0, [])
    # The last 24 hours agree: two jobs submitted, both completed; the replaced failed run counts nowhere.
    assert stats.last_24h == {"submitted": 2, "completed": 2, "failed": 0}
    assert stats.success_rate == 1.0

    # Effects of steps that ran before the retry are not repeated: one usage, one fact, one audit record each.
    assert count(engine, mandate_usages, mandate_usages.c.site == site) == 1
    assert count(engine, payment_facts, payment_facts.c.site == site) == 1
    with engine.connect() as conn:
        events = conn.execute(
            select(audit_records.c.event, audit_records.c.step, audit_records.c.actor).where(
                audit_records.c.site == site, audit_records.c.name == "PAY-1"
            )
        ).all()
    assert sorted(e for e, step, _ in events if e == "step_completed") == ["step_completed"] * 3
    assert ("retry_requested", None, ADMIN) in events
    # The submitter heard both endings: the failure, then the completion.
    kinds = [n.kind for n in await duesflow.notifications(site, TREASURER, unread_only=False) if n.name == "PAY-1"]
    assert kinds == ["completed", "failed"]
    keep("payment-entry-job-tracking-retried", await temporal_client.get_workflow_handle(wid).fetch_history())


async def test_cancel_stops_pending_steps_audits_and_notifies(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    """Own task queues: the background role starts only after the cancel, so every step is still pending."""
    own = own_queues(settings, "jobs")
    duesflow = DuesflowClient(temporal_client, own, engine, cache)

    stop = asyncio.Event()
    workflows = asyncio.create_task(serve(temporal_client, own, engine, cache, "workflows", stop))
    background: asyncio.Task[None] | None = None
    try:
        await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
        verdict = await duesflow.submit(b.invoice("INV-1", "C1", 15.0, member_name="M1"), site=site, user=TREASURER)
        assert verdict.status == "accepted" and verdict.workflow_id
        wid = verdict.workflow_id
        queued = await duesflow.job(site, wid, TREASURER)
        assert (queued.status, [(s.name, s.status) for s in queued.steps]) == ("Queued", [("history:M1", "pending")])
        with pytest.raises(NotAllowed):
            await duesflow.cancel(site, wid, TREASURER)
        await duesflow.cancel(site, wid, ADMIN, ADMIN_ROLES)
        # Once the workflow has stopped the step, a background worker may come: the step must not run.
        stopped = await eventually(
            lambda: duesflow.job(site, wid, ADMIN, ADMIN_ROLES), lambda j: j.steps[0].status == "cancelled"
        )
        assert [(s.name, s.status) for s in stopped.steps] == [("history:M1", "cancelled")]
        background = asyncio.create_task(serve(temporal_client, own, engine, cache, "background", stop))
        handle = temporal_client.get_workflow_handle(wid)
        await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.CANCELED, timeout=30)
        job = await eventually(lambda: duesflow.job(site, wid, TREASURER), lambda j: j.status == "Cancelled")
        assert job.status == "Cancelled"
        # The history step never ran (neither done nor failed).
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    audit_records.c.event, audit_records.c.actor, audit_records.c.details, audit_records.c.step
                ).where(audit_records.c.site == site, audit_records.c.name == "INV-1")
            ).all()
        events = {e: (actor, details) for e, actor, details, _ in rows}
        assert events["cancel_requested"][0] == ADMIN
        assert events["cancelled"][1]["steps_stopped"] == ["history:M1"]
        assert [e for e, _, _, step in rows if step == "history:M1"] == []  # neither done nor "failed"
        notes = await duesflow.notifications(site, TREASURER)
        assert [(n.kind, n.name) for n in notes] == [("cancelled", "INV-1")]
        with pytest.raises(ValueError, match="only queued or running jobs can be cancelled"):
            await duesflow.cancel(site, wid, ADMIN, ADMIN_ROLES)
        # The ERP waiting for it hears duesflow's own error; submitting the document again gives its recorded verdict.
        with pytest.raises(JobCancelled, match="was cancelled: cancelled"):
            await duesflow.wait(wid)
        again = await duesflow.submit(b.invoice("INV-1", "C1", 15.0, member_name="M1"), site=site, user=TREASURER)
        assert again == verdict
        keep("sales-invoice-job-tracking-cancelled", await handle.fetch_history())
        # The invoice's reminder flow went with it.
        reminders = temporal_client.get_workflow_handle(f"{wid}:reminders")
        await eventually(reminders.describe, lambda d: d.status == WorkflowExecutionStatus.CANCELED, timeout=30)
        assert (await reminders.describe()).status == WorkflowExecutionStatus.CANCELED
        # Whether the flow opened its case before the cancel reached it depends on timing: either no case, or a
        # stopped one with nothing sent. Never an open case.
        view = await duesflow.reminders(site, "INV-1")
        assert view is None or (view.state == "stopped" and not view.sent), view
    finally:
        stop.set()
        await workflows
        if background is not None:
            await background


async def test_notifications_are_stored_published_once_and_marked_read(
    duesflow: DuesflowClient, redis_client: redis.Redis, settings: Settings, engine: Engine, site: str
) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(await duesflow.notification_channel(site, TREASURER))
    try:
        await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
        wid = await submit_and_wait(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"), TREASURER)
        deadline = time.monotonic() + 10
        message = None
        while message is None and time.monotonic() < deadline:
            message = await asyncio.to_thread(pubsub.get_message, timeout=0.5)
        assert message is not None, "no live notification published"
        live = json.loads(message["data"])
        assert (live["workflow_id"], live["kind"], live["name"]) == (wid, "completed", "INV-1")
        assert await asyncio.to_thread(pubsub.get_message, timeout=0.5) is None  # once
    finally:
        pubsub.close()

    unread = await duesflow.notifications(site, TREASURER)
    assert [(n.id, n.kind, n.message) for n in unread] == [
        (live["id"], "completed", "Sales Invoice INV-1: done (1 step)")
    ]
    assert await duesflow.notifications(site, SECRETARY) == []
    assert await duesflow.unread_count(site, TREASURER) == 1
    assert await duesflow.mark_notifications_read(site, SECRETARY, [unread[0].id]) == 0  # not theirs
    assert await duesflow.mark_notifications_read(site, TREASURER) == 1
    assert await duesflow.notifications(site, TREASURER) == []
    assert [n.read_at is not None for n in await duesflow.notifications(site, TREASURER, unread_only=False)] == [True]


async def test_cleanup_removes_old_notifications_only_for_admins(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
    for name in ("INV-1", "INV-2"):
        await submit_and_wait(duesflow, site, b.invoice(name, "C1", 15.0, member_name="M1"), TREASURER)
    with engine.begin() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.site == site, notifications.c.name == "INV-1")
            .values(created_at=func.now() - dt.timedelta(days=8))
        )
    with pytest.raises(NotAllowed):
        await duesflow.cleanup(site, TREASURER, days=7)
    for days in (0, 366):
        with pytest.raises(ValueError, match="days must be a whole number from 1 to 365"):
            await duesflow.cleanup(site, ADMIN, ADMIN_ROLES, days=days)
    assert await duesflow.cleanup(site, ADMIN, ADMIN_ROLES, days=7) == {"notifications": 1}
    assert [n.name for n in await duesflow.notifications(site, TREASURER, unread_only=False)] == ["INV-2"]
    assert await duesflow.cleanup(site, ADMIN, ADMIN_ROLES, days=7) == {"notifications": 0}


async def test_a_step_waiting_for_its_next_attempt_shows_retrying_and_cancel_stops_it(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    """A real PostgreSQL trigger fails the analytics insert; with retry intervals at a tenth of production's (a worker
    of the test's own) the next attempt is 6 s away, long enough to read the job while it waits, and to cancel it
    before that attempt."""
    own = own_queues(settings, "slower", retry_interval_scale=0.1)
    slower = DuesflowClient(temporal_client, own, engine, cache)
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(temporal_client, own, engine, cache, "all", stop))
    trigger = f"failing_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""CREATE FUNCTION {trigger}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.site = '{site}' THEN RAISE EXCEPTION 'simulated outage'; END IF;
                  RETURN NEW;
                END $$"""
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON payment_facts FOR EACH ROW EXECUTE FUNCTION {trigger}_fn()"
            )
        )
    try:
        await slower.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
        verdict = await slower.submit(b.payment("PAY-1", "C1", 25.0), site=site, user=TREASURER)
        assert verdict.status == "accepted" and verdict.workflow_id
        job = await eventually(
            lambda: slower.job(site, "PAY-1", TREASURER), lambda j: j.status == "Retrying", timeout=5
        )
        assert job.status == "Retrying"
        analytics = next(s for s in job.steps if s.name == "analytics")
        assert analytics.status == "retrying" and analytics.attempts == 1
        assert analytics.last_failure == "RaiseException (SQLSTATE P0001)"  # class and SQLSTATE, never row values
        assert job.last_error == "analytics failed: RaiseException (SQLSTATE P0001)"
        # The database's own text (it quotes row values) is not in Temporal at all, not even as the failure's cause.
        described = await temporal_client.get_workflow_handle(verdict.workflow_id).describe()
        [pending] = [a for a in described.raw_description.pending_activities if a.activity_id == "analytics"]
        assert not pending.last_failure.HasField("cause") and "outage" not in str(pending.last_failure)
        await slower.cancel(site, "PAY-1", ADMIN, ADMIN_ROLES)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER {trigger} ON payment_facts"))
            conn.execute(text(f"DROP FUNCTION {trigger}_fn()"))
    handle = temporal_client.get_workflow_handle(verdict.workflow_id)
    await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.CANCELED)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert count(engine, payment_facts, payment_facts.c.site == site) == 0
    done = await slower.job(site, "PAY-1", TREASURER)
    assert done.status == "Cancelled"
    assert {s.name: s.status for s in done.steps}["analytics"] == "cancelled"
    stop.set()
    await worker
