"""Alembic environment: online migrations only, against the URL ``ledger.migrate`` puts in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from ledger.schema import metadata

config = context.config

# Two processes migrating at once (worker + stack) must not race: a transaction-level advisory lock serialises them.
MIGRATION_LOCK = 7_311_004


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("duesflow runs migrations online only: use `duesflow db upgrade`")
run_migrations_online()
