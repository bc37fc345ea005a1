"""The outstanding-amount rule and its SQL twin give the same answers (docs/business-rules.md §1).

``domain.balances`` is the rule; reads that filter or total many invoices in one statement use the SQL twins in
``ledger/documents.py`` (``outstanding_of_invoice``, ``owes``, the signing in ``paid_to_invoice``). Here both run
over the same ledger rows on the real PostgreSQL, and both must give the answer the case table expects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, insert, select

from domain.balances import outstanding_of, owes
from ledger.documents import outstanding_of_invoice, referenced_invoices
from ledger.documents import owes as owes_sql
from ledger.history import history_facts
from ledger.reminders import open_invoices
from ledger.schema import collection_retries, invoices, payment_allocations, payments
from ledger.sepa import due_collection_retries

DAY = dt.date(2025, 3, 1)
CUSTOMER = "C1"


@dataclass(frozen=True)
class Case:
    total: str
    # (payment type, docstatus, allocated amount, reference doctype)
    allocations: tuple[tuple[str, int, str, str], ...] = ()
    # (docstatus, credit note grand total: negative)
    credit_notes: tuple[tuple[int, str], ...] = ()
    expected: str = ""


CASES = {
    "unpaid": Case("15.00", expected="15.00"),
    "paid": Case("15.00", (("Receive", 1, "15.00", "Sales Invoice"),), expected="0.00"),
    "part-paid": Case("30.00", (("Receive", 1, "10.00", "Sales Invoice"),), expected="20.00"),
    "two-payments": Case(
        "30.00", (("Receive", 1, "10.00", "Sales Invoice"), ("Receive", 1, "20.00", "Sales Invoice")), expected="0.00"
    ),
    "overpaid": Case("15.00", (("Receive", 1, "20.00", "Sales Invoice"),), expected="-5.00"),
    "cancelled-payment": Case("15.00", (("Receive", 2, "15.00", "Sales Invoice"),), expected="15.00"),
    "draft-payment": Case("15.00", (("Receive", 0, "15.00", "Sales Invoice"),), expected="15.00"),
    "returned": Case(
        "15.00", (("Receive", 1, "15.00", "Sales Invoice"), ("Pay", 1, "15.00", "Sales Invoice")), expected="15.00"
    ),
    "return-only": Case("15.00", (("Pay", 1, "15.00", "Sales Invoice"),), expected="30.00"),
    "cancelled-return": Case(
        "15.00", (("Receive", 1, "15.00", "Sales Invoice"), ("Pay", 2, "15.00", "Sales Invoice")), expected="0.00"
    ),
    "other-doctype": Case("15.00", (("Receive", 1, "15.00", "Journal Entry"),), expected="15.00"),
    "credited": Case("15.00", credit_notes=((1, "-15.00"),), expected="0.00"),
    "part-credited": Case("15.00", credit_notes=((1, "-5.00"),), expected="10.00"),
    "cancelled-credit": Case("15.00", credit_notes=((2, "-15.00"),), expected="15.00"),
    "paid-and-credited": Case(
        "45.00", (("Receive", 1, "20.00", "Sales Invoice"),), ((1, "-5.00"), (1, "-20.00")), expected="0.00"
    ),
    "one-cent": Case("15.00", (("Receive", 1, "14.99", "Sales Invoice"),), expected="0.01"),
}


def _store(conn: Connection, site: str) -> None:
    n = 0
    for name, case in CASES.items():
        conn.execute(
            insert(invoices).values(
                site=site,
                name=name,
                customer=CUSTOMER,
                posting_date=DAY,
                due_date=DAY,
                grand_total=Decimal(case.total),
                docstatus=1,
            )
        )
        for payment_type, docstatus, amount, doctype in case.allocations:
            n += 1
            payment = f"PAY-{n}"
            conn.execute(
                insert(payments).values(
                    site=site,
                    name=payment,
                    payment_type=payment_type,
                    party_type="Customer",
                    party=CUSTOMER,
                    posting_date=DAY,
                    paid_amount=Decimal(amount),
                    docstatus=docstatus,
                )
            )
            conn.execute(
                insert(payment_allocations).values(
                    site=site,
                    payment=payment,
                    idx=0,
                    reference_doctype=doctype,
                    reference_name=name,
                    allocated_amount=Decimal(amount),
                )
            )
        for i, (docstatus, amount) in enumerate(case.credit_notes):
            conn.execute(
                insert(invoices).values(
                    site=site,
                    name=f"{name}-CN{i}",
                    customer=CUSTOMER,
                    posting_date=DAY,
                    grand_total=Decimal(amount),
                    docstatus=docstatus,
                    is_return=True,
                    return_against=name,
                )
            )
        conn.execute(
            insert(collection_retries).values(
                site=site,
                return_payment=f"RET-{name}",
                invoice=name,
                reason_code="AM04",
                decision="retry",
                attempt=1,
                due_date=DAY,
                status="scheduled",
            )
        )


@pytest.fixture
def ledger(engine: Engine, site: str) -> Engine:
    with engine.begin() as conn:
        _store(conn, site)
    return engine


def test_the_rule_and_its_sql_twin_agree_on_every_case(ledger: Engine, site: str) -> None:
    names = list(CASES)
    with ledger.connect() as conn:
        in_sql = {
            r.name: (str(r.outstanding), r.owes)
            for r in conn.execute(
                select(
                    invoices.c.name,
                    outstanding_of_invoice().label("outstanding"),
                    owes_sql(outstanding_of_invoice()).label("owes"),
                ).where(invoices.c.site == site, invoices.c.name.in_(names))
            )
        }
        sums = referenced_invoices(conn, site, names)
    in_python = {r.name: outstanding_of(r.grand_total, r.paid, r.credited) for r in sums}
    in_python_owes = {name: (str(amount), owes(amount)) for name, amount in in_python.items()}
    expected = {name: (case.expected, Decimal(case.expected) > 0) for name, case in CASES.items()}
    assert in_python_owes == expected
    assert in_sql == expected


def test_allocations_signed_in_python_sum_to_what_sql_signs(ledger: Engine, site: str) -> None:
    """The history signs each allocation with ``domain.balances.signed_amount``; ``paid_to_invoice`` signs in SQL."""
    with ledger.connect() as conn:
        facts, _ = history_facts(conn, site, CUSTOMER)
        sums = {r.name: r.paid for r in referenced_invoices(conn, site, list(CASES))}
    paid_in_python = {f.name: sum((a.amount for a in f.allocations), Decimal(0)) for f in facts}
    assert paid_in_python == sums
    outstanding = {f.name: str(outstanding_of(f.grand_total, paid_in_python[f.name], f.credited)) for f in facts}
    assert outstanding == {name: case.expected for name, case in CASES.items()}


def test_set_based_reads_select_exactly_the_invoices_the_rule_says_owe(ledger: Engine, site: str) -> None:
    owing = {name for name, case in CASES.items() if owes(Decimal(case.expected))}
    with ledger.connect() as conn:
        reminded = open_invoices(conn, site, DAY)
        retried = due_collection_retries(conn, site, DAY)
    assert {r["invoice"] for r in reminded} == owing
    assert {r["invoice"] for r in retried} == owing
    assert {r["invoice"]: str(r["outstanding"]) for r in reminded} == {n: CASES[n].expected for n in owing}
