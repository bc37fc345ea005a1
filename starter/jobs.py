"""The job API (docs/business-rules.md §8): what a user and an admin see of submissions, read from Temporal's
visibility and history (so it cannot drift from what really runs), and the admin's retry, cancel and cleanup.

Every call names the caller (ERP user and roles): a user sees only their own jobs; holders of an admin role from
settings see every job of the site and may retry, cancel and clean up. Refusals raise ``NotAllowed``; unknown jobs
``NotFound`` (a ``LookupError``); bad arguments ``ValueError``; a database that does not answer ``LedgerUnavailable``;
Temporal that does not answer ``TemporalUnavailable`` — each with a message that says what to change.

Only the job views, retry and cancel talk to Temporal: the service gets a way to connect and uses it on their first
call, so notifications and cleanup work while Temporal is down.

This module decides who may do what; the work is done by ``job_queries`` (finding jobs in visibility),
``job_views`` (a job from its history), ``job_statistics``, ``job_actions`` (retry, cancel, cleanup and their
audit records) and ``job_notifications``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecution

from config.settings import Settings, user_key_of
from domain.ids import check_site
from domain.jobs import Job, JobDetail, JobStatistics, RetryReport, StepView, check_limit, check_status
from domain.notifications import Notification
from domain.users import Caller, NotAllowed
from starter import job_actions, job_notifications, job_queries
from starter.failures import temporal_errors
from starter.job_statistics import job_statistics
from starter.job_views import load_job
from workflows import search_attributes as sa

P = ParamSpec("P")
R = TypeVar("R")


def _uses_temporal(
    method: Callable[Concatenate[JobService, P], Awaitable[R]],
) -> Callable[Concatenate[JobService, P], Awaitable[R]]:
    """Connect on first use, and report a frontend that stops answering as ``TemporalUnavailable``."""

    @functools.wraps(method)
    async def call(self: JobService, *args: P.args, **kwargs: P.kwargs) -> R:
        client = await self._temporal()
        with temporal_errors(client):
            return await method(self, *args, **kwargs)

    return call


class JobService:
    def __init__(self, temporal: Client | Callable[[], Awaitable[Client]], settings: Settings, engine: Engine) -> None:
        """``temporal`` is a connected client, or an async callable that returns one (connecting on first use)."""
        self._connect = temporal
        self._settings = settings
        self._engine = engine

    async def _temporal(self) -> Client:
        if not isinstance(self._connect, Client):
            self._connect = await self._connect()
        return self._connect

    @property
    def _client(self) -> Client:
        """The connected client, inside a method decorated with ``_uses_temporal``."""
        assert isinstance(self._connect, Client), "connect first (decorate the method with _uses_temporal)"
        return self._connect

    # -- reads ----------------------------------------------------------------------------------------------------

    @_uses_temporal
    async def jobs(
        self,
        site: str,
        user: str,
        roles: Iterable[str] = (),
        *,
        status: str | None = None,
        doctype: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """The caller's jobs (an admin's: everyone's) on ``site``, newest first."""
        caller = self._caller(site, user, roles)
        wanted = check_status(status)
        query = self._scope(site, caller, doctype)
        if wanted:
            query += f" AND {job_queries.STATUS_CLAUSE[wanted]}"
        executions = await job_queries.runs(self._client, query, check_limit(limit))
        replaced = await job_queries.replaced_runs(self._client, executions)
        loaded = await asyncio.gather(*(load_job(self._client, e) for e in executions if e.run_id not in replaced))
        found = [j for j in loaded if wanted is None or j.status == wanted]
        return sorted(found, key=lambda j: j.submitted_at, reverse=True)

    @_uses_temporal
    async def job(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> JobDetail:
        """One job with each step's attempts, times and last failure."""
        caller = self._caller(site, user, roles)
        execution = await job_queries.find_job(self._client, site, job)
        self._check_owner(caller, execution, "see")
        return await load_job(self._client, execution, detail=True)

    @_uses_temporal
    async def job_statistics(self, site: str, user: str, roles: Iterable[str] = ()) -> JobStatistics:
        """Counts by status, success rate and the last 24 hours from visibility counts; the most common errors
        from the newest 100 failed jobs."""
        caller = self._caller(site, user, roles)
        return await job_statistics(self._client, self._scope(site, caller, None))

    # -- admin actions ----------------------------------------------------------------------------------------------

    @_uses_temporal
    async def retry(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> RetryReport:
        """Re-run a failed submission from its failed step; completed steps are not repeated (job_actions.retry)."""
        caller = self._admin(site, user, roles, "retry")
        execution = await job_queries.find_job(self._client, site, job)
        key = user_key_of(self._settings, caller.user)
        return await job_actions.retry(self._client, self._engine, caller, key, site, execution)

    @_uses_temporal
    async def cancel(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> Job:
        """Cancel a running submission: its pending steps stop (a step already running finishes its own
        transaction), the workflow audits what was done and stopped, and the submitter is notified."""
        caller = self._admin(site, user, roles, "cancel")
        execution = await job_queries.find_job(self._client, site, job)
        return await job_actions.cancel(self._client, self._engine, caller, site, execution)

    async def cleanup(self, site: str, user: str, roles: Iterable[str] = (), *, days: int = 7) -> dict[str, int]:
        """Remove duesflow's own records older than ``days`` (1–365) that Temporal's namespace retention does
        not cover: the users' notifications. (Workflow histories follow the namespace's retention; the audit
        trail keeps its own retention by severity, see `duesflow upkeep audit-retention`.)"""
        caller = self._admin(site, user, roles, "clean up")
        return await asyncio.to_thread(job_actions.cleanup, self._engine, caller, site, days)

    # -- notifications ---------------------------------------------------------------------------------------------

    async def notifications(
        self, site: str, user: str, *, unread_only: bool = True, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first (at most ``limit``, 1–100)."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(
            job_notifications.of_user, self._engine, site, caller.user, unread_only=unread_only, limit=limit
        )

    async def unread_count(self, site: str, user: str) -> int:
        """For a badge in the ERP's UI."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(job_notifications.unread_count, self._engine, site, caller.user)

    async def mark_notifications_read(self, site: str, user: str, ids: Sequence[int] | None = None) -> int:
        """Mark the user's notifications read (all of them when ``ids`` is None); returns how many changed."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(job_notifications.mark_read, self._engine, site, caller.user, ids)

    # The name the async client's job API had before both clients shared one surface.
    mark_read = mark_notifications_read

    # -- who may do what -------------------------------------------------------------------------------------------

    def _caller(self, site: str, user: str, roles: Iterable[str]) -> Caller:
        check_site(site)
        return Caller.of(user, roles)

    def _admin(self, site: str, user: str, roles: Iterable[str], action: str) -> Caller:
        caller = self._caller(site, user, roles)
        if not caller.is_admin(self._settings.admin_roles):
            raise NotAllowed(
                f"only holders of an admin role ({', '.join(self._settings.admin_roles)}) may {action} jobs; "
                f"{caller.user} has {', '.join(sorted(caller.roles)) or 'no roles'}"
            )
        return caller

    def _scope(self, site: str, caller: Caller, doctype: str | None) -> str:
        """The site's jobs an admin sees; only their own for everyone else."""
        is_admin = caller.is_admin(self._settings.admin_roles)
        return job_queries.scope(site, doctype, None if is_admin else user_key_of(self._settings, caller.user))

    def _check_owner(self, caller: Caller, execution: WorkflowExecution, action: str) -> None:
        if caller.is_admin(self._settings.admin_roles):
            return
        if execution.typed_search_attributes.get(sa.USER) != user_key_of(self._settings, caller.user):
            raise NotAllowed(
                f"{caller.user} may not {action} job {execution.id}: it was submitted by another user "
                f"(admins: {', '.join(self._settings.admin_roles)})"
            )


__all__ = ["JobService", "NotAllowed", "RetryReport", "StepView"]
