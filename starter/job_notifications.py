"""A user's notifications about their jobs (stored by the pipelines' ``notify`` step): list, count unread, mark
read. Ledger reads and writes only, so they work while Temporal is down. Synchronous: the job API runs them off
the event loop."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from domain.jobs import check_limit
from domain.notifications import Notification
from ledger import notifications
from starter.reads import ledger_errors


def of_user(engine: Engine, site: str, user: str, *, unread_only: bool, limit: int) -> list[Notification]:
    """Newest first, at most ``limit`` (1–100)."""
    check_limit(limit)
    with ledger_errors(engine), engine.begin() as conn:
        return notifications.of_user(conn, site, user, unread_only=unread_only, limit=limit)


def unread_count(engine: Engine, site: str, user: str) -> int:
    with ledger_errors(engine), engine.begin() as conn:
        return notifications.unread_count(conn, site, user)


def mark_read(engine: Engine, site: str, user: str, ids: Sequence[int] | None) -> int:
    """All of the user's notifications when ``ids`` is None; returns how many changed."""
    with ledger_errors(engine), engine.begin() as conn:
        return notifications.mark_read(conn, site, user, ids)
