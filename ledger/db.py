"""Engine construction: one pool per process, sized to the activity thread pool."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, text


def make_engine(database_url: str, *, pool_size: int = 10, pre_ping: bool = False) -> Engine:
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Workers skip the pre-ping: it costs a round trip per checkout (several per document), and an activity
        # whose connection the server dropped is retried on a fresh one. ERP-facing reads cannot retry: they ping.
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        # Keep the application visible in pg_stat_activity when operators look at locks.
        connect_args={"application_name": "duesflow"},
    )


_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def advisory_xact_lock(conn: Connection, key: str) -> None:
    """Serialise transactions on a name (released at commit/rollback). Hash collisions only serialise more."""
    conn.execute(_LOCK, {"key": key})
