"""The ERPNext fixtures pass through both pipelines on a real dev server, PostgreSQL and Redis, with the outcomes
their README describes (judged by the rules of docs/business-rules.md)."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.worker import Replayer

from starter.client import DuesflowClient
from tests.conftest import load_fixture
from worker import WORKFLOWS

USER = "penningmeester@groenevereniging.nl"
INVOICES = [
    "sales_invoice_ACC-SINV-2025-00102.json",
    "sales_invoice_ACC-SINV-RET-2025-00003.json",
    "sales_invoice_ACC-SINV-2025-00101.json",
    "sales_invoice_ACC-SINV-2025-00103.json",
    "sales_invoice_ACC-SINV-2025-00104.json",
    "sales_invoice_ACC-SINV-2025-00105.json",
]
PAYMENTS = [
    "payment_entry_ACC-PAY-2025-00203.json",
    "payment_entry_ACC-PAY-2025-00202.json",
    "payment_entry_ACC-PAY-2025-00204.json",
    "payment_entry_ACC-PAY-2025-00201.json",
]


async def submit_all(duesflow: DuesflowClient, site: str, files: list[str]) -> dict[str, Any]:
    results = {}
    for file in files:
        doc = load_fixture(file)
        verdict = await duesflow.submit(doc, site=site, user=USER)
        assert verdict.status == "accepted", (file, verdict.errors)
        results[doc["name"]] = await duesflow.wait(verdict.workflow_id)
    return results


def row(history: list[Any], invoice: str) -> Any:
    return next(r for r in history if r.invoice == invoice)


async def test_fixtures_through_both_pipelines(
    duesflow: DuesflowClient, workers: Any, site: str, reference_docs
) -> None:
    report = await duesflow.load_reference_data(reference_docs, site=site)
    assert (report.customers, report.members, report.mandates) == (4, 5, 3)

    invoice_results = await submit_all(duesflow, site, INVOICES)
    payment_results = await submit_all(duesflow, site, PAYMENTS)
    for result in [*invoice_results.values(), *payment_results.values()]:
        assert all(s.status == "done" for s in result.steps), result.steps

    # The Jansen family invoice rebuilt both members' histories.
    assert {s.name for s in invoice_results["ACC-SINV-2025-00104"].steps} == {
        "history:Assoc-Member-2024-11-0004",
        "history:Assoc-Member-2024-11-0005",
    }

    # Full SEPA Direct Debit for January: usage Collected, mandate FRST → RCUR.
    assert [s.name for s in payment_results["ACC-PAY-2025-00201"].steps] == [
        "sepa",
        "history:Assoc-Member-2024-11-0001",
        "analytics",
    ]
    mandate = await duesflow.mandate(site, "MANDATE-24-11-0001")
    assert mandate["sequence_state"] == "RCUR"
    assert mandate["last_collection_date"] == dt.date(2025, 4, 2)
    assert [
        (u["invoice"], u["payment_entry"], u["status"], u["sequence_type"], u["amount"]) for u in mandate["usages"]
    ] == [("ACC-SINV-2025-00101", "ACC-PAY-2025-00201", "Collected", "FRST", Decimal("15.00"))]
    jan = await duesflow.member_history(site, "Assoc-Member-2024-11-0001")
    paid = row(jan, "ACC-SINV-2025-00101")
    assert (paid.payment_status, paid.outstanding_amount, paid.payment_entry) == ("Paid", 0, "ACC-PAY-2025-00201")
    assert (paid.has_mandate, paid.mandate_reference) == (True, "MANDATE-24-11-0001")
    # The April invoice is unpaid and past its due date; no mandate stamped on a row nobody collected.
    april = row(jan, "ACC-SINV-2025-00105")
    assert (april.payment_status, april.has_mandate, april.mandate_reference) == ("Overdue", False, None)

    # Partial bank transfer from the Jansen family: both members' histories change the same way.
    for member in ("Assoc-Member-2024-11-0004", "Assoc-Member-2024-11-0005"):
        family = row(await duesflow.member_history(site, member), "ACC-SINV-2025-00104")
        assert (family.paid_amount, family.outstanding_amount) == (Decimal("20.00"), Decimal("25.00"))
        assert family.payment_entry == "ACC-PAY-2025-00202" and family.payment_method == "Bank Transfer"
        assert family.has_mandate is False  # paid by bank transfer, though Sophie has a mandate
        assert family.payment_status == "Overdue"  # due 2025-03-31 with 25.00 open: Overdue wins over Partially Paid

    # Pieter's unallocated transfer is an Unreconciled Payment row; his €9 invoice stays open.
    pieter = await duesflow.member_history(site, "Assoc-Member-2024-11-0003")
    unreconciled = [r for r in pieter if r.transaction_type == "Unreconciled Payment"]
    assert [(r.payment_entry, r.amount, r.payment_status, r.reconciled) for r in unreconciled] == [
        ("ACC-PAY-2025-00203", Decimal("25.00"), "Paid", False)
    ]

    # Fatima's annual invoice was credited in full by the return: nothing outstanding.
    fatima = row(await duesflow.member_history(site, "Assoc-Member-2024-11-0002"), "ACC-SINV-2025-00102")
    assert (fatima.outstanding_amount, fatima.payment_status, fatima.paid_amount) == (0, "Paid", 0)

    # The internal transfer is accepted and audited, with no member pipeline (bug B9).
    internal = payment_results["ACC-PAY-2025-00204"]
    assert internal.verdict.status == "accepted" and internal.steps == []
    trail = await duesflow.audit_trail(site, "Payment Entry", "ACC-PAY-2025-00204")
    assert [e["event"] for e in trail] == ["submitted"]

    # Analytics: one fact per member payment, summed per day and mode.
    totals = await duesflow.daily_totals(site, dt.date(2025, 3, 1), dt.date(2025, 4, 30))
    assert [(t["posting_date"], t["mode_of_payment"], t["count"], t["total"]) for t in totals] == [
        (dt.date(2025, 3, 12), "Bank Transfer", 1, Decimal("25.00")),
        (dt.date(2025, 3, 20), "Bank Transfer", 1, Decimal("20.00")),
        (dt.date(2025, 4, 2), "SEPA Direct Debit", 1, Decimal("15.00")),
    ]

    jansen = await duesflow.member_totals(site, "Assoc-Member-2024-11-0005")
    assert (jansen["count"], jansen["paid_to_date"], jansen["last_payment_date"]) == (1, 20, dt.date(2025, 3, 20))
    methods = {m["mode_of_payment"]: (m["count"], m["total"]) for m in await duesflow.method_statistics(site)}
    assert methods == {"Bank Transfer": (2, Decimal("45.00")), "SEPA Direct Debit": (1, Decimal("15.00"))}

    # Every step's outcome is in the audit trail of the SEPA payment.
    events = [(e["event"], e["step"]) for e in await duesflow.audit_trail(site, "Payment Entry", "ACC-PAY-2025-00201")]
    assert events[0] == ("submitted", "validate")
    assert sorted(events[1:]) == [
        ("step_completed", "analytics"),
        ("step_completed", "history:Assoc-Member-2024-11-0001"),
        ("step_completed", "sepa"),
    ]


async def test_fixture_histories_replay_deterministically(
    duesflow: DuesflowClient, workers: Any, site: str, reference_docs, temporal_client
) -> None:
    """Replays this run's histories with today's workflow code; DUESFLOW_RECORD_HISTORIES=dir saves them, which is
    how tests/histories/*.json (replayed by test_replay.py on every later change) were recorded."""
    await duesflow.load_reference_data(reference_docs, site=site)
    results = {**await submit_all(duesflow, site, INVOICES), **await submit_all(duesflow, site, PAYMENTS)}
    histories = [
        await temporal_client.get_workflow_handle(r.verdict.workflow_id).fetch_history() for r in results.values()
    ]
    replayer = Replayer(workflows=WORKFLOWS, data_converter=temporal_client.data_converter)
    async with replayer.workflow_replay_iterator(_iter(histories)) as outcomes:
        failures = [outcome.replay_failure async for outcome in outcomes]
    assert failures == [None] * len(histories)
    if target := os.environ.get("DUESFLOW_RECORD_HISTORIES"):
        for name, history in zip(results, histories, strict=True):
            (Path(target) / f"{name}.json").write_text(history.to_json())


async def _iter(items: list[Any]) -> Any:
    for item in items:
        yield item
