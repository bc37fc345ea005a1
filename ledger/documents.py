"""Reading and writing the replicated ERP documents (invoices, payments) and the context step 1 needs.

What an invoice owes is ``domain.balances``' rule over the sums read here; ``outstanding_of_invoice`` and ``owes``
are its SQL twins, for reads that filter or total many invoices in one statement."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, Row, ScalarSelect, and_, bindparam, case, func, literal, select
from sqlalchemy.dialects.postgresql import insert

from domain.contracts import PaymentEntry, SalesInvoice
from domain.mandates import MandateState
from domain.reminders import OPEN_STATES
from ledger.schema import (
    customers,
    dunning_cases,
    invoice_items,
    invoices,
    mandates,
    members,
    payment_allocations,
    payments,
)

# Allocations with the payment they belong to (whose docstatus and type decide whether they count).
ALLOCATIONS_WITH_PAYMENTS = payment_allocations.join(
    payments,
    and_(payments.c.site == payment_allocations.c.site, payments.c.name == payment_allocations.c.payment),
)
# An allocation counts for its invoice while its payment is submitted: cancelled payments never count (bug B11).
COUNTED_ALLOCATION = and_(payment_allocations.c.reference_doctype == "Sales Invoice", payments.c.docstatus == 1)


def member_payment() -> ColumnElement[bool]:
    """The SQL twin of ``domain.payments.is_member_payment``, for queries that select many payments."""
    return and_(payments.c.payment_type == "Receive", payments.c.party_type == "Customer")


def lock_payment(conn: Connection, site: str, name: str) -> Row | None:
    """The payment row, locked (None when the ledger does not hold it)."""
    return conn.execute(
        select(payments).where(payments.c.site == site, payments.c.name == name).with_for_update()
    ).first()


def paid_to_invoice(*, excluding_payment: bool = False) -> ScalarSelect[Decimal]:
    """Σ allocations to ``invoices.c.name`` from submitted payments, signed as ``domain.balances.signed_amount``
    signs them (its SQL twin: money paid back counts against the invoice)."""
    cond = [
        payment_allocations.c.site == invoices.c.site,
        payment_allocations.c.reference_name == invoices.c.name,
        COUNTED_ALLOCATION,
    ]
    if excluding_payment:
        # Step 1 may run again for the same payment (local activity retry): its own allocation must not count.
        cond.append(payments.c.name != bindparam("exclude_payment"))
    signed = case(
        (payments.c.payment_type == "Pay", -payment_allocations.c.allocated_amount),
        else_=payment_allocations.c.allocated_amount,
    )
    return (
        select(func.coalesce(func.sum(signed), 0)).select_from(ALLOCATIONS_WITH_PAYMENTS).where(*cond).scalar_subquery()
    )


def credited_to_invoice() -> ScalarSelect[Decimal]:
    """Σ of submitted credit notes against ``invoices.c.name``, as a positive amount."""
    ret = invoices.alias("ret")
    return (
        select(func.coalesce(-func.sum(ret.c.grand_total), 0))
        .where(
            ret.c.site == invoices.c.site,
            ret.c.return_against == invoices.c.name,
            ret.c.is_return.is_(True),
            ret.c.docstatus == 1,
        )
        .scalar_subquery()
    )


def outstanding_of_invoice() -> ColumnElement[Decimal]:
    """The SQL twin of ``domain.balances.outstanding_of`` for ``invoices.c.name``, only for reads that filter or
    total many invoices in one statement; everything else takes the sums and applies the domain rule."""
    return invoices.c.grand_total - paid_to_invoice() - credited_to_invoice()


def owes(outstanding: ColumnElement[Decimal]) -> ColumnElement[bool]:
    """The SQL twin of ``domain.balances.owes``."""
    return outstanding > 0


_NAMES = bindparam("names", expanding=True)
_LOCK_INVOICES = (
    select(invoices.c.name)
    .where(invoices.c.site == bindparam("site"), invoices.c.name.in_(_NAMES))
    .order_by(invoices.c.name)
    .with_for_update()
)
_REMINDING = (
    select(literal(True))
    .where(
        dunning_cases.c.site == invoices.c.site,
        dunning_cases.c.invoice == invoices.c.name,
        dunning_cases.c.state.in_(OPEN_STATES),
    )
    .exists()
)
_INVOICE_SUMS = select(
    invoices.c.name,
    invoices.c.customer,
    invoices.c.docstatus,
    invoices.c.member,
    invoices.c.grand_total,
    paid_to_invoice(excluding_payment=True).label("paid"),
    credited_to_invoice().label("credited"),
    _REMINDING.label("reminding"),
).where(invoices.c.site == bindparam("site"), invoices.c.name.in_(_NAMES))


def referenced_invoices(
    conn: Connection, site: str, names: list[str], *, exclude_payment: str | None = None, lock: bool = False
) -> list[Row]:
    """The invoices a payment references, with the sums their outstanding amounts are computed from (never a stored
    field: bug B7): ``grand_total``, ``paid`` (not counting ``exclude_payment``), ``credited``; and ``reminding``
    (their dunning case is open)."""
    if not names:
        return []
    params = {"site": site, "names": sorted(set(names)), "exclude_payment": exclude_payment or ""}
    if lock:
        # Serialises concurrent payments against one invoice so two cannot both take its last euro.
        conn.execute(_LOCK_INVOICES, params)
    return list(conn.execute(_INVOICE_SUMS, params))


_CUSTOMER_MEMBERS = (
    select(customers.c.name, members.c.name.label("member"))
    .select_from(
        customers.outerjoin(members, (members.c.site == customers.c.site) & (members.c.customer == customers.c.name))
    )
    .where(customers.c.site == bindparam("site"), customers.c.name == bindparam("customer"))
    .order_by(members.c.name)
)


def customer_members(conn: Connection, site: str, customer: str | None) -> tuple[str, ...] | None:
    """The customer's members, or None when the ledger does not know the customer (one query for both)."""
    if not customer:
        return None
    rows = conn.execute(_CUSTOMER_MEMBERS, {"site": site, "customer": customer}).all()
    if not rows:
        return None
    return tuple(r.member for r in rows if r.member is not None)


