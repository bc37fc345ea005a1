"""SEPA returns on the real PostgreSQL: the return marks the collection it answers, decides the retry, and the
ERP's next collection fulfils it. Every step runs twice, as a retry would, without a second effect."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select
from temporalio.testing import ActivityEnvironment

from activities.sepa import SepaActivities
from domain.messages import StepInput
from ledger.schema import audit_records, collection_retries
from starter.reads import LedgerReads
from starter.reference_data import load_reference_data
from tests import builders as b
from tests.integration.test_activities import record

USER = "treasurer@example.nl"


def sepa_step(engine: Engine, site: str, payment: str) -> Any:
    """The SEPA step of ``payment``, run twice (the second as a retry)."""
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name=payment)
    results = []
    for attempt in (1, 2):
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, workflow_id=f"{site}:Payment Entry:{payment}", attempt=attempt)
        results.append(env.run(SepaActivities(engine).update_mandate, inp))
    return results[0]


def collect(engine: Engine, site: str, name: str, amount: float, day: str, invoice: str = "INV-1") -> None:
    doc = b.payment(name, "C1", amount, [(invoice, amount)], mode="SEPA Direct Debit", posting_date=day)
    assert record(engine, site, doc).accepted
    sepa_step(engine, site, name)


def bounce(engine: Engine, site: str, name: str, amount: float, day: str, code: str = "AM04") -> None:
    doc = b.payment(
        name,
        "C1",
        amount,
        [("INV-1", amount)],
        mode="SEPA Direct Debit Return",
        payment_type="Pay",
        custom_return_reason=code,
        posting_date=day,
    )
    assert record(engine, site, doc).accepted
    sepa_step(engine, site, name)


@pytest.fixture
def reads(engine: Engine, site: str, cache: Any) -> LedgerReads:
    load_reference_data(
        engine,
        [b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit"), b.mandate("MD-1", "M1")],
        site=site,
        currency="EUR",
        today=dt.date.today(),
    )
    assert record(engine, site, b.invoice("INV-1", "C1", 30.0, member_name="M1")).accepted
    return LedgerReads(engine, cache)


def decisions(engine: Engine, site: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                collection_retries.c.return_payment,
                collection_retries.c.decision,
                collection_retries.c.attempt,
                collection_retries.c.due_date,
                collection_retries.c.status,
            )
            .where(collection_retries.c.site == site)
            .order_by(collection_retries.c.decided_at, collection_retries.c.return_payment)
        ).all()
    return [tuple(r) for r in rows]


def test_transient_returns_schedule_three_retries_then_escalate(engine: Engine, site: str, reads: LedgerReads) -> None:
    collect(engine, site, "PAY-1", 30.0, "2026-11-02")
    bounce(engine, site, "RET-1", 30.0, "2026-11-05")  # Thursday + 3 = Sunday → Monday 9th
    assert reads.due_collection_retries(site, dt.date(2026, 11, 8)) == []
    [due] = reads.due_collection_retries(site, dt.date(2026, 11, 9))
    assert (due["invoice"], due["mandate_id"], due["attempt"], due["due_date"], due["outstanding"]) == (
        "INV-1",
        "MD-1",
        1,
        dt.date(2026, 11, 9),
        30,
    )
    # The ERP presents the retry: it is no longer due. It bounces again: retry 2, seven days later.
    collect(engine, site, "PAY-2", 30.0, "2026-11-09")
    assert reads.due_collection_retries(site, dt.date(2026, 11, 30)) == []
    bounce(engine, site, "RET-2", 30.0, "2026-11-12")
    collect(engine, site, "PAY-3", 30.0, "2026-11-19")
    bounce(engine, site, "RET-3", 30.0, "2026-11-20")
    collect(engine, site, "PAY-4", 30.0, "2026-12-04")
    bounce(engine, site, "RET-4", 30.0, "2026-12-08")
    assert decisions(engine, site) == [
        ("RET-1", "retry", 1, dt.date(2026, 11, 9), "collected"),
        ("RET-2", "retry", 2, dt.date(2026, 11, 19), "collected"),
        ("RET-3", "retry", 3, dt.date(2026, 12, 4), "collected"),  # Friday + 14
        ("RET-4", "escalate", None, None, "open"),
    ]
    [attention] = reads.returns_needing_attention(site)
    assert (attention["return_payment"], attention["decision"]) == ("RET-4", "escalate")
    # Each return marked exactly the collection it answered.
    usages = {u["payment_entry"]: (u["status"], u["returned_by"]) for u in reads.mandate(site, "MD-1")["usages"]}
    assert usages == {f"PAY-{n}": ("Returned", f"RET-{n}") for n in (1, 2, 3, 4)}
    with engine.connect() as conn:
        audited = conn.execute(
            select(audit_records.c.name, audit_records.c.outcome, audit_records.c.severity).where(
                audit_records.c.site == site, audit_records.c.event == "sepa_return_decision"
            )
        ).all()
    assert sorted(tuple(a) for a in audited) == [
        ("RET-1", "retry", "info"),
        ("RET-2", "retry", "info"),
        ("RET-3", "retry", "info"),
        ("RET-4", "escalate", "warning"),
    ]


@pytest.mark.parametrize(("code", "decision"), [("AC04", "stop"), ("MD07", "stop"), ("MD06", "manual")])
def test_final_and_refund_codes_schedule_nothing(
    engine: Engine, site: str, reads: LedgerReads, code: str, decision: str
) -> None:
    collect(engine, site, "PAY-1", 30.0, "2026-11-02")
    bounce(engine, site, "RET-1", 30.0, "2026-11-05", code=code)
    assert decisions(engine, site) == [("RET-1", decision, None, None, "open")]
    assert reads.due_collection_retries(site, dt.date(2027, 1, 1)) == []
    assert [a["reason_code"] for a in reads.returns_needing_attention(site)] == [code]


def test_a_return_marks_the_part_collection_of_its_amount(engine: Engine, site: str, reads: LedgerReads) -> None:
    collect(engine, site, "PAY-1", 10.0, "2026-11-02")
    collect(engine, site, "PAY-2", 20.0, "2026-11-03")
    bounce(engine, site, "RET-1", 10.0, "2026-11-05")
    usages = {u["payment_entry"]: u["status"] for u in reads.mandate(site, "MD-1")["usages"]}
    assert usages == {"PAY-1": "Returned", "PAY-2": "Collected"}


def test_cancelling_a_return_restores_the_collection_and_withdraws_the_retry(
    engine: Engine, site: str, reads: LedgerReads
) -> None:
    collect(engine, site, "PAY-1", 30.0, "2026-11-02")
    bounce(engine, site, "RET-1", 30.0, "2026-11-05")
    cancelled = b.payment(
        "RET-1",
        "C1",
        30.0,
        [("INV-1", 30.0)],
        mode="SEPA Direct Debit Return",
        payment_type="Pay",
        custom_return_reason="AM04",
        posting_date="2026-11-05",
        docstatus=2,
    )
    assert record(engine, site, cancelled).accepted
    sepa_step(engine, site, "RET-1")
    [usage] = reads.mandate(site, "MD-1")["usages"]
    assert (usage["status"], usage["return_reason"], usage["returned_by"]) == ("Collected", None, None)
    assert decisions(engine, site) == [("RET-1", "retry", 1, dt.date(2026, 11, 9), "cancelled")]
    assert reads.due_collection_retries(site, dt.date(2026, 12, 1)) == []
