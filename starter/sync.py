"""Blocking twin of ``DuesflowClient`` for synchronous callers (Frappe doc_events hooks run in plain request threads).

The same public methods with the same signatures and results as the async client (a test compares them). One event
loop lives in a daemon thread; every Temporal call is shipped to it and waited for. Ledger reads run in the calling
thread (they are synchronous underneath). Making the client contacts nothing: Temporal is connected by the first
call that needs it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from config.settings import Settings
from domain.history import HistoryRow
from domain.jobs import Job, JobDetail, JobStatistics, RetryReport
from domain.messages import PipelineResult, Progress
from domain.notifications import Notification
from domain.reads import (
    AuditRecord,
    DailyTotal,
    DueCollectionRetry,
    HandedOffInvoice,
    Mandate,
    MemberSummary,
    MemberTotals,
    MethodStatistic,
    ReturnNeedingAttention,
)
from domain.reminders import OverdueLine, ReminderView
from domain.upkeep import Job as UpkeepJob
from domain.upkeep import UpkeepReport
from domain.verdicts import Verdict
from starter.client import DuesflowClient
from starter.reference_data import ImportReport

T = TypeVar("T")


class BlockingDuesflowClient:
    def __init__(self, settings: Settings | None = None) -> None:
        """``settings`` default to the ``DUESFLOW_*`` environment (``ConfigError`` names a bad variable)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="duesflow-client", daemon=True)
        self._thread.start()
        try:
            self._client: DuesflowClient = self._call(DuesflowClient.connect(settings))
        except BaseException:
            self._stop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def close(self) -> None:
        self._call(self._client.close())
        self._stop()

    def __enter__(self) -> BlockingDuesflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submissions -------------------------------------------------------------------------------------------

    def submit(
        self, doc: Mapping[str, Any], *, site: str, user: str, timeout: float | None = None, bulk: bool = False
    ) -> Verdict:
        return self._call(self._client.submit(doc, site=site, user=user, timeout=timeout, bulk=bulk))

    def progress(self, workflow_id: str) -> Progress:
        return self._call(self._client.progress(workflow_id))

    def wait(self, workflow_id: str) -> PipelineResult:
        return self._call(self._client.wait(workflow_id))

    # -- reference data and reads --------------------------------------------------------------------------------

    def load_reference_data(
        self, docs: Sequence[Any], *, site: str, on_progress: Callable[[int, int], None] | None = None
    ) -> ImportReport:
        return self._call(self._client.load_reference_data(docs, site=site, on_progress=on_progress))

    # Reads are synchronous underneath: call them directly, no loop hop.
    def member_history(self, site: str, member: str) -> list[HistoryRow]:
        return self._client.reads.member_history(site, member)

    def member_summary(self, site: str, member: str) -> MemberSummary:
        return self._client.reads.member_summary(site, member)

    def mandate(self, site: str, mandate_id: str) -> Mandate | None:
        return self._client.reads.mandate(site, mandate_id)

    def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[DailyTotal]:
        return self._client.reads.daily_totals(site, date_from, date_to)

    def member_totals(self, site: str, member: str) -> MemberTotals:
        return self._client.reads.member_totals(site, member)

    def method_statistics(self, site: str) -> list[MethodStatistic]:
        return self._client.reads.method_statistics(site)

    def audit_trail(self, site: str, doctype: str, name: str) -> list[AuditRecord]:
        return self._client.reads.audit_trail(site, doctype, name)

    def reminders(self, site: str, invoice: str) -> ReminderView | None:
        return self._client.reads.reminders(site, invoice)

    def overdue_report(self, site: str, on_date: dt.date) -> list[OverdueLine]:
        return self._client.reads.overdue_report(site, on_date)

    def reminder_states(self, site: str) -> dict[str, int]:
        return self._client.reads.reminder_states(site)

    def handed_off(self, site: str) -> list[HandedOffInvoice]:
        return self._client.reads.handed_off(site)

    def due_collection_retries(self, site: str, on_date: dt.date) -> list[DueCollectionRetry]:
        return self._client.reads.due_collection_retries(site, on_date)

    def returns_needing_attention(self, site: str) -> list[ReturnNeedingAttention]:
        return self._client.reads.returns_needing_attention(site)

    # -- upkeep --------------------------------------------------------------------------------------------------

    def run_upkeep(self, job: UpkeepJob, on_date: dt.date, site: str | None = None) -> UpkeepReport:
        return self._call(self._client.run_upkeep(job, on_date, site))

    def ensure_schedules(self) -> dict[str, str]:
        return self._call(self._client.ensure_schedules())

    # -- jobs and notifications: the caller names the ERP user and their roles ----------------------------------

    def jobs(
        self,
        site: str,
        user: str,
        roles: Iterable[str] = (),
        *,
        status: str | None = None,
        doctype: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        return self._call(self._client.jobs(site, user, roles, status=status, doctype=doctype, limit=limit))

    def job(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> JobDetail:
        return self._call(self._client.job(site, job, user, roles))

    def job_statistics(self, site: str, user: str, roles: Iterable[str] = ()) -> JobStatistics:
        return self._call(self._client.job_statistics(site, user, roles))

    def retry(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> RetryReport:
        return self._call(self._client.retry(site, job, user, roles))

    def cancel(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> Job:
        return self._call(self._client.cancel(site, job, user, roles))

    def cleanup(self, site: str, user: str, roles: Iterable[str] = (), *, days: int = 7) -> dict[str, int]:
        return self._call(self._client.cleanup(site, user, roles, days=days))

    def notifications(self, site: str, user: str, *, unread_only: bool = True, limit: int = 50) -> list[Notification]:
        return self._call(self._client.notifications(site, user, unread_only=unread_only, limit=limit))

    def unread_count(self, site: str, user: str) -> int:
        return self._call(self._client.unread_count(site, user))

    def mark_notifications_read(self, site: str, user: str, ids: Sequence[int] | None = None) -> int:
        return self._call(self._client.mark_notifications_read(site, user, ids))

    def notification_channel(self, site: str, user: str) -> str:
        return self._call(self._client.notification_channel(site, user))
