"""Member history: fetch the facts in a constant number of queries, store the projection, read it back; and the
facts of the member summary. The rules that turn facts into rows and figures are in ``domain/history.py``.

Concurrent rebuilds of one member serialise on a transaction-level advisory lock taken before anything is read,
so the last writer always wrote what a from-scratch rebuild would produce (bugs B1/B2/B13).
The rules: docs/business-rules.md §3; the predecessor bug ids (B…) are listed at the end of that file.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from domain.balances import signed_amount
from domain.history import (
    HISTORY_FIELDS,
    HISTORY_LIMIT,
    Allocation,
    HistoryRow,
    InvoiceFacts,
    SummaryFacts,
    SummaryInvoice,
    SummaryPayment,
    UnreconciledPayment,
    as_tuple,
    summarise,
)
from ledger.db import advisory_xact_lock
from ledger.documents import (
    ALLOCATIONS_WITH_PAYMENTS,
    COUNTED_ALLOCATION,
    credited_to_invoice,
    mandates_of,
    member_payment,
    paid_to_invoice,
)
from ledger.schema import (
    invoices,
    mandate_usages,
    member_history,
    members,
    payment_allocations,
    payments,
)


class UnknownMember(LookupError):
    pass


def lock_member(conn: Connection, site: str, member: str) -> None:
    advisory_xact_lock(conn, f"history:{site}:{member}")


def bump_history_version(conn: Connection, site: str, member: str) -> None:
    """In the rebuild's transaction: from its commit on, the read cache's keys for this member are new ones."""
    conn.execute(
        update(members)
        .where(members.c.site == site, members.c.name == member)
        .values(history_version=members.c.history_version + 1)
    )


def history_version(conn: Connection, site: str, member: str) -> int:
    """The member's history version (0 for a member the ledger does not know: nothing cached can be newer)."""
    version = conn.execute(
        select(members.c.history_version).where(members.c.site == site, members.c.name == member)
    ).scalar()
    return version or 0


def member_customer(conn: Connection, site: str, member: str) -> str | None:
    row = conn.execute(select(members.c.customer).where(members.c.site == site, members.c.name == member)).first()
    if row is None:
        raise UnknownMember(member)
    return row.customer


# The rebuild's statements, built once with bound parameters: a rebuild runs them for every payment, and
# constructing them per call cost more CPU than executing them.
_NAMES = bindparam("names", expanding=True)
_NEWEST_INVOICES = (
    select(invoices)
    .where(
        invoices.c.site == bindparam("site"),
        invoices.c.customer == bindparam("customer"),
        invoices.c.is_return.is_(False),
    )
    .order_by(invoices.c.posting_date.desc(), invoices.c.name.desc())
    .limit(HISTORY_LIMIT)
)
_ALLOCATIONS = (
    select(
        payment_allocations.c.reference_name,
        payments.c.name,
        payments.c.posting_date,
        payments.c.mode_of_payment,
        payments.c.payment_type,
        payment_allocations.c.allocated_amount,
    )
    .select_from(ALLOCATIONS_WITH_PAYMENTS)
    .where(
        payment_allocations.c.site == bindparam("site"),
        payment_allocations.c.reference_name.in_(_NAMES),
        COUNTED_ALLOCATION,  # bug B11 counted cancelled payments
    )
)
_RET = invoices.alias("ret")
_CREDITS = (
    select(_RET.c.return_against, -func.sum(_RET.c.grand_total))
    .where(
        _RET.c.site == bindparam("site"),
        _RET.c.return_against.in_(_NAMES),
        _RET.c.is_return.is_(True),
        _RET.c.docstatus == 1,
    )
    .group_by(_RET.c.return_against)
)
_COLLECTED = (
    select(mandate_usages.c.invoice, func.min(mandate_usages.c.mandate_id))
    .where(
        mandate_usages.c.site == bindparam("site"),
        mandate_usages.c.invoice.in_(_NAMES),
        mandate_usages.c.status == "Collected",
    )
    .group_by(mandate_usages.c.invoice)
)
_HAS_ALLOCATION = (
    select(payment_allocations.c.payment)
    .where(
        payment_allocations.c.site == payments.c.site,
        payment_allocations.c.payment == payments.c.name,
        payment_allocations.c.reference_doctype == "Sales Invoice",
    )
    .exists()
)
_UNRECONCILED = (
    select(
        payments.c.name,
        payments.c.posting_date,
        payments.c.mode_of_payment,
        payments.c.paid_amount,
        payments.c.reference_no,
    )
    .where(
        payments.c.site == bindparam("site"),
        member_payment(),
        payments.c.party == bindparam("customer"),
        payments.c.docstatus == 1,
        ~_HAS_ALLOCATION,
    )
    .order_by(payments.c.posting_date.desc(), payments.c.name.desc())
)


