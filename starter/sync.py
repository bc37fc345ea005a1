"""Blocking wrapper for synchronous callers (Frappe doc_events hooks run in plain request threads).

One event loop lives in a daemon thread; every call is shipped to it and waited for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from domain.history import HistoryRow
from domain.jobs import Job, JobDetail, JobStatistics
from domain.messages import PipelineResult, Progress
from domain.notifications import Notification
from domain.settings import Settings
from domain.verdicts import Verdict
from starter.client import DuesflowClient
from starter.jobs import RetryReport
from starter.reference_data import ImportReport

T = TypeVar("T")


class BlockingDuesflowClient:
    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="duesflow-client", daemon=True)
        self._thread.start()
        self._client: DuesflowClient = self._call(DuesflowClient.connect(settings))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        self._call(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> BlockingDuesflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, doc: Mapping[str, Any], *, site: str, user: str, timeout: float | None = None) -> Verdict:
        return self._call(self._client.submit(doc, site=site, user=user, timeout=timeout))

    def progress(self, workflow_id: str) -> Progress:
        return self._call(self._client.progress(workflow_id))

    def wait(self, workflow_id: str) -> PipelineResult:
        return self._call(self._client.wait(workflow_id))

    def load_reference_data(
        self, docs: Sequence[Any], *, site: str, on_progress: Callable[[int, int], None] | None = None
    ) -> ImportReport:
        return self._call(self._client.load_reference_data(docs, site=site, on_progress=on_progress))

    # Job tracking (starter/jobs.py): the caller names the ERP user and their roles.
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
        return self._call(self._client.job_api.jobs(site, user, roles, status=status, doctype=doctype, limit=limit))

    def job(self, site: str, workflow_id: str, user: str, roles: Iterable[str] = ()) -> JobDetail:
        return self._call(self._client.job_api.job(site, workflow_id, user, roles))

    def job_statistics(self, site: str, user: str, roles: Iterable[str] = ()) -> JobStatistics:
        return self._call(self._client.job_api.job_statistics(site, user, roles))

    def retry(self, site: str, workflow_id: str, user: str, roles: Iterable[str] = ()) -> RetryReport:
        return self._call(self._client.job_api.retry(site, workflow_id, user, roles))

    def cancel(self, site: str, workflow_id: str, user: str, roles: Iterable[str] = ()) -> Job:
        return self._call(self._client.job_api.cancel(site, workflow_id, user, roles))

    def cleanup(self, site: str, user: str, roles: Iterable[str] = (), *, days: int = 7) -> dict[str, int]:
        return self._call(self._client.job_api.cleanup(site, user, roles, days=days))

    def notifications(self, site: str, user: str, *, unread_only: bool = True, limit: int = 50) -> list[Notification]:
        return self._call(self._client.job_api.notifications(site, user, unread_only=unread_only, limit=limit))

    def unread_count(self, site: str, user: str) -> int:
        return self._call(self._client.job_api.unread_count(site, user))

    def mark_notifications_read(self, site: str, user: str, ids: Sequence[int] | None = None) -> int:
        return self._call(self._client.job_api.mark_read(site, user, ids))

    # Reads are synchronous underneath: call them directly, no loop hop.
    def member_history(self, site: str, member: str) -> list[HistoryRow]:
        return self._client.reads.member_history(site, member)

    def member_summary(self, site: str, member: str) -> dict[str, Any]:
        return self._client.reads.member_summary(site, member)

    def mandate(self, site: str, mandate_id: str) -> dict[str, Any] | None:
        return self._client.reads.mandate(site, mandate_id)

    def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
        return self._client.reads.daily_totals(site, date_from, date_to)

    def member_totals(self, site: str, member: str) -> dict[str, Any]:
        return self._client.reads.member_totals(site, member)

    def method_statistics(self, site: str) -> list[dict[str, Any]]:
        return self._client.reads.method_statistics(site)

    def audit_trail(self, site: str, doctype: str, name: str) -> list[dict[str, Any]]:
        return self._client.reads.audit_trail(site, doctype, name)
