"""The upkeep jobs' queries: mandate lifecycle facts, the analytics roll-up, audit retention. Each is written so a
second run on the same day finds nothing left to do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Connection, and_, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert

from domain.mandates import LIFECYCLE_STATUSES, PRESENTED_USAGE_STATUSES
from domain.upkeep import MandateFacts
from ledger.schema import (
    analytics_rollups,
    audit_records,
    mandate_usages,
    mandate_warnings,
    mandates,
    payment_monthly_summaries,
)


def mandate_facts(conn: Connection, site: str | None) -> list[MandateFacts]:
    """Mandates that can still change (Active, Suspended) with their newest presented collection."""
    presented = (
        select(func.max(mandate_usages.c.collection_date))
        .where(
            mandate_usages.c.site == mandates.c.site,
            mandate_usages.c.mandate_id == mandates.c.mandate_id,
            mandate_usages.c.status.in_(PRESENTED_USAGE_STATUSES),
        )
        .scalar_subquery()
    )
    warned = (
        select(literal(True))
        .where(
            mandate_warnings.c.site == mandates.c.site,
            mandate_warnings.c.mandate_id == mandates.c.mandate_id,
            mandate_warnings.c.expiry_date == mandates.c.expiry_date,
        )
        .exists()
    )
    query = select(
        mandates.c.site,
        mandates.c.mandate_id,
        mandates.c.member,
        mandates.c.status,
        mandates.c.sign_date,
        mandates.c.expiry_date,
        func.greatest(presented, mandates.c.last_collection_date).label("last_presented"),
        warned.label("warned"),
    ).where(mandates.c.status.in_(LIFECYCLE_STATUSES))
    if site is not None:
        query = query.where(mandates.c.site == site)
    return [MandateFacts(*row) for row in conn.execute(query.order_by(mandates.c.site, mandates.c.mandate_id))]


def expire_mandate(conn: Connection, site: str, mandate_id: str) -> bool:
    """Expired, unless the row changed status meanwhile (the ERP's import may have touched it)."""
    result = conn.execute(
        mandates.update()
        .where(
            mandates.c.site == site,
            mandates.c.mandate_id == mandate_id,
            mandates.c.status.in_(LIFECYCLE_STATUSES),
        )
        .values(status="Expired", updated_at=func.now())
    )
    return result.rowcount == 1


def claim_warning(conn: Connection, site: str, mandate_id: str, expiry: dt.date, on_date: dt.date) -> bool:
    """True for the one run that gets to warn about this expiry date; the row commits with the mail sent."""
    row = conn.execute(
        insert(mandate_warnings)
        .values(site=site, mandate_id=mandate_id, kind="expiry", expiry_date=expiry, warned_on=on_date)
        .on_conflict_do_nothing()
        .returning(mandate_warnings.c.mandate_id)
    ).first()
    return row is not None


# One statement: the facts leave and their sums arrive together, so a crash in between cannot count twice.
_ROLL_UP = text(
    """
    WITH moved AS (
        DELETE FROM payment_facts
        WHERE posting_date < :before AND (CAST(:site AS text) IS NULL OR site = :site)
        RETURNING site, posting_date, mode_of_payment, customer, amount
    ), grouped AS (
        SELECT site, CAST(date_trunc('month', posting_date) AS date) AS month, mode_of_payment, customer,
               count(*) AS count, sum(amount) AS total, max(posting_date) AS last_posting_date
        FROM moved GROUP BY 1, 2, 3, 4
    ), upserted AS (
        INSERT INTO payment_monthly_summaries
            (site, month, mode_of_payment, customer, count, total, last_posting_date)
        SELECT * FROM grouped
        ON CONFLICT (site, month, mode_of_payment, customer) DO UPDATE SET
            count = payment_monthly_summaries.count + excluded.count,
            total = payment_monthly_summaries.total + excluded.total,
            last_posting_date = greatest(payment_monthly_summaries.last_posting_date, excluded.last_posting_date)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM moved) AS facts, (SELECT count(*) FROM upserted) AS summaries,
           ARRAY(SELECT DISTINCT site FROM moved) AS sites
    """
)


def roll_up_facts(conn: Connection, before: dt.date, site: str | None) -> tuple[int, int]:
    """Move facts posted before ``before`` into monthly summaries; returns (facts rolled up, summaries touched)."""
    row = conn.execute(_ROLL_UP, {"before": before, "site": site}).one()
    sites = set(row.sites) | ({site} if site else set())
    for s in sorted(sites):
        stmt = insert(analytics_rollups).values(site=s, before=before)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["site"],
                set_={
                    "before": func.greatest(analytics_rollups.c.before, stmt.excluded.before),
                    "updated_at": func.now(),
                },
            )
        )
    return row.facts, row.summaries


def rolled_up_before(conn: Connection, site: str) -> dt.date | None:
    return conn.execute(select(analytics_rollups.c.before).where(analytics_rollups.c.site == site)).scalar()


def withdraw_from_summary(
    conn: Connection, site: str, posting_date: dt.date, mode: str, customer: str, amount: Decimal
) -> None:
    """A cancelled payment whose fact was already rolled up leaves its month's summary."""
    month = posting_date.replace(day=1)
    conn.execute(
        payment_monthly_summaries.update()
        .where(
            and_(
                payment_monthly_summaries.c.site == site,
                payment_monthly_summaries.c.month == month,
                payment_monthly_summaries.c.mode_of_payment == mode,
                payment_monthly_summaries.c.customer == customer,
            )
        )
        .values(
            count=payment_monthly_summaries.c.count - 1,
            total=payment_monthly_summaries.c.total - amount,
        )
    )


def purge_audit(conn: Connection, cutoffs: dict[str, dt.datetime], site: str | None) -> dict[str, int]:
    """Delete audit records past their severity's retention; returns the count per severity."""
    deleted = {}
    for severity, cutoff in sorted(cutoffs.items()):
        stmt = audit_records.delete().where(audit_records.c.severity == severity, audit_records.c.at < cutoff)
        if site is not None:
            stmt = stmt.where(audit_records.c.site == site)
        deleted[severity] = conn.execute(stmt).rowcount
    return deleted