def history_facts(conn: Connection, site: str, customer: str) -> tuple[list[InvoiceFacts], list[UnreconciledPayment]]:
    """Five queries whatever the history length (bug B10 did ~5 per invoice)."""
    inv_rows = conn.execute(_NEWEST_INVOICES, {"site": site, "customer": customer}).all()
    names = [r.name for r in inv_rows]

    allocations: dict[str, list[Allocation]] = {}
    credited: dict[str, Decimal] = {}
    collected: dict[str, str] = {}
    if names:
        by_names = {"site": site, "names": names}
        for r in conn.execute(_ALLOCATIONS, by_names):
            amount = signed_amount(r.payment_type, r.allocated_amount)
            allocations.setdefault(r.reference_name, []).append(
                Allocation(r.name, r.posting_date, r.mode_of_payment, amount)
            )
        credited = {r[0]: r[1] for r in conn.execute(_CREDITS, by_names)}
        collected = {r[0]: r[1] for r in conn.execute(_COLLECTED, by_names)}

    facts = [
        InvoiceFacts(
            name=r.name,
            posting_date=r.posting_date,
            due_date=r.due_date,
            docstatus=r.docstatus,
            grand_total=r.grand_total,
            membership=r.membership,
            coverage_start=r.coverage_start,
            coverage_end=r.coverage_end,
            allocations=tuple(allocations.get(r.name, ())),
            credited=credited.get(r.name, Decimal(0)),
            collected_by_mandate=collected.get(r.name),
        )
        for r in inv_rows
    ]
    unreconciled = [UnreconciledPayment(*r) for r in conn.execute(_UNRECONCILED, {"site": site, "customer": customer})]
    return facts, unreconciled


def store_history(conn: Connection, site: str, member: str, rows: list[HistoryRow]) -> int:
    """Make the stored projection equal ``rows`` (caller holds the member lock); returns the rows written.

    Only positions whose content changed are written: a payment usually changes one or two rows of a long
    history, and rewriting all of them was most of a rebuild's cost.
    """
    cols = [member_history.c[f] for f in HISTORY_FIELDS]
    where = (member_history.c.site == site, member_history.c.member == member)
    stored = {r[0]: tuple(r) for r in conn.execute(select(*cols).where(*where))}
    changed = [values for values in map(as_tuple, rows) if stored.get(values[0]) != values]
    if changed:
        # executemany form: the statement compiles once and is cached; a multi-row .values([...]) would be
        # compiled anew for every rebuild (370 ms for 900 rows).
        stmt = insert(member_history)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "member", "position"],
            set_={f: stmt.excluded[f] for f in HISTORY_FIELDS if f != "position"},
        )
        conn.execute(
            stmt,
            [{"site": site, "member": member, **dict(zip(HISTORY_FIELDS, values, strict=True))} for values in changed],
        )
    if len(stored) > len(rows):
        conn.execute(member_history.delete().where(*where, member_history.c.position >= len(rows)))
    return len(changed)


def read_history(conn: Connection, site: str, member: str) -> list[HistoryRow]:
    rows = conn.execute(
        select(*(member_history.c[f] for f in HISTORY_FIELDS))
        .where(member_history.c.site == site, member_history.c.member == member)
        .order_by(member_history.c.position)
    ).mappings()
    return [HistoryRow.model_validate(dict(r)) for r in rows]


_SUMMARY_INVOICES = select(
    invoices.c.posting_date,
    invoices.c.grand_total,
    paid_to_invoice().label("paid"),
    credited_to_invoice().label("credited"),
).where(
    invoices.c.site == bindparam("site"),
    invoices.c.customer == bindparam("customer"),
    invoices.c.is_return.is_(False),
    invoices.c.docstatus == 1,
)
_SUMMARY_PAYMENTS = select(payments.c.payment_type, payments.c.posting_date, payments.c.paid_amount).where(
    payments.c.site == bindparam("site"),
    payments.c.party_type == "Customer",
    payments.c.party == bindparam("customer"),
    payments.c.payment_type.in_(("Receive", "Pay")),
    payments.c.docstatus == 1,
)


def summary_facts(conn: Connection, site: str, member: str) -> SummaryFacts:
    """What the member summary is computed from: every submitted invoice (not credit notes) of the member's customer
    with the sums against it, the customer's submitted payments received or paid back, the member's mandates.

    Each comes from its own query: joining invoices × payments would multiply sums (bug B14).
    """
    customer = member_customer(conn, site, member)
    keys = {"site": site, "customer": customer}
    return SummaryFacts(
        member=member,
        invoices=tuple(SummaryInvoice(*r) for r in conn.execute(_SUMMARY_INVOICES, keys)),
        payments=tuple(SummaryPayment(*r) for r in conn.execute(_SUMMARY_PAYMENTS, keys)),
        mandates=mandates_of(conn, site, (member,)),
    )


def member_summary(conn: Connection, site: str, member: str, *, today: dt.date) -> dict[str, Any]:
    """Financial summary over all submitted invoices of the member's customer, for the read API
    (``starter/reads.py``): the ledger's facts through ``domain.history.summarise``."""
    return summarise(summary_facts(conn, site, member), today=today)
