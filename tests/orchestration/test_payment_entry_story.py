"""PaymentEntryWorkflow's story with stub activities: the verdict first, the SEPA mandate before the histories and
analytics, failures audited and reported, backfills quiet unless something failed, cancellation audited."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from domain.errors import BUSINESS_ERROR
from domain.messages import Cancellation, Progress, StepFailure
from domain.priorities import Level
from tests import builders as b
from tests.orchestration.stubs import USER, Harness, Submission, accepted, rejected
from tests.polling import eventually
from workflows import search_attributes as sa
from workflows.payment_entry import PaymentEntryWorkflow


def sepa_payment(name: str = "PAY-1") -> dict[str, object]:
    return b.payment(name, "C1", 30.0, [("INV-1", 30.0)], mode="SEPA Direct Debit")


def statuses(steps: list) -> list[tuple[str, str]]:
    return [(s.name, s.status) for s in steps]


async def test_sepa_payment_updates_the_mandate_before_histories_and_analytics(harness: Harness, site: str) -> None:
    sub = await harness.submit(sepa_payment(), site=site, verdict=accepted("M1", "M2"))

    # Step 1's verdict answers the verdict update.
    assert sub.verdict == accepted("M1", "M2").model_copy(update={"workflow_id": sub.handle.id})
    result = await sub.result()

    # The histories and analytics start only once the SEPA step has finished.
    sepa = sub.stubs.step("sepa")
    after = [sub.stubs.step(name) for name in ("history:M1", "history:M2", "analytics")]
    assert sepa.ended is not None
    assert all(sepa.ended < c.started for c in after), sub.stubs.timeline()
    assert [c.activity for c in [sepa, *after]] == [
        "update_mandate",
        "rebuild_member_history",
        "rebuild_member_history",
        "record_payment_facts",
    ]
    assert statuses(result.steps) == [
        ("sepa", "done"),
        ("history:M1", "done"),
        ("history:M2", "done"),
        ("analytics", "done"),
    ]
    assert result.verdict.accepted
    assert sub.stubs.notified == ["completed"]
    assert sub.stubs.called("record_step_failure", "record_cancellation") == []


async def test_rejected_payment_runs_no_step_and_tells_the_submitter(harness: Harness, site: str) -> None:
    verdict = rejected("party", "unknown_customer", "customer C1 is not known")
    sub = await harness.submit(sepa_payment(), site=site, verdict=verdict)

    assert sub.verdict.status == "rejected" and sub.verdict.errors == verdict.errors
    result = await sub.result()

    assert result.verdict == sub.verdict
    assert result.steps == []
    assert [c.activity for c in sub.stubs.called()] == ["validate_and_record", "notify"]
    assert sub.stubs.notified == ["rejected"]
    attrs = (await sub.handle.describe()).typed_search_attributes
    assert attrs.get(sa.STATE) == "rejected"


async def test_failed_step_is_audited_and_reported_while_the_others_run(harness: Harness, site: str) -> None:
    sub = await harness.submit(
        sepa_payment(), site=site, verdict=accepted("M1", "M2"), failing={"history:M1": "member M1 is not known"}
    )
    result = await sub.result()

    assert statuses(result.steps) == [
        ("sepa", "done"),
        ("history:M1", "failed"),
        ("history:M2", "done"),
        ("analytics", "done"),
    ]
    assert result.steps[1].last_error == "member M1 is not known"
    # A business-rule violation: one attempt, no retry; the other member's history still ran.
    assert (sub.stubs.step("history:M1").outcome, sub.stubs.step("history:M2").outcome) == ("failed", "done")
    failures = sub.stubs.called("record_step_failure")
    assert [c.activity_id for c in failures] == ["audit-failure:history:M1"]
    failure = failures[0].arg
    assert isinstance(failure, StepFailure)
    assert (failure.step, failure.error_type, failure.message, failure.attempts) == (
        "history:M1",
        BUSINESS_ERROR,
        "member M1 is not known",
        1,
    )
    assert sub.stubs.notified == ["failed"]
    attrs = (await sub.handle.describe()).typed_search_attributes
    assert (attrs.get(sa.STATE), attrs.get(sa.FAILED_STEPS)) == ("completed_with_failures", ["history:M1"])


async def test_backfill_that_succeeds_notifies_nobody(harness: Harness, site: str) -> None:
    sub = await harness.submit(sepa_payment(), site=site, bulk=True, verdict=accepted("M1"))
    result = await sub.result()

    assert statuses(result.steps) == [("sepa", "done"), ("history:M1", "done"), ("analytics", "done")]
    assert sub.stubs.called("notify") == []
    # Every step of a backfill waits behind live work.
    assert {c.activity_id: c.priority for c in sub.stubs.called() if c.activity != "validate_and_record"} == {
        "sepa": Level.BULK,
        "history:M1": Level.BULK,
        "analytics": Level.BULK,
    }


async def test_backfill_with_a_failed_step_notifies_its_submitter(harness: Harness, site: str) -> None:
    sub = await harness.submit(
        sepa_payment(), site=site, bulk=True, verdict=accepted("M1"), failing={"analytics": "no fact to write"}
    )
    result = await sub.result()

    assert statuses(result.steps) == [("sepa", "done"), ("history:M1", "done"), ("analytics", "failed")]
    assert [f.step for f in sub.stubs.args("record_step_failure")] == ["analytics"]
    assert sub.stubs.notified == ["failed"]


async def test_cancelled_payment_audits_steps_done_and_stopped(harness: Harness, site: str) -> None:
    sub = await harness.submit(sepa_payment(), site=site, verdict=accepted("M1"), blocking={"history:M1"})
    # The verdict does not wait for the background: it answered while the history step is still to block.
    assert sub.verdict.accepted

    async with asyncio.timeout(5):
        await sub.stubs.blocked.wait()
    progress = await eventually(lambda: query_progress(sub), lambda p: statuses(p.steps)[-1] == ("analytics", "done"))
    assert statuses(progress.steps) == [("sepa", "done"), ("history:M1", "running"), ("analytics", "done")]

    await sub.handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await sub.result()

    assert isinstance(ended.value.cause, CancelledError)
    assert (await sub.handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert sub.stubs.args("record_cancellation") == [
        Cancellation(
            site=site,
            actor=USER,
            doctype="Payment Entry",
            name="PAY-1",
            steps_done=["sepa", "analytics"],
            steps_stopped=["history:M1"],
        )
    ]
    assert sub.stubs.notified == ["cancelled"]
    assert sub.stubs.called("record_step_failure") == []
    # The step itself was stopped, not left running.
    stopped = await eventually(lambda: outcome_of(sub, "history:M1"), lambda o: o != "running", timeout=5)
    assert stopped == "cancelled"


async def query_progress(sub: Submission) -> Progress:
    return await sub.handle.query(PaymentEntryWorkflow.progress)


async def outcome_of(sub: Submission, step: str) -> str:
    return sub.stubs.step(step).outcome
