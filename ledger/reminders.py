"""Dunning cases and the reminders sent (docs/business-rules.md §6). A case row per invoice is the lock every
reminder step of that invoice takes; a message row per (invoice, level) is what makes each level go out once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select
from sqlalchemy.dialects.postgresql import insert

from domain import audit_keys
from domain.balances import InvoiceStanding
from domain.reminders import CLOSED_STATES, OPEN_STATES, CaseState, ReminderView, reminder_recipient
from ledger import audit
from ledger.documents import credited_to_invoice, outstanding_of_invoice, owes, paid_to_invoice
from ledger.schema import dunning_cases, invoices, members, reminder_messages


@dataclass(frozen=True)
class Contact:
    full_name: str
    email: str | None


def open_case(conn: Connection, site: str, invoice: str, member: str, next_due: dt.datetime, workflow_id: str) -> Row:
    """Create the case once (a retried or re-run flow finds the one it made) and return it locked."""
    conn.execute(
        insert(dunning_cases)
        .values(
            site=site,
            invoice=invoice,
            member=member,
            state="scheduled",
            next_level=1,
            next_due=next_due,
            workflow_id=workflow_id,
        )
        .on_conflict_do_nothing(index_elements=["site", "invoice"])
    )
    case = lock_case(conn, site, invoice)
    assert case is not None
    return case


def lock_case(conn: Connection, site: str, invoice: str) -> Row | None:
    return conn.execute(
        select(dunning_cases).where(dunning_cases.c.site == site, dunning_cases.c.invoice == invoice).with_for_update()
    ).first()


_STANDING = select(
    invoices.c.docstatus,
    func.coalesce(invoices.c.due_date, invoices.c.posting_date).label("due_date"),
    invoices.c.grand_total,
    paid_to_invoice().label("paid"),
    credited_to_invoice().label("credited"),
)


def invoice_standing(conn: Connection, site: str, invoice: str) -> InvoiceStanding | None:
    """The invoice with the ledger's sums of its payments and credit notes (what it owes is computed from them,
    never a stored field)."""
    row = conn.execute(_STANDING.where(invoices.c.site == site, invoices.c.name == invoice)).first()
    if row is None:
        return None
    return InvoiceStanding(row.docstatus, row.due_date, row.grand_total, Decimal(row.paid), Decimal(row.credited))


def contact(conn: Connection, site: str, member: str) -> Contact | None:
    row = conn.execute(
        select(members.c.full_name, members.c.email).where(members.c.site == site, members.c.name == member)
    ).first()
    return None if row is None else Contact(row.full_name or member, row.email or None)


def sent_message(conn: Connection, site: str, invoice: str, level: int) -> Row | None:
    return conn.execute(
        select(reminder_messages).where(
            reminder_messages.c.site == site,
            reminder_messages.c.invoice == invoice,
            reminder_messages.c.level == level,
        )
    ).first()


def record_message(conn: Connection, **values: Any) -> None:
    conn.execute(insert(reminder_messages).values(**values))


def _state_values(state: CaseState) -> dict[str, Any]:
    """A closed case has no next level and records when it closed."""
    closing = {"closed_at": func.now(), "next_level": None, "next_due": None} if state in CLOSED_STATES else {}
    return {"state": state, "updated_at": func.now(), **closing}


def update_case(conn: Connection, site: str, invoice: str, state: CaseState, **values: Any) -> None:
    conn.execute(
        dunning_cases.update()
        .where(dunning_cases.c.site == site, dunning_cases.c.invoice == invoice)
        .values(**_state_values(state), **values)
    )


def view(conn: Connection, site: str, invoice: str) -> ReminderView | None:
    case = conn.execute(
        select(dunning_cases).where(dunning_cases.c.site == site, dunning_cases.c.invoice == invoice)
    ).first()
    if case is None:
        return None
    sent = conn.execute(
        select(
            reminder_messages.c.level,
            reminder_messages.c.outcome,
            reminder_messages.c.sent_at,
            reminder_messages.c.message_id,
            reminder_messages.c.days_overdue,
            reminder_messages.c.amount,
        )
        .where(reminder_messages.c.site == site, reminder_messages.c.invoice == invoice)
        .order_by(reminder_messages.c.level)
    ).mappings()
    rows = [dict(r) for r in sent]
    return ReminderView(
        site=site,
        invoice=invoice,
        member=case.member,
        state=case.state,
        levels_sent=[r["level"] for r in rows],
        next_level=case.next_level,
        next_due=case.next_due,
        sent=rows,
    )


def handed_off(conn: Connection, site: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            dunning_cases.c.invoice,
            dunning_cases.c.member,
            dunning_cases.c.levels_sent,
            dunning_cases.c.closed_at.label("handed_off_at"),
            invoices.c.due_date,
            invoices.c.grand_total,
            outstanding_of_invoice().label("outstanding"),
        )
        .join(invoices, and_(invoices.c.site == dunning_cases.c.site, invoices.c.name == dunning_cases.c.invoice))
        .where(dunning_cases.c.site == site, dunning_cases.c.state == "handed_off")
        .order_by(dunning_cases.c.closed_at, dunning_cases.c.invoice)
    ).mappings()
    return [dict(r) for r in rows]


def open_invoices(conn: Connection, site: str, on_date: dt.date) -> list[dict[str, Any]]:
    """Submitted invoices (not credit notes) due on or before ``on_date`` that still owe money, with the member their
    reminders go to (``domain.reminders.reminder_recipient``, from the invoice's member and the customer's first
    member by name, the same order step 1 lists a customer's members in)."""
    first_member = (
        select(func.min(members.c.name))
        .where(members.c.site == invoices.c.site, members.c.customer == invoices.c.customer)
        .scalar_subquery()
    )
    outstanding = outstanding_of_invoice().label("outstanding")
    due = func.coalesce(invoices.c.due_date, invoices.c.posting_date)
    inner = (
        select(
            invoices.c.name.label("invoice"),
            invoices.c.member.label("invoice_member"),
            first_member.label("first_member"),
            due.label("due_date"),
            outstanding,
        )
        .where(
            invoices.c.site == site,
            invoices.c.docstatus == 1,
            invoices.c.is_return.is_(False),
            due <= on_date,
        )
        .subquery()
    )
    found = []
    for row in conn.execute(select(inner).where(owes(inner.c.outstanding))):
        first = [row.first_member] if row.first_member is not None else []
        found.append(
            {
                "invoice": row.invoice,
                "member": reminder_recipient(row.invoice_member, first),
                "due_date": row.due_date,
                "outstanding": row.outstanding,
            }
        )
    return sorted(found, key=lambda r: (r["member"] is None, r["member"] or "", r["due_date"]))


def case_counts(conn: Connection, site: str) -> dict[str, int]:
    """How many dunning cases are in each state."""
    rows = conn.execute(
        select(dunning_cases.c.state, func.count()).where(dunning_cases.c.site == site).group_by(dunning_cases.c.state)
    )
    return {state: count for state, count in rows}


def close_settled(conn: Connection, site: str, invoices: list[str]) -> list[str]:
    """Step 1 of a payment that settles these invoices closes their open cases in its own transaction (waiting for a
    reminder being sent right now to commit first); returns the ones it closed. Their flows are then told to end
    and need no ledger call of their own."""
    if not invoices:
        return []
    rows = conn.execute(
        dunning_cases.update()
        .where(
            dunning_cases.c.site == site,
            dunning_cases.c.invoice.in_(invoices),
            dunning_cases.c.state.in_(OPEN_STATES),
        )
        .values(**_state_values("settled"))
        .returning(dunning_cases.c.invoice)
    ).all()
    return sorted(r.invoice for r in rows)


def reminders_ended_entry(site: str, actor: str, invoice: str, reason: str) -> audit.AuditEntry:
    """The audit record of a case's end, whichever path closed it (a case closes once: one key per invoice)."""
    return audit.AuditEntry(
        actor=actor,
        site=site,
        doctype="Sales Invoice",
        name=invoice,
        event=f"reminders_ended_{reason}",
        step="reminders",
        outcome=reason,
        dedupe_key=audit_keys.document_event(site, "Sales Invoice", invoice, "reminders_ended"),
    )
