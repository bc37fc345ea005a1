"""Submissions end to end on the real dev server, PostgreSQL and Redis: verdicts, rejections, idempotency,
concurrency, pending verdicts and failed steps."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from config.settings import Settings
from domain.history import project_history
from ledger.history import history_facts, read_history
from ledger.schema import audit_records, mandate_usages, payment_allocations, payment_facts, payments
from starter.client import DuesflowClient
from tests import builders as b
from tests.polling import eventually

USER = "treasurer@example.nl"
pytestmark = pytest.mark.usefixtures("workers")


async def given_member(duesflow: DuesflowClient, site: str, *, mandate: dict[str, Any] | None = None) -> None:
    docs = [b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit" if mandate else "Bank Transfer")]
    await duesflow.load_reference_data([*docs, *([mandate] if mandate else [])], site=site)


async def accepted(duesflow: DuesflowClient, site: str, doc: dict[str, Any]) -> Any:
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert verdict.status == "accepted", verdict.errors
    return await duesflow.wait(verdict.workflow_id)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def test_business_rule_rejection_is_audited_and_writes_no_document(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    await given_member(duesflow, site)
    doc = b.payment("PAY-1", "Nobody", 10.0)
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert verdict.status == "rejected"
    assert [(e.field, e.code) for e in verdict.errors] == [("party", "unknown_customer")]
    assert verdict.workflow_id == f"{site}:Payment Entry:PAY-1"
    result = await duesflow.wait(verdict.workflow_id)
    assert result.steps == []
    assert count(engine, payments, payments.c.site == site) == 0
    trail = await duesflow.audit_trail(site, "Payment Entry", "PAY-1")
    assert [(e.event, e.actor, e.severity) for e in trail] == [("rejected", USER, "warning")]
    assert trail[0].details["verdict"]["errors"][0]["code"] == "unknown_customer"


async def test_over_allocation_names_the_reference_field(duesflow: DuesflowClient, site: str) -> None:
    await given_member(duesflow, site)
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0))
    verdict = await duesflow.submit(b.payment("PAY-1", "C1", 15.01, [("INV-1", 15.01)]), site=site, user=USER)
    assert verdict.status == "rejected"
    assert [(e.field, e.code) for e in verdict.errors] == [("references.0.allocated_amount", "exceeds_outstanding")]


async def test_contract_error_starts_nothing_and_writes_nothing(
    duesflow: DuesflowClient, temporal_client: Client, engine: Engine, site: str
) -> None:
    doc = b.payment("PAY-BAD", "C1", 10.0)
    doc["paid_amount"] = "ten euros"
    doc["posting_date"] = "2025-13-45"
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert verdict.status == "rejected" and verdict.workflow_id is None
    assert {e.field for e in verdict.errors} == {"paid_amount", "posting_date"}
    with pytest.raises(RPCError):
        await temporal_client.get_workflow_handle(f"{site}:Payment Entry:PAY-BAD").describe()
    assert count(engine, audit_records, audit_records.c.site == site) == 0


async def test_foreign_currency_is_rejected_with_the_field(duesflow: DuesflowClient, site: str) -> None:
    doc = b.invoice("INV-USD", "C1", 15.0, currency="USD")
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert [(e.field, e.code) for e in verdict.errors] == [("currency", "unsupported_currency")]


async def test_resubmitting_returns_the_same_verdict_and_starts_nothing(
    duesflow: DuesflowClient, temporal_client: Client, engine: Engine, site: str
) -> None:
    await given_member(duesflow, site)
    doc = b.invoice("INV-1", "C1", 15.0)
    first = await duesflow.submit(doc, site=site, user=USER)
    await duesflow.wait(first.workflow_id)
    again = await duesflow.submit(doc, site=site, user=USER)  # the workflow is closed by now
    assert again == first
    runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{first.workflow_id}'")]
    assert len(runs) == 1
    assert count(engine, audit_records, audit_records.c.site == site, audit_records.c.event == "submitted") == 1


async def test_same_document_twenty_times_at_once_has_one_set_of_effects(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    await given_member(duesflow, site, mandate=b.mandate("MD-1", "M1"))
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    doc = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    verdicts = await asyncio.gather(*(duesflow.submit(doc, site=site, user=USER) for _ in range(20)))
    assert {v.status for v in verdicts} == {"accepted"}
    assert len({v.model_dump_json() for v in verdicts}) == 1
    result = await duesflow.wait(verdicts[0].workflow_id)
    assert all(s.status == "done" for s in result.steps)
    assert count(engine, payments, payments.c.site == site) == 1
    assert count(engine, payment_allocations, payment_allocations.c.site == site) == 1
    assert count(engine, mandate_usages, mandate_usages.c.site == site) == 1
    assert count(engine, payment_facts, payment_facts.c.site == site) == 1
    assert count(engine, audit_records, audit_records.c.site == site, audit_records.c.name == "PAY-1") == 4
    mandate = await duesflow.mandate(site, "MD-1")
    assert mandate is not None and mandate.sequence_state == "RCUR"


async def test_thirty_identical_submissions_at_once_share_one_run_and_one_verdict_update(
    duesflow: DuesflowClient, temporal_client: Client, site: str
) -> None:
    """An ERP hook fired twice, or several web workers submitting the same document at once: every copy attaches to
    the one workflow run and to its one verdict update, so all get the same verdict and none is refused (the server
    takes at most 10 updates in flight per workflow; refused ones were retried only after the SDK's backoff)."""
    await given_member(duesflow, site)
    doc = b.invoice("INV-1", "C1", 15.0, member_name="M1")
    verdicts = await asyncio.gather(*(duesflow.submit(doc, site=site, user=USER) for _ in range(30)))
    assert {v.status for v in verdicts} == {"accepted"}
    assert len({v.model_dump_json() for v in verdicts}) == 1
    wid = verdicts[0].workflow_id
    assert wid == f"{site}:Sales Invoice:INV-1"
    await duesflow.wait(wid)
    runs = await eventually(
        lambda: temporal_client.count_workflows(f"WorkflowId = '{wid}'"), lambda c: c.count >= 1, timeout=10
    )
    assert runs.count == 1
    events = [e async for e in temporal_client.get_workflow_handle(wid).fetch_history_events()]
    updates = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert len(updates) == 1


async def test_twenty_payments_for_one_member_at_once_leave_history_equal_to_a_rebuild(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    await given_member(duesflow, site)
    for i in range(20):
        await duesflow.submit(
            b.invoice(f"INV-{i:02}", "C1", 45.0, posting_date=f"2025-03-{i + 1:02}"), site=site, user=USER
        )
    # Each payment pays 30 of its invoice and 15 of the next one: neighbours race on shared invoices and member.
    docs = [
        b.payment(f"PAY-{i:02}", "C1", 45.0, [(f"INV-{i:02}", 30.0), (f"INV-{(i + 1) % 20:02}", 15.0)])
        for i in range(20)
    ]
    verdicts = await asyncio.gather(*(duesflow.submit(d, site=site, user=USER) for d in docs))
    accepted_ids = [v.workflow_id for v in verdicts if v.status == "accepted"]
    assert len(accepted_ids) == 20, [
        (v.workflow_id, [e.message for e in v.errors]) for v in verdicts if v.status != "accepted"
    ]
    await asyncio.gather(*(duesflow.wait(w) for w in accepted_ids))
    with engine.connect() as conn:
        stored = read_history(conn, site, "M1")
        rebuilt = project_history(*history_facts(conn, site, "C1"), today=dt.date.today())
    assert stored == rebuilt
    assert [r.outstanding_amount for r in stored] == [Decimal("0.00")] * 20
    assert {r.payment_status for r in stored} == {"Paid"}


async def test_concurrent_payments_cannot_take_the_same_outstanding_twice(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    await given_member(duesflow, site)
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0))
    docs = [b.payment(f"PAY-{i}", "C1", 15.0, [("INV-1", 15.0)]) for i in range(10)]
    verdicts = await asyncio.gather(*(duesflow.submit(d, site=site, user=USER) for d in docs))
    assert sorted(v.status for v in verdicts) == ["accepted"] + ["rejected"] * 9
    rejected = [v for v in verdicts if v.status == "rejected"]
    assert {e.code for v in rejected for e in v.errors} == {"exceeds_outstanding"}


@pytest.mark.parametrize("timeout", [1.0, 0.001], ids=["timeout-1s", "timeout-before-start"])
async def test_no_worker_gives_a_pending_verdict_with_the_workflow_id(
    temporal_client: Client, settings: Settings, engine: Engine, cache: Any, site: str, timeout: float
) -> None:
    """Even when the time runs out before the start itself, "pending" means the workflow exists."""
    orphan = settings.model_copy(update={"task_queue": f"nobody-listens-{uuid.uuid4().hex[:6]}"})
    client = DuesflowClient(temporal_client, orphan, engine, cache)
    verdict = await client.submit(b.invoice("INV-1", "C1", 15.0), site=site, user=USER, timeout=timeout)
    assert verdict.status == "pending"
    assert verdict.workflow_id == f"{site}:Sales Invoice:INV-1"
    handle = temporal_client.get_workflow_handle(verdict.workflow_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # durably waiting for a worker
    await handle.terminate("test cleanup")


async def test_business_failure_in_a_step_is_audited_and_other_steps_still_run(
    duesflow: DuesflowClient, site: str
) -> None:
    # Step 1 only needs an active mandate; the SEPA step also enforces the mandate's maximum amount.
    await given_member(duesflow, site, mandate=b.mandate("MD-1", "M1", maximum_amount=10.0))
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    result = await accepted(duesflow, site, b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit"))
    steps = {s.name: s for s in result.steps}
    assert steps["sepa"].status == "failed"
    assert steps["sepa"].attempts == 1  # non-retryable: not retried
    assert "exceeds the mandate maximum" in (steps["sepa"].last_error or "")
    assert steps["history:M1"].status == "done" and steps["analytics"].status == "done"
    trail = await duesflow.audit_trail(site, "Payment Entry", "PAY-1")
    failed = [e for e in trail if e.event == "step_failed"]
    assert [(e.step, e.outcome, e.severity) for e in failed] == [("sepa", "BusinessRuleViolation", "error")]
    progress = await duesflow.progress(result.verdict.workflow_id)
    assert [s.status for s in progress.steps] == ["failed", "done", "done"]


@contextlib.contextmanager
def failing_writes(engine: Engine, table: str, site: str, times: int) -> Iterator[None]:
    """A real PostgreSQL trigger fails the first ``times`` writes of ``site``'s rows to ``table``, as an outage
    would (a sequence is not rolled back with the failed transaction, so it counts the attempts)."""
    seq = f"flaky_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SEQUENCE {seq}"))
        conn.execute(
            text(
                f"""CREATE FUNCTION {seq}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.site = '{site}' AND nextval('{seq}') <= {times} THEN
                    RAISE EXCEPTION 'simulated outage';
                  END IF;
                  RETURN NEW;
                END $$"""
            )
        )
        conn.execute(
            text(f"CREATE TRIGGER {seq} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {seq}_fn()")
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER {seq} ON {table}"))
            conn.execute(text(f"DROP FUNCTION {seq}_fn()"))
            conn.execute(text(f"DROP SEQUENCE {seq}"))


async def test_transient_failures_are_retried_and_the_effect_lands_once(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    """The analytics insert fails twice; its third attempt succeeds and the fact exists exactly once."""
    with failing_writes(engine, "payment_facts", site, times=2):
        await given_member(duesflow, site)
        result = await accepted(duesflow, site, b.payment("PAY-1", "C1", 25.0))
    analytics = next(s for s in result.steps if s.name == "analytics")
    assert (analytics.status, analytics.attempts) == ("done", 3)
    assert count(engine, payment_facts, payment_facts.c.site == site) == 1
    trail = await duesflow.audit_trail(site, "Payment Entry", "PAY-1")
    assert [e.details["attempt"] for e in trail if e.step == "analytics"] == [3]


async def test_an_outage_longer_than_a_few_attempts_is_outlasted_not_reported_failed(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    """Five failed attempts of a history rebuild in a row (the NORMAL level used to give up after two, and its
    submitter was told "failed" though nothing was wrong with the document): the step waits the outage out."""
    await given_member(duesflow, site)
    with failing_writes(engine, "member_history", site, times=5):
        result = await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    history = next(s for s in result.steps if s.name == "history:M1")
    assert (history.status, history.attempts) == ("done", 6)
    assert [s.status for s in result.steps] == ["done"] * len(result.steps)


async def test_a_payment_ahead_of_its_invoice_waits_for_it_instead_of_being_rejected(
    duesflow: DuesflowClient, engine: Engine, site: str
) -> None:
    """In ERPNext a payment can only reference a submitted invoice, so an invoice duesflow does not know yet means
    duesflow is behind (the invoice's step 1 waiting out a database outage, say). The payment's verdict stays
    pending, nothing is written, and it is accepted once the invoice arrives: no resubmission needed."""
    await given_member(duesflow, site)
    early = await duesflow.submit(b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)]), site=site, user=USER, timeout=1)
    assert (early.status, early.workflow_id) == ("pending", f"{site}:Payment Entry:PAY-1")
    assert count(engine, payments, payments.c.site == site) == 0
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    result = await duesflow.wait(early.workflow_id)
    assert result.verdict.status == "accepted"
    assert [s.status for s in result.steps] == ["done"] * len(result.steps)
    again = await duesflow.submit(b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)]), site=site, user=USER)
    assert again.status == "accepted"
    assert count(engine, payment_allocations, payment_allocations.c.site == site) == 1
    trail = await duesflow.audit_trail(site, "Payment Entry", "PAY-1")
    assert [e.event for e in trail if e.step == "validate"] == ["submitted"]  # no rejection recorded meanwhile


