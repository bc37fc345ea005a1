"""Import of Customer / Member / SEPA Mandate documents: all validated first, then upserted in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from domain.contracts import Customer, Member, SepaMandate
from domain.ids import check_site
from domain.parsing import parse_reference
from domain.verdicts import DocumentRejected, FieldError
from ledger.reference import upsert_customers, upsert_mandates, upsert_members

CHUNK = 200


@dataclass(frozen=True)
class ImportReport:
    customers: int
    members: int
    mandates: int


def parse_all(docs: Sequence[Any], *, currency: str, today: dt.date) -> list[Customer | Member | SepaMandate]:
    """Every document's errors, each field prefixed with its position, or the parsed documents."""
    if not isinstance(docs, list | tuple):
        raise DocumentRejected(
            [FieldError(field="docs", code="not_a_list", message="must be a list of Customer, Member and SEPA Mandate")]
        )
    parsed: list[Customer | Member | SepaMandate] = []
    errors: list[FieldError] = []
    for i, raw in enumerate(docs):
        try:
            parsed.append(parse_reference(raw, currency=currency, today=today))
        except DocumentRejected as exc:
            name = raw.get("name") if isinstance(raw, dict) else None
            prefix = f"docs[{i}]" + (f" ({name})" if name else "")
            errors += [e.model_copy(update={"field": f"{prefix}.{e.field}"}) for e in exc.errors]
    if errors:
        raise DocumentRejected(errors)
    return parsed


def load_reference_data(
    engine: Engine,
    docs: Sequence[Any],
    *,
    site: str,
    currency: str,
    today: dt.date,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Upsert customers, then members, then mandates; nothing is written unless every document is valid."""
    check_site(site)
    parsed = parse_all(docs, currency=currency, today=today)
    customers = [d for d in parsed if isinstance(d, Customer)]
    members = [d for d in parsed if isinstance(d, Member)]
    mandates = [d for d in parsed if isinstance(d, SepaMandate)]
    done = 0
    with engine.begin() as conn:
        for kind, upsert in ((customers, upsert_customers), (members, upsert_members), (mandates, upsert_mandates)):
            for i in range(0, len(kind), CHUNK):
                batch = kind[i : i + CHUNK]
                upsert(conn, site, batch)  # type: ignore[arg-type]
                done += len(batch)
                if on_progress:
                    on_progress(done, len(parsed))
    return ImportReport(len(customers), len(members), len(mandates))
