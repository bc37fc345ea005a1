"""Engine construction: one pool per process, sized to the activity thread pool."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from domain.errors import LedgerUnavailable


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


def address_of(database_url: str) -> str:
    """host:port of a database URL, for messages (never the password)."""
    url = make_url(database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def is_unavailable(exc: BaseException) -> bool:
    """True when the database did not answer (refused, down, restarting), as opposed to refusing a statement."""
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # psycopg reports a failed connection without a SQLSTATE; class 08 is "connection exception", 57P0x a shutdown.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}


def unavailable(exc: BaseException, database_url: str) -> LedgerUnavailable:
    """The duesflow error for a database that did not answer, naming its address and the variable to check."""
    return LedgerUnavailable(address_of(database_url), "is PostgreSQL running? check DUESFLOW_DATABASE_URL")
