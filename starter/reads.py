"""Read API for ERP screens (synchronous: Frappe calls it from request handlers).

History and summary go through the Redis cache; everything else reads the ledger directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, select

from domain.history import HistoryRow
from domain.ids import check_site
from domain.reminders import OverdueLine, ReminderView, overdue_report
from ledger import analytics, audit, sepa
from ledger import reminders as dunning
from ledger.cache import TTL_FINANCIAL, ReadCache, history_key, summary_key
from ledger.history import UnknownMember, read_history
from ledger.history import member_summary as summary_query
from ledger.schema import mandate_usages, mandates

_HISTORY = TypeAdapter(list[HistoryRow])
_SUMMARY = TypeAdapter(dict[str, Any])


class LedgerReads:
    def __init__(self, engine: Engine, cache: ReadCache, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._engine = engine
        self._cache = cache
        self._today = today

    def member_history(self, site: str, member: str) -> list[HistoryRow]:
        check_site(site)

        def load() -> list[HistoryRow]:
            with self._engine.connect() as conn:
                return read_history(conn, site, member)

        return self._cache.get_or_load(history_key(site, member), TTL_FINANCIAL, _HISTORY, load)

    def member_summary(self, site: str, member: str) -> dict[str, Any]:
        """Raises LookupError for a member the ledger does not know."""
        check_site(site)

        def load() -> dict[str, Any]:
            with self._engine.connect() as conn:
                return summary_query(conn, site, member, today=self._today())

        try:
            return self._cache.get_or_load(summary_key(site, member), TTL_FINANCIAL, _SUMMARY, load)
        except UnknownMember:
            raise LookupError(f"member {member!r} is not known on site {site!r}") from None

    def mandate(self, site: str, mandate_id: str) -> dict[str, Any] | None:
        """The mandate without its IBAN in full (last 4 digits only), with its usages and sequence state."""
        check_site(site)
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(mandates).where(mandates.c.site == site, mandates.c.mandate_id == mandate_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            usages = conn.execute(
                select(mandate_usages)
                .where(mandate_usages.c.site == site, mandate_usages.c.mandate_id == mandate_id)
                .order_by(mandate_usages.c.collection_date, mandate_usages.c.id)
            ).mappings()
            result = {k: v for k, v in row.items() if k != "iban"}
            result["iban_last4"] = row["iban"][-4:]
            result["usages"] = [dict(u) for u in usages]
            return result

    def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
        check_site(site)
        if date_from > date_to:
            raise ValueError(f"date_from ({date_from}) must not be after date_to ({date_to})")
        with self._engine.connect() as conn:
            return analytics.daily_totals(conn, site, date_from, date_to)

    def member_totals(self, site: str, member: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            return analytics.member_totals(conn, check_site(site), member)

    def method_statistics(self, site: str) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return analytics.method_statistics(conn, check_site(site))

    def audit_trail(self, site: str, doctype: str, name: str) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return audit.trail(conn, check_site(site), doctype, name)

    def reminders(self, site: str, invoice: str) -> ReminderView | None:
        """The invoice's reminder case: levels sent (with when and the message id), next level and due time, state.
        None when the invoice never needed reminders."""
        with self._engine.connect() as conn:
            return dunning.view(conn, check_site(site), invoice)

    def overdue_report(self, site: str, on_date: dt.date) -> list[OverdueLine]:
        """Per member: what is owed on ``on_date``, and the band of the oldest unpaid invoice; worst first."""
        with self._engine.connect() as conn:
            rows = dunning.open_invoices(conn, check_site(site), on_date)
        return overdue_report(rows, on_date)

    def reminder_states(self, site: str) -> dict[str, int]:
        """How many invoices' reminder flows are in each state (scheduled, reminding, settled, handed_off, …)."""
        with self._engine.connect() as conn:
            return dunning.case_counts(conn, check_site(site))

    def handed_off(self, site: str) -> list[dict[str, Any]]:
        """Invoices whose final notice went unanswered: the board decides on suspension or collection."""
        with self._engine.connect() as conn:
            return dunning.handed_off(conn, check_site(site))

    def due_collection_retries(self, site: str, on_date: dt.date) -> list[dict[str, Any]]:
        """Retry collections the ERP should present by ``on_date`` (after transient SEPA returns)."""
        with self._engine.connect() as conn:
            return sepa.due_collection_retries(conn, check_site(site), on_date)

    def returns_needing_attention(self, site: str) -> list[dict[str, Any]]:
        """SEPA returns a person must handle: refund requests (MD06), final codes, exhausted retries."""
        with self._engine.connect() as conn:
            return sepa.returns_needing_attention(conn, check_site(site))
