"""Upserts of the reference data the ERP owns: customers, members, SEPA mandates.

Each upsert runs in executemany form, so its statement compiles once (a multi-row VALUES recompiles per call).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert

from domain.contracts import Customer, Member, SepaMandate
from ledger.schema import customers, mandates, members


def upsert_customers(conn: Connection, site: str, docs: Sequence[Customer]) -> None:
    if not docs:
        return
    stmt = insert(customers)
    stmt = stmt.on_conflict_do_update(
        index_elements=["site", "name"],
        set_={"customer_name": stmt.excluded.customer_name, "updated_at": func.now()},
    )
    conn.execute(stmt, [{"site": site, "name": d.name, "customer_name": d.customer_name} for d in docs])


def upsert_members(conn: Connection, site: str, docs: Sequence[Member]) -> None:
    if not docs:
        return
    fields = ("customer", "full_name", "email", "status", "payment_method")
    stmt = insert(members)
    stmt = stmt.on_conflict_do_update(
        index_elements=["site", "name"],
        set_={**{f: stmt.excluded[f] for f in fields}, "updated_at": func.now()},
    )
    conn.execute(stmt, [{"site": site, "name": d.name, **{f: getattr(d, f) for f in fields}} for d in docs])


def upsert_mandates(conn: Connection, site: str, docs: Sequence[SepaMandate]) -> None:
    """The ERP owns the mandate's terms; the ledger owns last_collection_date and sequence_state, kept on update."""
    if not docs:
        return
    fields = (
        "member",
        "account_holder_name",
        "iban",
        "bic",
        "sign_date",
        "expiry_date",
        "status",
        "frequency",
        "maximum_amount",
    )
    stmt = insert(mandates)
    stmt = stmt.on_conflict_do_update(
        index_elements=["site", "mandate_id"],
        set_={**{f: stmt.excluded[f] for f in fields}, "updated_at": func.now()},
    )
    conn.execute(stmt, [{"site": site, "mandate_id": d.mandate_id, **{f: getattr(d, f) for f in fields}} for d in docs])
