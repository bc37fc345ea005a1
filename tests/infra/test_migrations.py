"""Alembic migrations on a fresh real PostgreSQL database: head matches the SQLAlchemy tables exactly, and every
revision downgrades and upgrades again (a deploy can be rolled back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from ledger.migrate import downgrade, upgrade
from ledger.schema import metadata


@pytest.fixture
def fresh_url(admin_url: str) -> Iterator[str]:
    name = f"duesflow_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_head_matches_the_tables_and_every_revision_rolls_back(fresh_url: str) -> None:
    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        downgrade(fresh_url, "0001")
        tables = set(inspect(engine).get_table_names())
        assert "dunning_cases" not in tables and "reminder_messages" not in tables and "payments" in tables
        downgrade(fresh_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(fresh_url)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
