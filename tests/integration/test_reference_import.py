"""Reference data on real PostgreSQL: bank identifiers entered in their printed form are stored compact, so the
mandate read shows the real last four characters of the IBAN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from ledger.cache import ReadCache
from ledger.schema import mandates
from starter.reads import LedgerReads
from starter.reference_data import load_reference_data
from tests import builders as b


def test_a_printed_iban_is_stored_compact_and_shown_by_its_last_four(
    engine: Engine, cache: ReadCache, site: str
) -> None:
    mandate = {**b.mandate("MD-PRINTED", "M1"), "iban": "nl91 abna 0417 1643 00", "bic": "abna nl2a"}
    load_reference_data(
        engine, [b.customer("C1"), b.member("M1", "C1"), mandate], site=site, currency="EUR", today=dt.date.today()
    )
    with engine.connect() as conn:
        stored = conn.execute(select(mandates.c.iban, mandates.c.bic).where(mandates.c.site == site)).one()
    assert tuple(stored) == ("NL91ABNA0417164300", "ABNANL2A")
    shown = LedgerReads(engine, cache).mandate(site, "MD-PRINTED")
    assert shown is not None and shown.iban_last4 == "4300"