async def test_a_payment_for_an_invoice_duesflow_rejected_is_rejected_at_once(
    duesflow: DuesflowClient, site: str
) -> None:
    """That invoice will never come: nothing to wait for."""
    await given_member(duesflow, site)
    invoice = await duesflow.submit(b.invoice("INV-X", "C-UNKNOWN", 15.0), site=site, user=USER)
    assert invoice.status == "rejected"
    verdict = await duesflow.submit(b.payment("PAY-X", "C1", 15.0, [("INV-X", 15.0)]), site=site, user=USER)
    assert (verdict.status, [e.code for e in verdict.errors]) == ("rejected", ["unknown_invoice"])


async def test_cancelling_a_payment_undoes_its_effects(duesflow: DuesflowClient, engine: Engine, site: str) -> None:
    await given_member(duesflow, site, mandate=b.mandate("MD-1", "M1"))
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    doc = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    await accepted(duesflow, site, doc)
    assert [r.payment_status for r in await duesflow.member_history(site, "M1")] == ["Paid"]

    cancel = await duesflow.submit({**doc, "docstatus": 2}, site=site, user=USER)
    assert cancel.status == "accepted" and cancel.workflow_id == f"{site}:Payment Entry:PAY-1:cancel"
    result = await duesflow.wait(cancel.workflow_id)
    assert {s.name: s.detail for s in result.steps} == {
        "sepa": "1 usages cancelled",
        "history:M1": "1 rows",
        "analytics": "fact reversed",
    }
    history = await duesflow.member_history(site, "M1")  # the cache was invalidated by the rebuild
    assert [(r.payment_status, r.paid_amount, r.payment_entry) for r in history] == [("Overdue", 0, None)]
    assert count(engine, payment_facts, payment_facts.c.site == site) == 0
    mandate = await duesflow.mandate(site, "MD-1")
    assert mandate is not None and [u.status for u in mandate.usages] == ["Cancelled"]
    events = [e.event for e in await duesflow.audit_trail(site, "Payment Entry", "PAY-1")]
    assert events.count("submitted") == 1 and events.count("cancelled") == 1
    # Cancelling again is the same cancellation: same verdict, nothing new.
    assert await duesflow.submit({**doc, "docstatus": 2}, site=site, user=USER) == cancel


