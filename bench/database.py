"""The run's PostgreSQL database: a fresh one, migrated, next to ``--admin-database-url``'s and dropped at the end
(unless ``--keep-database``), or the one ``--database-url`` names, migrated and left in place."""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.migrate import upgrade


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` next to ``admin_url``'s, run the migrations, return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class BenchDatabase:
    def __init__(self, admin_url: str, *, given_url: str | None, run_id: str, keep: bool) -> None:
        self.admin_url = admin_url
        self.given_url = given_url
        self.run_id = run_id
        self.keep = keep
        self.created: str | None = None  # the name of the database this run created (set before it exists)

    async def open(self) -> str:
        """The database's URL, once it exists and is migrated."""
        if self.given_url:
            await asyncio.to_thread(upgrade, self.given_url)
            return self.given_url
        self.created = f"duesflow_bench_{self.run_id}"
        return await asyncio.to_thread(create_database, self.admin_url, self.created)

    async def close(self) -> None:
        if self.created is None:
            return
        if self.keep:
            print(f"database kept: {self.created}")
        else:
            await asyncio.to_thread(drop_database, self.admin_url, self.created)
