"""The append-only audit trail. Every write carries a dedupe key, so a retried step never appends twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects.postgresql import insert

from ledger.schema import audit_records

SEVERITIES = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    site: str
    doctype: str
    name: str
    event: str
    dedupe_key: str
    step: str | None = None
    severity: str = "info"
    amount: Decimal | None = None
    mode_of_payment: str | None = None
    outcome: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None
    run_id: str | None = None


# Built once: every step of every document appends, and building the statement per call cost more than running it.
_APPEND = insert(audit_records).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(audit_records.c.id)


def append(conn: Connection, entry: AuditEntry) -> bool:
    """Append once; returns False when this key was already recorded (a retry or a replay)."""
    if entry.severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {entry.severity!r}")
    return conn.execute(_APPEND, entry.__dict__).first() is not None


_FIND = select(audit_records).where(audit_records.c.dedupe_key == bindparam("key"))


def find(conn: Connection, dedupe_key: str) -> dict[str, Any] | None:
    row = conn.execute(_FIND, {"key": dedupe_key}).mappings().first()
    return dict(row) if row else None


def trail(conn: Connection, site: str, doctype: str, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(audit_records)
        .where(audit_records.c.site == site, audit_records.c.doctype == doctype, audit_records.c.name == name)
        .order_by(audit_records.c.at, audit_records.c.id)
    ).mappings()
    return [dict(r) for r in rows]
