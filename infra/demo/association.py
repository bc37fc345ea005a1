"""``generate``: the demo association, step by step, and ``DemoAssociation``, the documents it hands to callers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.upkeep import add_months
from infra.demo.documents import Doc, customer_doc, invoice_doc, mandate_doc, member_doc, payment_doc
from infra.demo.draws import Draws
from infra.demo.invoices import build_invoices
from infra.demo.model import Window
from infra.demo.payments import build_payments
from infra.demo.people import assign_mandates, assign_profiles, build_customers, name_members


@dataclass(frozen=True)
class DemoAssociation:
    """A generated association: reference data and the documents ERPNext would submit, in ``as_dict()`` shape."""

    site: str
    customers: list[Doc]  # ERPNext Customer
    members: list[Doc]  # Member (verenigingen app)
    mandates: list[Doc]  # SEPA Mandate
    invoices: list[Doc]  # Sales Invoice, docstatus 1, with items
    payments: list[Doc]  # Payment Entry, docstatus 1, with references

    def reference_data(self) -> list[Doc]:
        """Customers, then members, then mandates."""
        return [*self.customers, *self.members, *self.mandates]

    def documents(self) -> list[Doc]:
        """Invoices and payments in submission order.

        Sorted by ``posting_date``; on the same day invoices come before payments, then by ``creation``. Every payment
        therefore comes after the invoices it references, and the ``outstanding_amount`` on each payment reference is
        the invoice's outstanding amount at that point of this sequence.
        """
        keyed = [(doc["posting_date"], 0, doc["creation"], doc["name"], doc) for doc in self.invoices]
        keyed += [(doc["posting_date"], 1, doc["creation"], doc["name"], doc) for doc in self.payments]
        keyed.sort(key=lambda row: row[:4])
        return [row[4] for row in keyed]


def generate(
    *,
    members: int = 40,
    months: int = 6,
    seed: int = 7,
    site: str = "demo.duesflow.local",
    today: dt.date,
) -> DemoAssociation:
    """Generate a demo association of ``members`` members with ``months`` months of invoices and payments before
    ``today`` (inclusive). Deterministic: the same arguments always produce identical documents."""
    if members < 1:
        raise ValueError("members must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    draws = Draws(seed)
    window = Window(start=add_months(today, -months), today=today)
    treasurer = f"penningmeester@{site}"

    customers = build_customers(draws, window, members)
    assign_mandates(draws, window, customers, members)
    assign_profiles(draws, customers)
    named_members = name_members(draws, customers)
    invoices = build_invoices(draws, window, named_members, treasurer)
    payments = build_payments(draws, window, named_members, invoices)

    customers.sort(key=lambda c: (c.created, c.name))
    with_mandate = [c for c in customers if c.mandate is not None]
    with_mandate.sort(key=lambda c: (c.mandate.created, c.mandate.hash_name) if c.mandate else ())
    return DemoAssociation(
        site=site,
        customers=[customer_doc(c, treasurer) for c in customers],
        members=[member_doc(m, treasurer) for m in named_members],
        mandates=[mandate_doc(c, treasurer) for c in with_mandate],
        invoices=[invoice_doc(i) for i in invoices],
        payments=[payment_doc(p, treasurer) for p in payments],
    )
