"""Engine construction: one pool per process, sized to the activity thread pool."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Keep the application visible in pg_stat_activity when operators look at locks.
        connect_args={"application_name": "duesflow"},
    )