async def test_cancelling_an_unknown_document_is_rejected(duesflow: DuesflowClient, site: str) -> None:
    verdict = await duesflow.submit({**b.invoice("INV-X", "C1", 15.0), "docstatus": 2}, site=site, user=USER)
    assert verdict.status == "rejected"
    assert [(e.field, e.code) for e in verdict.errors] == [("name", "unknown_document")]


async def test_a_draft_is_rejected_before_anything_starts(duesflow: DuesflowClient, site: str) -> None:
    verdict = await duesflow.submit({**b.invoice("INV-D", "C1", 15.0), "docstatus": 0}, site=site, user=USER)
    assert verdict.status == "rejected" and verdict.workflow_id is None
    assert [(e.field, e.code) for e in verdict.errors] == [("docstatus", "not_submitted")]


async def test_search_attributes_find_the_document_and_its_state(
    duesflow: DuesflowClient, temporal_client: Client, site: str
) -> None:
    from workflows import search_attributes as sa

    await given_member(duesflow, site)
    ok = await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0))
    bad = await duesflow.submit(b.payment("PAY-1", "Nobody", 10.0), site=site, user=USER)
    await duesflow.wait(bad.workflow_id)
    for wid, state in ((ok.verdict.workflow_id, "completed"), (bad.workflow_id, "rejected")):
        desc = await temporal_client.get_workflow_handle(wid).describe()
        attrs = desc.typed_search_attributes
        assert (attrs.get(sa.SITE), attrs.get(sa.STATE)) == (site, state)
    desc = await temporal_client.get_workflow_handle(ok.verdict.workflow_id).describe()
    assert (desc.typed_search_attributes.get(sa.DOCTYPE), desc.typed_search_attributes.get(sa.DOCUMENT)) == (
        "Sales Invoice",
        "INV-1",
    )
    assert await desc.static_summary() == "Sales Invoice INV-1 · €15.00 · due 2025-03-31"


