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
from ledger.schema import members, payment_facts, payment_monthly_summaries


def delete_fact(conn: Connection, site: str, payment: str) -> bool:
    """Remove the payment's fact; False when there was none (reversed already, or rolled up)."""
    gone = conn.execute(payment_facts.delete().where(payment_facts.c.site == site, payment_facts.c.payment == payment))
    return gone.rowcount > 0


def insert_fact(
    conn: Connection, site: str, payment: str, posting_date: dt.date, mode: str, customer: str | None, amount: Decimal
) -> bool:
    """Record the payment's fact once; False when it was already recorded (keyed by the payment's name)."""
    row = conn.execute(
        insert(payment_facts)
        .values(
            site=site,
            payment=payment,
            posting_date=posting_date,
            mode_of_payment=mode,
            customer=customer,
            amount=amount,
        )
        .on_conflict_do_nothing(index_elements=["site", "payment"])
        .returning(payment_facts.c.payment)
    ).first()
    return row is not None


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


def first_withdrawal(conn: Connection, site: str, payment_name: str) -> bool:
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
