"""Read API for ERP screens (synchronous: Frappe calls it from request handlers).

History and summary go through the Redis cache; everything else reads the ledger directly. Every read answers
pydantic models (domain/reads.py, domain/reminders.py); a database that does not answer raises ``LedgerUnavailable``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from domain import audit_keys
from domain.errors import NotFound
from domain.history import HistoryRow
from domain.ids import check_site
from domain.reads import (
    AuditRecord,
    DailyTotal,
    DueCollectionRetry,
    HandedOffInvoice,
    Mandate,
    MandateUsage,
    MemberSummary,
    MemberTotals,
    MethodStatistic,
    ReturnNeedingAttention,
)
from domain.reminders import OverdueLine, ReminderView, overdue_report
from domain.verdicts import Verdict
from ledger import analytics, audit, sepa
from ledger import reminders as dunning
from ledger.cache import TTL_FINANCIAL, ReadCache, history_key, summary_key
from ledger.db import is_unavailable, unavailable
from ledger.history import UnknownMember, history_version, read_history
from ledger.history import member_summary as summary_query
from ledger.schema import mandate_usages, mandates

T = TypeVar("T")

_HISTORY = TypeAdapter(list[HistoryRow])
_SUMMARY = TypeAdapter(MemberSummary)


@contextmanager
def ledger_errors(engine: Engine) -> Iterator[None]:
    """A database that does not answer becomes ``LedgerUnavailable`` (naming host:port, never the password); a
    statement the database refuses stays what it is."""
    try:
        yield
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise unavailable(exc, engine.url.render_as_string(hide_password=True)) from exc
        raise


class LedgerReads:
    def __init__(self, engine: Engine, cache: ReadCache, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._engine = engine
        self._cache = cache
        self._today = today

    def _read(self, query: Callable[[Connection], T]) -> T:
        with ledger_errors(self._engine), self._engine.connect() as conn:
            return query(conn)

    def member_history(self, site: str, member: str) -> list[HistoryRow]:
        check_site(site)

        def load() -> list[HistoryRow]:
            return self._read(lambda conn: read_history(conn, site, member))

        key = history_key(site, member, self._read(lambda conn: history_version(conn, site, member)))
        return self._cache.get_or_load(key, TTL_FINANCIAL, _HISTORY, load)

    def member_summary(self, site: str, member: str) -> MemberSummary:
        """Raises ``NotFound`` (a ``LookupError``) for a member the ledger does not know."""
        check_site(site)

        def load(conn: Connection) -> MemberSummary:
            return MemberSummary.model_validate(summary_query(conn, site, member, today=self._today()))

        key = summary_key(site, member, self._read(lambda conn: history_version(conn, site, member)))
        try:
            return self._cache.get_or_load(key, TTL_FINANCIAL, _SUMMARY, lambda: self._read(load))
        except UnknownMember:
            raise NotFound(f"member {member!r} is not known on site {site!r}") from None

    def recorded_verdict(self, workflow_id: str) -> Verdict | None:
        """The verdict step 1 recorded for a document's workflow, or None when it has not run (yet)."""
        record = self._read(lambda conn: audit.find(conn, audit_keys.verdict(workflow_id)))
        return None if record is None else Verdict.model_validate(record["details"]["verdict"])

    def mandate(self, site: str, mandate_id: str) -> Mandate | None:
        """The mandate without its IBAN (last 4 characters only), with its usages and sequence state."""
        check_site(site)

        def query(conn: Connection) -> Mandate | None:
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
            fields = {k: v for k, v in row.items() if k != "iban"}
            return Mandate(
                **fields,
                iban_last4=row["iban"][-4:],
                usages=[MandateUsage.model_validate(dict(u)) for u in usages],
            )

        return self._read(query)

    def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[DailyTotal]:
        check_site(site)
        if date_from > date_to:
            raise ValueError(f"date_from ({date_from}) must not be after date_to ({date_to})")
        rows = self._read(lambda c: analytics.daily_totals(c, site, date_from, date_to))
        return [DailyTotal.model_validate(r) for r in rows]

    def member_totals(self, site: str, member: str) -> MemberTotals:
        check_site(site)
        return MemberTotals.model_validate(self._read(lambda c: analytics.member_totals(c, site, member)))

    def method_statistics(self, site: str) -> list[MethodStatistic]:
        check_site(site)
        return [MethodStatistic.model_validate(r) for r in self._read(lambda c: analytics.method_statistics(c, site))]

    def audit_trail(self, site: str, doctype: str, name: str) -> list[AuditRecord]:
        check_site(site)
        return [AuditRecord.model_validate(r) for r in self._read(lambda c: audit.trail(c, site, doctype, name))]

    def reminders(self, site: str, invoice: str) -> ReminderView | None:
        """The invoice's reminder case: levels sent (with when and the message id), next level and due time, state.
        None when the invoice never needed reminders."""
        check_site(site)
        return self._read(lambda c: dunning.view(c, site, invoice))

    def overdue_report(self, site: str, on_date: dt.date) -> list[OverdueLine]:
        """Per member: what is owed on ``on_date``, and the band of the oldest unpaid invoice; worst first."""
        check_site(site)
        return overdue_report(self._read(lambda c: dunning.open_invoices(c, site, on_date)), on_date)

    def reminder_states(self, site: str) -> dict[str, int]:
        """How many invoices' reminder flows are in each state (scheduled, reminding, settled, handed_off, …)."""
        check_site(site)
        return self._read(lambda c: dunning.case_counts(c, site))

    def handed_off(self, site: str) -> list[HandedOffInvoice]:
        """Invoices whose final notice went unanswered: the board decides on suspension or collection."""
        check_site(site)
        return [HandedOffInvoice.model_validate(r) for r in self._read(lambda c: dunning.handed_off(c, site))]

    def due_collection_retries(self, site: str, on_date: dt.date) -> list[DueCollectionRetry]:
        """Retry collections the ERP should present by ``on_date`` (after transient SEPA returns)."""
        check_site(site)
        rows = self._read(lambda c: sepa.due_collection_retries(c, site, on_date))
        return [DueCollectionRetry.model_validate(r) for r in rows]

    def returns_needing_attention(self, site: str) -> list[ReturnNeedingAttention]:
        """SEPA returns a person must handle: refund requests (MD06), final codes, exhausted retries."""
        check_site(site)
        rows = self._read(lambda c: sepa.returns_needing_attention(c, site))
        return [ReturnNeedingAttention.model_validate(r) for r in rows]
