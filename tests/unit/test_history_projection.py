"""Unit tests of pure logic: the member payment history projection of docs/business-rules.md §3 (``domain.history``).

No database, no network: the ledger facts (``InvoiceFacts``, ``Allocation``, ``UnreconciledPayment``,
``SummaryFacts``) are built here and fed to ``project_history`` / ``payment_status`` / ``summarise``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from domain.history import (
    HISTORY_LIMIT,
    Allocation,
    HistoryRow,
    InvoiceFacts,
    SummaryFacts,
    SummaryInvoice,
    SummaryPayment,
    UnreconciledPayment,
    payment_status,
    project_history,
    summarise,
)
from domain.mandates import MandateState

TODAY = dt.date(2025, 4, 15)
D = Decimal


def _invoice(
    name: str = "ACC-SINV-2025-00101",
    *,
    posting: dt.date = dt.date(2025, 4, 1),
    due: dt.date | None = dt.date(2025, 4, 30),
    docstatus: int = 1,
    total: str = "15.00",
    membership: str | None = "MEMB-24-11-0001",
    coverage: tuple[dt.date | None, dt.date | None] = (dt.date(2025, 4, 1), dt.date(2025, 4, 30)),
    allocations: tuple[Allocation, ...] = (),
    credited: str = "0",
    collected_by_mandate: str | None = None,
) -> InvoiceFacts:
    return InvoiceFacts(
        name=name,
        posting_date=posting,
        due_date=due,
        docstatus=docstatus,
        grand_total=D(total),
        membership=membership,
        coverage_start=coverage[0],
        coverage_end=coverage[1],
        allocations=allocations,
        credited=D(credited),
        collected_by_mandate=collected_by_mandate,
    )


def _alloc(payment: str, day: dt.date, amount: str, mode: str | None = "Bank Transfer") -> Allocation:
    return Allocation(payment=payment, posting_date=day, mode_of_payment=mode, amount=D(amount))


def _unreconciled(
    name: str = "ACC-PAY-2025-00203",
    *,
    day: dt.date = dt.date(2025, 3, 12),
    amount: str = "25.00",
    reference_no: str | None = "GIFT-PV-2025-03",
) -> UnreconciledPayment:
    return UnreconciledPayment(
        name=name, posting_date=day, mode_of_payment="Bank Transfer", amount=D(amount), reference_no=reference_no
    )


def _one_row(facts: InvoiceFacts, today: dt.date = TODAY) -> HistoryRow:
    [row] = project_history([facts], [], today=today)
    return row


# ---- payment_status: first match wins ------------------------------------------------------------------------------


def _status(
    *,
    docstatus: int = 1,
    outstanding: str = "15.00",
    paid: str = "0",
    total: str = "15.00",
    due: dt.date | None = dt.date(2025, 4, 30),
) -> str:
    return payment_status(
        docstatus=docstatus, outstanding=D(outstanding), paid=D(paid), total=D(total), due_date=due, today=TODAY
    )


def test_draft_comes_first() -> None:
    assert _status(docstatus=0, outstanding="0", paid="15.00", due=dt.date(2025, 1, 1)) == "Draft"


def test_cancelled_beats_paid_and_overdue() -> None:
    assert _status(docstatus=2, outstanding="0", paid="15.00") == "Cancelled"
    assert _status(docstatus=2, due=dt.date(2025, 1, 1)) == "Cancelled"


def test_paid_when_nothing_is_outstanding_even_past_due() -> None:
    assert _status(outstanding="0.00", paid="15.00", due=dt.date(2025, 1, 1)) == "Paid"


def test_overpaid_invoice_is_paid() -> None:
    assert _status(outstanding="-5.00", paid="20.00") == "Paid"


def test_overdue_beats_partially_paid() -> None:
    assert _status(outstanding="5.00", paid="10.00", due=TODAY - dt.timedelta(days=1)) == "Overdue"


def test_due_today_is_not_overdue() -> None:
    assert _status(due=TODAY) == "Unpaid"
    assert _status(outstanding="5.00", paid="10.00", due=TODAY) == "Partially Paid"


def test_partially_paid_before_due_date() -> None:
    assert _status(outstanding="5.00", paid="10.00") == "Partially Paid"


def test_unpaid_when_nothing_paid_and_not_due() -> None:
    assert _status() == "Unpaid"


def test_without_due_date_an_invoice_is_never_overdue() -> None:
    assert _status(due=None) == "Unpaid"


def test_unpaid_past_due_is_overdue() -> None:
    assert _status(due=TODAY - dt.timedelta(days=1)) == "Overdue"


# ---- invoice rows --------------------------------------------------------------------------------------------------


def test_invoice_row_carries_the_invoice_fields() -> None:
    row = _one_row(_invoice())
    assert row.invoice == "ACC-SINV-2025-00101"
    assert row.posting_date == dt.date(2025, 4, 1) and row.due_date == dt.date(2025, 4, 30)
    assert row.coverage_start == dt.date(2025, 4, 1) and row.coverage_end == dt.date(2025, 4, 30)
    assert row.amount == D("15.00") and row.outstanding_amount == D("15.00") and row.paid_amount == 0
    assert row.payment_status == "Unpaid" and row.reconciled is False
    assert row.payment_entry is None and row.payment_date is None and row.payment_method is None


def test_coverage_is_nulled_when_start_after_end() -> None:
    row = _one_row(_invoice(coverage=(dt.date(2025, 5, 1), dt.date(2025, 4, 30))))
    assert row.coverage_start is None and row.coverage_end is None


def test_one_day_coverage_is_kept() -> None:
    day = dt.date(2025, 4, 1)
    row = _one_row(_invoice(coverage=(day, day)))
    assert row.coverage_start == day and row.coverage_end == day


def test_open_ended_coverage_is_kept() -> None:
    row = _one_row(_invoice(coverage=(dt.date(2025, 4, 1), None)))
    assert row.coverage_start == dt.date(2025, 4, 1) and row.coverage_end is None


def test_transaction_type_membership_vs_regular() -> None:
    assert _one_row(_invoice(membership="MEMB-24-11-0001")).transaction_type == "Membership Invoice"
    assert _one_row(_invoice(membership=None)).transaction_type == "Regular Invoice"


def test_paid_amount_sums_the_allocations() -> None:
    allocations = (
        _alloc("ACC-PAY-2025-00202", dt.date(2025, 3, 20), "20.00"),
        _alloc("ACC-PAY-2025-00210", dt.date(2025, 3, 25), "12.50"),
    )
    row = _one_row(_invoice(total="45.00", due=dt.date(2025, 4, 30), allocations=allocations))
    assert row.paid_amount == D("32.50")
    assert row.outstanding_amount == D("12.50")
    assert row.payment_status == "Partially Paid"
    assert row.reconciled is True


def test_fully_allocated_invoice_is_paid() -> None:
    row = _one_row(_invoice(allocations=(_alloc("ACC-PAY-2025-00201", dt.date(2025, 4, 2), "15.00"),)))
    assert row.outstanding_amount == 0 and row.payment_status == "Paid"


def test_latest_payment_is_chosen_by_date_not_by_order() -> None:
    allocations = (
        _alloc("ACC-PAY-2025-00300", dt.date(2025, 4, 10), "5.00", mode="Cash"),  # newest, listed first
        _alloc("ACC-PAY-2025-00299", dt.date(2025, 4, 3), "5.00", mode="Bank Transfer"),
    )
    row = _one_row(_invoice(allocations=allocations))
    assert row.payment_entry == "ACC-PAY-2025-00300"
    assert row.payment_date == dt.date(2025, 4, 10)
    assert row.payment_method == "Cash"
    assert row.paid_amount == D("10.00")


def test_latest_payment_is_the_same_whatever_the_allocation_order() -> None:
    a = _alloc("ACC-PAY-2025-00300", dt.date(2025, 4, 10), "5.00")
    b = _alloc("ACC-PAY-2025-00299", dt.date(2025, 4, 3), "5.00")
    assert _one_row(_invoice(allocations=(a, b))) == _one_row(_invoice(allocations=(b, a)))


def test_credit_note_reduces_outstanding() -> None:
    row = _one_row(_invoice(total="30.00", credited="10.00"))
    assert row.outstanding_amount == D("20.00")
    assert row.paid_amount == 0
    assert row.payment_status == "Unpaid"


def test_fully_credited_invoice_is_settled() -> None:
    row = _one_row(_invoice(total="30.00", credited="30.00", due=dt.date(2025, 1, 31)))
    assert row.outstanding_amount == 0
    assert row.payment_status == "Paid"  # not Overdue: nothing is outstanding
    assert row.reconciled is False  # no payment exists


def test_outstanding_subtracts_payments_and_credit_notes() -> None:
    row = _one_row(_invoice(total="45.00", allocations=(_alloc("PAY-1", TODAY, "20.00"),), credited="5.00"))
    assert (row.outstanding_amount, row.paid_amount) == (D("20.00"), D("20.00"))


def test_draft_and_cancelled_invoices_keep_their_status() -> None:
    assert _one_row(_invoice(docstatus=0, due=dt.date(2025, 1, 1))).payment_status == "Draft"
    assert _one_row(_invoice(docstatus=2, due=dt.date(2025, 1, 1))).payment_status == "Cancelled"


# ---- mandate stamping ----------------------------------------------------------------------------------------------


def test_mandate_is_stamped_only_on_rows_collected_by_sepa() -> None:
    sepa = _invoice(
        "ACC-SINV-2025-00101",
        allocations=(_alloc("ACC-PAY-2025-00201", dt.date(2025, 4, 2), "15.00", mode="SEPA Direct Debit"),),
        collected_by_mandate="MANDATE-24-11-0001",
    )
    bank = _invoice(
        "ACC-SINV-2025-00105",
        posting=dt.date(2025, 3, 1),
        allocations=(_alloc("ACC-PAY-2025-00202", dt.date(2025, 3, 20), "15.00"),),
    )
    rows = {r.invoice: r for r in project_history([sepa, bank], [_unreconciled()], today=TODAY)}
    assert rows["ACC-SINV-2025-00101"].has_mandate is True
    assert rows["ACC-SINV-2025-00101"].mandate_reference == "MANDATE-24-11-0001"
    assert rows["ACC-SINV-2025-00105"].has_mandate is False
    assert rows["ACC-SINV-2025-00105"].mandate_reference is None
    assert rows[None].has_mandate is False and rows[None].mandate_reference is None


# ---- unreconciled payments -----------------------------------------------------------------------------------------


def test_unreconciled_payment_row() -> None:
    [row] = project_history([], [_unreconciled()], today=TODAY)
    assert row.transaction_type == "Unreconciled Payment"
    assert row.invoice is None
    assert row.payment_entry == "ACC-PAY-2025-00203"
    assert row.payment_date == dt.date(2025, 3, 12) and row.posting_date == dt.date(2025, 3, 12)
    assert row.payment_method == "Bank Transfer"
    assert row.amount == D("25.00") and row.paid_amount == D("25.00")
    assert row.outstanding_amount == 0
    assert row.payment_status == "Paid"
    assert row.reconciled is False
    assert row.due_date is None and row.coverage_start is None and row.coverage_end is None


def test_donation_payment_when_reference_no_is_a_known_donation() -> None:
    [row] = project_history([], [_unreconciled()], today=TODAY, donation_refs=frozenset({"GIFT-PV-2025-03"}))
    assert row.transaction_type == "Donation Payment"
    assert row.payment_status == "Paid" and row.reconciled is False


@pytest.mark.parametrize(
    ("reference_no", "donations"),
    [("GIFT-PV-2025-03", frozenset()), ("GIFT-PV-2025-03", frozenset({"GIFT-OTHER"})), (None, frozenset({""}))],
)
def test_not_a_donation_unless_the_reference_matches(reference_no: str | None, donations: frozenset[str]) -> None:
    [row] = project_history([], [_unreconciled(reference_no=reference_no)], today=TODAY, donation_refs=donations)
    assert row.transaction_type == "Unreconciled Payment"


# ---- selection, order, positions, determinism ----------------------------------------------------------------------


def _many_invoices(count: int) -> list[InvoiceFacts]:
    start = dt.date(2023, 1, 1)
    return [
        _invoice(f"ACC-SINV-2025-{i:05d}", posting=start + dt.timedelta(days=30 * i), due=None) for i in range(count)
    ]


def test_only_the_20_newest_invoices_are_kept() -> None:
    invoices = _many_invoices(25)
    rows = project_history(list(reversed(invoices)), [], today=TODAY)
    assert HISTORY_LIMIT == 20
    assert len(rows) == 20
    assert [r.invoice for r in rows] == [f.name for f in sorted(invoices, key=lambda f: f.posting_date)[5:]][::-1]
    assert "ACC-SINV-2025-00004" not in {r.invoice for r in rows}  # the 5 oldest are dropped


def test_limit_counts_invoices_not_unreconciled_payments() -> None:
    payments = [_unreconciled(f"ACC-PAY-2025-0090{i}", day=dt.date(2025, 4, 1 + i)) for i in range(3)]
    rows = project_history(_many_invoices(25), payments, today=TODAY)
    assert sum(r.invoice is not None for r in rows) == 20
    assert sum(r.invoice is None for r in rows) == 3


def test_drafts_count_among_the_newest() -> None:
    invoices = [*_many_invoices(20), _invoice("ACC-SINV-2025-00999", posting=dt.date(2026, 1, 1), docstatus=0)]
    rows = project_history(invoices, [], today=TODAY)
    assert rows[0].invoice == "ACC-SINV-2025-00999" and rows[0].payment_status == "Draft"
    assert len(rows) == 20


def test_positions_run_from_zero_newest_first_across_invoices_and_payments() -> None:
    invoices = [
        _invoice("ACC-SINV-2025-00101", posting=dt.date(2025, 3, 1)),
        _invoice("ACC-SINV-2025-00105", posting=dt.date(2025, 4, 1)),
        _invoice("ACC-SINV-2025-00102", posting=dt.date(2025, 1, 1)),
    ]
    payments = [_unreconciled(day=dt.date(2025, 3, 12))]
    rows = project_history(invoices, payments, today=TODAY)
    assert [r.position for r in rows] == [0, 1, 2, 3]
    assert [r.invoice or r.payment_entry for r in rows] == [
        "ACC-SINV-2025-00105",
        "ACC-PAY-2025-00203",
        "ACC-SINV-2025-00101",
        "ACC-SINV-2025-00102",
    ]
    dates = [r.posting_date for r in rows]
    assert dates == sorted(dates, reverse=True)


def test_same_day_rows_are_ordered_by_name() -> None:
    day = dt.date(2025, 3, 1)
    invoices = [_invoice("ACC-SINV-2025-00103", posting=day), _invoice("ACC-SINV-2025-00104", posting=day)]
    rows = project_history(invoices, [], today=TODAY)
    assert [r.invoice for r in rows] == ["ACC-SINV-2025-00104", "ACC-SINV-2025-00103"]


def test_empty_history() -> None:
    assert project_history([], [], today=TODAY) == []


def test_projection_is_deterministic() -> None:
    invoices = [
        *_many_invoices(23),
        _invoice(
            "ACC-SINV-2025-00500",
            posting=dt.date(2025, 2, 1),
            allocations=(
                _alloc("ACC-PAY-2025-00501", dt.date(2025, 2, 3), "5.00"),
                _alloc("ACC-PAY-2025-00502", dt.date(2025, 2, 9), "5.00"),
            ),
            collected_by_mandate="MANDATE-24-11-0001",
        ),
    ]
    payments = [_unreconciled(f"ACC-PAY-2025-0070{i}", day=dt.date(2024, 6 + i, 1)) for i in range(4)]
    first = project_history(invoices, payments, today=TODAY)
    assert project_history(invoices, payments, today=TODAY) == first
    rng = random.Random(7)
    for _ in range(5):
        shuffled_invoices, shuffled_payments = invoices[:], payments[:]
        rng.shuffle(shuffled_invoices)
        rng.shuffle(shuffled_payments)
        assert project_history(shuffled_invoices, shuffled_payments, today=TODAY) == first


def test_projection_does_not_depend_on_previous_results() -> None:
    """A rebuild from the same facts is equal to a from-scratch rebuild: no state is carried between calls."""
    invoices = [_invoice()]
    before = project_history(invoices, [], today=TODAY)
    project_history(_many_invoices(25), [_unreconciled()], today=TODAY)
    assert project_history(invoices, [], today=TODAY) == before


def test_today_moves_an_unpaid_invoice_into_overdue() -> None:
    facts = _invoice(due=dt.date(2025, 4, 30))
    assert _one_row(facts, today=dt.date(2025, 4, 30)).payment_status == "Unpaid"
    assert _one_row(facts, today=dt.date(2025, 5, 1)).payment_status == "Overdue"


# ---- summarise: the member summary ---------------------------------------------------------------------------------


def _summary_invoice(day: dt.date, total: str, paid: str = "0", credited: str = "0") -> SummaryInvoice:
    return SummaryInvoice(posting_date=day, grand_total=D(total), paid=D(paid), credited=D(credited))


def test_summary_of_a_member_without_invoices_payments_or_mandates() -> None:
    assert summarise(SummaryFacts(member="M1"), today=TODAY) == {
        "member": "M1",
        "total_invoices": 0,
        "unpaid_invoices": 0,
        "total_invoiced": D(0),
        "total_outstanding": D(0),
        "total_paid": D(0),
        "last_payment_date": None,
        "last_invoice_date": None,
        "active_mandates": 0,
    }


def test_summary_counts_only_invoices_that_still_owe_and_totals_their_positive_outstanding() -> None:
    facts = SummaryFacts(
        member="M1",
        invoices=(
            _summary_invoice(dt.date(2025, 1, 1), "15.00"),  # owes 15
            _summary_invoice(dt.date(2025, 2, 1), "15.00", paid="10.00"),  # owes 5
            _summary_invoice(dt.date(2025, 3, 1), "15.00", paid="15.00"),  # settled
            _summary_invoice(dt.date(2025, 3, 2), "15.00", paid="10.00", credited="15.00"),  # overpaid: -10
        ),
    )
    summary = summarise(facts, today=TODAY)
    assert (summary["total_invoices"], summary["unpaid_invoices"]) == (4, 2)
    assert str(summary["total_invoiced"]) == "60.00"
    assert str(summary["total_outstanding"]) == "20.00"  # the overpaid invoice does not lower it
    assert summary["last_invoice_date"] == dt.date(2025, 3, 2)


def test_summary_counts_money_paid_back_against_what_was_paid() -> None:
    facts = SummaryFacts(
        member="M1",
        payments=(
            SummaryPayment("Receive", dt.date(2025, 3, 1), D("15.00")),
            SummaryPayment("Receive", dt.date(2025, 2, 1), D("15.00")),
            SummaryPayment("Pay", dt.date(2025, 3, 9), D("15.00")),  # a SEPA return
        ),
    )
    summary = summarise(facts, today=TODAY)
    assert str(summary["total_paid"]) == "15.00"
    assert summary["last_payment_date"] == dt.date(2025, 3, 1)  # the newest received, not the return


def test_summary_counts_the_mandates_usable_today() -> None:
    mandates = (
        MandateState("MD-1", "M1", "Active", None),
        MandateState("MD-2", "M1", "Active", TODAY),  # expires today: still usable
        MandateState("MD-3", "M1", "Active", TODAY - dt.timedelta(days=1)),
        MandateState("MD-4", "M1", "Suspended", None),
    )
    assert summarise(SummaryFacts(member="M1", mandates=mandates), today=TODAY)["active_mandates"] == 2
