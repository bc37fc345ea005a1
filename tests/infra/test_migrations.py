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


def test_mandates_stored_in_printed_form_become_compact(fresh_url: str) -> None:
    """Rows imported before the contract normalised IBAN and BIC (printed form, lower case) get the form new
    imports have, so the last-four-digits display and comparisons see one spelling."""
    upgrade(fresh_url, "0003")
    engine = create_engine(fresh_url)
    insert = text(
        "INSERT INTO mandates (site, mandate_id, member, iban, bic, sign_date, status) "
        "VALUES ('s', :id, 'm', :iban, :bic, '2024-01-01', 'Active')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"id": "printed", "iban": "nl91 abna 0417 1643 00", "bic": "abna nl2a"})
            conn.execute(insert, {"id": "blank-bic", "iban": "NL20INGB0001234567", "bic": " "})
            conn.execute(insert, {"id": "compact", "iban": "NL44RABO0123456789", "bic": None})
        upgrade(fresh_url)
        with engine.connect() as conn:
            rows = {r.mandate_id: (r.iban, r.bic) for r in conn.execute(text("SELECT * FROM mandates"))}
        assert rows == {
            "printed": ("NL91ABNA0417164300", "ABNANL2A"),
            "blank-bic": ("NL20INGB0001234567", None),
            "compact": ("NL44RABO0123456789", None),
        }
    finally:
        engine.dispose()
