"""Payment analytics (docs/business-rules.md §5): one fact per payment, keyed by its name, so retries never
double-count.

Totals are aggregates over the facts, not running counters that a retry could bump twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Subquery, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert

from domain import audit_keys
from ledger import audit
from ledger.documents import lock_payment
from ledger.schema import members, payment_facts, payment_monthly_summaries
from ledger.upkeep import rolled_up_before, withdraw_from_summary


def sync_fact(conn: Connection, site: str, payment_name: str) -> str:
    """Make the payment's fact match its ledger state: present while submitted, gone once cancelled.

    The payment row is locked, so a late "record" from the submission's pipeline and the cancellation's
    "reverse" serialise, and whichever runs last sees the final state: the result is order-independent.
    """
    p = lock_payment(conn, site, payment_name)
    amount = -p.paid_amount if p.payment_type == "Pay" else p.paid_amount
    mode = p.mode_of_payment or "Unspecified"
    if p.docstatus == 2:
        gone = conn.execute(
            payment_facts.delete().where(payment_facts.c.site == site, payment_facts.c.payment == payment_name)
        )
        if gone.rowcount:
            return "fact reversed"
        before = rolled_up_before(conn, site)
        if before is not None and p.posting_date < before and _first_withdrawal(conn, site, payment_name):
            withdraw_from_summary(conn, site, p.posting_date, mode, p.party, amount)
            return "fact reversed from its monthly summary"
        return "fact already reversed"
    row = conn.execute(
        insert(payment_facts)
        .values(
            site=site,
            payment=p.name,
            posting_date=p.posting_date,
            mode_of_payment=mode,
            customer=p.party,
            # Money paid back (a SEPA return) lowers the day's and the member's totals.
            amount=amount,
        )
        .on_conflict_do_nothing(index_elements=["site", "payment"])
        .returning(payment_facts.c.payment)
    ).first()
    return "fact recorded" if row is not None else "fact already recorded"


def daily_totals(conn: Connection, site: str, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            payment_facts.c.posting_date,
            payment_facts.c.mode_of_payment,
            func.count().label("count"),
            func.sum(payment_facts.c.amount).label("total"),
        )
        .where(payment_facts.c.site == site, payment_facts.c.posting_date.between(date_from, date_to))
        .group_by(payment_facts.c.posting_date, payment_facts.c.mode_of_payment)
        .order_by(payment_facts.c.posting_date, payment_facts.c.mode_of_payment)
    ).mappings()
    return [dict(r) for r in rows]


def _facts_and_summaries(site: str) -> Subquery:
    """Every payment counted: recent ones as detail facts, older ones through their monthly summaries."""
    facts = select(
        payment_facts.c.mode_of_payment,
        payment_facts.c.customer,
        literal(1).label("count"),
        payment_facts.c.amount.label("total"),
        payment_facts.c.posting_date.label("last_posting_date"),
    ).where(payment_facts.c.site == site)
    sums = select(
        payment_monthly_summaries.c.mode_of_payment,
        payment_monthly_summaries.c.customer,
        payment_monthly_summaries.c.count,
        payment_monthly_summaries.c.total,
        payment_monthly_summaries.c.last_posting_date,
    ).where(payment_monthly_summaries.c.site == site, payment_monthly_summaries.c.count > 0)
    return union_all(facts, sums).subquery()


def method_statistics(conn: Connection, site: str) -> list[dict[str, Any]]:
    every = _facts_and_summaries(site)
    rows = conn.execute(
        select(
            every.c.mode_of_payment,
            func.sum(every.c.count).label("count"),
            func.sum(every.c.total).label("total"),
        )
        .group_by(every.c.mode_of_payment)
        .order_by(every.c.mode_of_payment)
    ).mappings()
    return [{**r, "average": (Decimal(r["total"]) / r["count"]).quantize(Decimal("0.01"))} for r in rows if r["count"]]


def member_totals(conn: Connection, site: str, member: str) -> dict[str, Any]:
    """Totals of the member's customer account (a family's members share one account)."""
    customer = select(members.c.customer).where(members.c.site == site, members.c.name == member).scalar_subquery()
    every = _facts_and_summaries(site)
    r = conn.execute(
        select(
            func.coalesce(func.sum(every.c.count), 0).label("count"),
            func.coalesce(func.sum(every.c.total), 0).label("paid_to_date"),
            func.max(every.c.last_posting_date).label("last_payment_date"),
        ).where(every.c.customer == customer)
    ).one()
    return {"member": member, **r._mapping}


def _first_withdrawal(conn: Connection, site: str, payment_name: str) -> bool:
    """The audit record is the once-only guard: a retried reversal finds it and leaves the summary alone."""
    return audit.append(
        conn,
        audit.AuditEntry(
            actor="duesflow",
            site=site,
            doctype="Payment Entry",
            name=payment_name,
            event="summary_withdrawn",
            step="analytics",
            outcome="a cancelled payment left its rolled-up monthly summary",
            dedupe_key=audit_keys.document_event(site, "Payment Entry", payment_name, "summary-withdrawn"),
        ),
    )
