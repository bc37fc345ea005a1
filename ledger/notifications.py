"""Notifications to the submitting user: the ledger row is the record (nothing is lost when nobody listens);
Redis pub/sub only tells live UIs that a row arrived."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from domain.notifications import Notice, Notification
from domain.users import normalise_user
from ledger.schema import notifications as t


def record(conn: Connection, notice: Notice, workflow_id: str, run_id: str) -> Notification | None:
    """Store once per workflow run; returns None when this run's notification is already stored."""
    row = (
        conn.execute(
            insert(t)
            .values(
                site=notice.site,
                user_name=normalise_user(notice.user),
                workflow_id=workflow_id,
                run_id=run_id,
                doctype=notice.doctype,
                name=notice.name,
                kind=notice.kind,
                message=notice.message,
            )
            .on_conflict_do_nothing(index_elements=["site", "workflow_id", "run_id"])
            .returning(*_COLUMNS)
        )
        .mappings()
        .first()
    )
    return Notification.model_validate(dict(row)) if row else None


_COLUMNS = (
    t.c.id,
    t.c.site,
    t.c.workflow_id,
    t.c.doctype,
    t.c.name,
    t.c.kind,
    t.c.message,
    t.c.created_at,
    t.c.read_at,
)


def of_user(conn: Connection, site: str, user: str, *, unread_only: bool = True, limit: int = 50) -> list[Notification]:
    query = select(*_COLUMNS).where(t.c.site == site, t.c.user_name == normalise_user(user))
    if unread_only:
        query = query.where(t.c.read_at.is_(None))
    rows = conn.execute(query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)).mappings()
    return [Notification.model_validate(dict(r)) for r in rows]


def unread_count(conn: Connection, site: str, user: str) -> int:
    return conn.execute(
        select(func.count()).where(t.c.site == site, t.c.user_name == normalise_user(user), t.c.read_at.is_(None))
    ).scalar_one()


def mark_read(conn: Connection, site: str, user: str, ids: Sequence[int] | None = None) -> int:
    """Mark the user's own notifications read (``ids=None``: all of them); returns how many changed. Ids of
    another user's notifications are simply not matched."""
    stmt = update(t).where(t.c.site == site, t.c.user_name == normalise_user(user), t.c.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(t.c.id.in_(list(ids)))
    return conn.execute(stmt.values(read_at=func.now())).rowcount


def delete_older_than(conn: Connection, site: str, cutoff: dt.datetime) -> int:
    return conn.execute(delete(t).where(t.c.site == site, t.c.created_at < cutoff)).rowcount
