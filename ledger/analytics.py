"""Payment analytics (domain.md §5): one fact per payment, keyed by its name, so retries never double-count.

Totals are aggregates over the facts, not running counters that a retry could bump twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from ledger.documents import lock_payment
from ledger.schema import members, payment_facts


def sync_fact(conn: Connection, site: str, payment_name: str) -> str:
    """Make the payment's fact match its ledger state: present while submitted, gone once cancelled.

    The payment row is locked, so a late "record" from the submission's pipeline and the cancellation's
    "reverse" serialise, and whichever runs last sees the final state: the result is order-independent.
    """
    p = lock_payment(conn, site, payment_name)
    if p.docstatus == 2:
        gone = conn.execute(
            payment_facts.delete().where(payment_facts.c.site == site, payment_facts.c.payment == payment_name)
        )
        return "fact reversed" if gone.rowcount else "fact already reversed"
    row = conn.execute(
        insert(payment_facts)
        .values(
            site=site,
            payment=p.name,
            posting_date=p.posting_date,
            mode_of_payment=p.mode_of_payment or "Unspecified",
            customer=p.party,
            # Money paid back (a SEPA return) lowers the day's and the member's totals.
            amount=-p.paid_amount if p.payment_type == "Pay" else p.paid_amount,
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


def method_statistics(conn: Connection, site: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            payment_facts.c.mode_of_payment,
            func.count().label("count"),
            func.sum(payment_facts.c.amount).label("total"),
            func.avg(payment_facts.c.amount).label("average"),
        )
        .where(payment_facts.c.site == site)
        .group_by(payment_facts.c.mode_of_payment)
        .order_by(payment_facts.c.mode_of_payment)
    ).mappings()
    return [{**r, "average": Decimal(r["average"]).quantize(Decimal("0.01"))} for r in rows]


def member_totals(conn: Connection, site: str, member: str) -> dict[str, Any]:
    """Totals of the member's customer account (a family's members share one account)."""
    customer = select(members.c.customer).where(members.c.site == site, members.c.name == member).scalar_subquery()
    r = conn.execute(
        select(
            func.count().label("count"),
            func.coalesce(func.sum(payment_facts.c.amount), 0).label("paid_to_date"),
            func.max(payment_facts.c.posting_date).label("last_payment_date"),
        ).where(payment_facts.c.site == site, payment_facts.c.customer == customer)
    ).one()
    return {"member": member, **r._mapping}