_MANDATES_OF = (
    select(mandates.c.mandate_id, mandates.c.member, mandates.c.status, mandates.c.expiry_date)
    .where(mandates.c.site == bindparam("site"), mandates.c.member.in_(bindparam("members", expanding=True)))
    .order_by(mandates.c.sign_date.desc(), mandates.c.mandate_id)
)


def mandates_of(conn: Connection, site: str, member_names: tuple[str, ...]) -> tuple[MandateState, ...]:
    if not member_names:
        return ()
    rows = conn.execute(_MANDATES_OF, {"site": site, "members": list(member_names)})
    return tuple(MandateState(r.mandate_id, r.member, r.status, r.expiry_date) for r in rows)


def invoice_exists(conn: Connection, site: str, name: str) -> bool:
    return conn.execute(select(literal(1)).where(invoices.c.site == site, invoices.c.name == name)).first() is not None


_PAYMENT_FIELDS = (
    "payment_type",
    "party_type",
    "party",
    "posting_date",
    "mode_of_payment",
    "paid_amount",
    "received_amount",
    "reference_no",
    "reference_date",
    "sepa_batch",
    "return_reason",
    "docstatus",
)
_upsert = insert(payments)
_UPSERT_PAYMENT = _upsert.on_conflict_do_update(
    index_elements=["site", "name"],
    set_={**{f: _upsert.excluded[f] for f in _PAYMENT_FIELDS}, "updated_at": func.now()},
)
_DELETE_ALLOCATIONS = payment_allocations.delete().where(
    payment_allocations.c.site == bindparam("b_site"), payment_allocations.c.payment == bindparam("b_payment")
)


def save_payment(conn: Connection, site: str, doc: PaymentEntry) -> None:
    """Upsert the payment and replace its allocations (a retry writes the same rows again)."""
    conn.execute(_UPSERT_PAYMENT, {"site": site, "name": doc.name, **{f: getattr(doc, f) for f in _PAYMENT_FIELDS}})
    conn.execute(_DELETE_ALLOCATIONS, {"b_site": site, "b_payment": doc.name})
    rows = [
        {
            "site": site,
            "payment": doc.name,
            "idx": i,
            "reference_doctype": ref.reference_doctype,
            "reference_name": ref.reference_name,
            "allocated_amount": ref.allocated_amount,
        }
        for i, ref in enumerate(doc.references)
        if ref.reference_doctype and ref.reference_name and ref.allocated_amount > 0
    ]
    if rows:
        conn.execute(insert(payment_allocations), rows)


def save_invoice(conn: Connection, site: str, doc: SalesInvoice) -> None:
    values = {
        "customer": doc.customer,
        "member": doc.member,
        "posting_date": doc.posting_date,
        "due_date": doc.due_date,
        "grand_total": doc.grand_total,
        "rounded_total": doc.rounded_total,
        "docstatus": doc.docstatus,
        "erp_status": doc.status,
        "is_return": doc.is_return,
        "return_against": doc.return_against,
        "membership": doc.membership,
        "coverage_start": doc.coverage_start,
        "coverage_end": doc.coverage_end,
        "updated_at": func.now(),
    }
    stmt = insert(invoices).values(site=site, name=doc.name, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["site", "name"], set_=values))
    conn.execute(invoice_items.delete().where(invoice_items.c.site == site, invoice_items.c.invoice == doc.name))
    rows = [
        {
            "site": site,
            "invoice": doc.name,
            "idx": item.idx or i + 1,
            "item_code": item.item_code,
            "item_name": item.item_name,
            "qty": item.qty,
            "rate": item.rate,
            "amount": item.amount,
        }
        for i, item in enumerate(doc.items)
    ]
    if rows:
        conn.execute(insert(invoice_items), rows)


def stored_document(conn: Connection, site: str, doctype: str, name: str) -> Row | None:
    """The ledger's copy of a document with ``customer`` and ``member`` columns, whatever its doctype."""
    if doctype == "Payment Entry":
        stmt = select(
            payments.c.name,
            payments.c.docstatus,
            payments.c.payment_type,
            payments.c.party_type,
            payments.c.party.label("customer"),
            literal(None).label("member"),
        ).where(payments.c.site == site, payments.c.name == name)
    else:
        stmt = select(
            invoices.c.name,
            invoices.c.docstatus,
            literal(None).label("payment_type"),
            literal("Customer").label("party_type"),
            invoices.c.customer,
            invoices.c.member,
        ).where(invoices.c.site == site, invoices.c.name == name)
    return conn.execute(stmt).first()


def mark_cancelled(conn: Connection, site: str, doctype: str, name: str) -> None:
    """docstatus 2: from now on the document counts nowhere (allocations, balances, analytics, history)."""
    table = payments if doctype == "Payment Entry" else invoices
    conn.execute(
        table.update().where(table.c.site == site, table.c.name == name).values(docstatus=2, updated_at=func.now())
    )