async def test_a_sepa_return_marks_the_usage_returned_and_reopens_the_invoice(
    duesflow: DuesflowClient, site: str
) -> None:
    await given_member(duesflow, site, mandate=b.mandate("MD-1", "M1"))
    await accepted(duesflow, site, b.invoice("INV-1", "C1", 15.0, member_name="M1"))
    await accepted(duesflow, site, b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit"))
    bounce = b.payment(
        "PAY-RET-1",
        "C1",
        15.0,
        [("INV-1", 15.0)],
        mode="SEPA Direct Debit Return",
        payment_type="Pay",
        custom_return_reason="AM04",
        posting_date="2025-04-09",
    )
    result = await accepted(duesflow, site, bounce)
    assert {s.name: s.status for s in result.steps} == {"sepa": "done", "history:M1": "done", "analytics": "done"}
    mandate = await duesflow.mandate(site, "MD-1")
    assert mandate is not None
    assert (mandate.usages[0].status, mandate.usages[0].return_reason) == ("Returned", "AM04")
    row = (await duesflow.member_history(site, "M1"))[0]
    assert (row.paid_amount, row.outstanding_amount, row.payment_status) == (0, 15, "Overdue")
    assert (await duesflow.member_summary(site, "M1")).total_paid == 0
    totals = await duesflow.daily_totals(site, dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    assert {(t.mode_of_payment, str(t.total)) for t in totals} == {
        ("SEPA Direct Debit", "15.00"),
        ("SEPA Direct Debit Return", "-15.00"),
    }
