"""Priorities (docs/business-rules.md §7): a backfill's backlog waits behind live work. Real dev server (priority keys
order a task queue's backlog), PostgreSQL and Redis; own task queues, and a background worker with one slot, so the
order in which the backlog is served is the order in which the steps complete."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine, select
from temporalio.client import Client

from config.settings import Settings
from ledger.cache import ReadCache
from ledger.schema import audit_records, notifications
from starter.backfill import backfill
from starter.client import DuesflowClient
from tests import builders as b
from tests.own_queues import own_queues, serve
from tests.polling import eventually

USER = "penningmeester@example.nl"
BACKLOG = 20


async def test_live_steps_run_before_a_queued_bulk_backlog(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    own = own_queues(settings, "prio", max_concurrent_activities=1)
    duesflow = DuesflowClient(temporal_client, own, engine, cache)

    async def scheduled(wid: str) -> bool:
        job = await duesflow.job_api.job(site, wid, USER)
        return bool(job.steps) and all(s.status == "pending" for s in job.steps)

    stop = asyncio.Event()
    workflows = asyncio.create_task(serve(temporal_client, own, engine, cache, "workflows", stop))
    background: asyncio.Task[None] | None = None
    try:
        reference: list[dict[str, Any]] = [b.customer("C1"), b.member("M1", "C1"), b.customer("C2")]
        reference += [b.member("M2", "C2")]
        await duesflow.load_reference_data(reference, site=site)
        # Below the reminder minimum: only the history step and the notification per invoice.
        bulk = [b.invoice(f"OLD-{n:02d}", "C2", 9.0, member_name="M2") for n in range(BACKLOG)]
        report = await backfill(duesflow.submit, bulk, site=site, user=USER)
        assert report.accepted == BACKLOG
        live = await duesflow.submit(b.invoice("NEW-1", "C1", 9.0, member_name="M1"), site=site, user=USER)
        assert live.status == "accepted" and live.workflow_id
        # The whole backlog and the live step wait in the background queue before any worker takes one.
        for n in range(BACKLOG):
            assert await eventually(lambda n=n: scheduled(f"{site}:Sales Invoice:OLD-{n:02d}"), bool)
        assert await eventually(lambda: scheduled(live.workflow_id or ""), bool)

        background = asyncio.create_task(serve(temporal_client, own, engine, cache, "background", stop))
        await asyncio.wait_for(duesflow.wait(live.workflow_id), timeout=60)
        for n in range(BACKLOG):
            await asyncio.wait_for(duesflow.wait(f"{site}:Sales Invoice:OLD-{n:02d}"), timeout=60)
    finally:
        stop.set()
        await workflows
        if background is not None:
            await background

    with engine.connect() as conn:
        steps = conn.execute(
            select(audit_records.c.name)
            .where(audit_records.c.site == site, audit_records.c.event == "step_completed")
            .order_by(audit_records.c.id)
        ).scalars()
        completed = list(steps)
        notified = list(
            conn.execute(
                select(notifications.c.name).where(notifications.c.site == site).order_by(notifications.c.id)
            ).scalars()
        )
    assert len(completed) == BACKLOG + 1
    # Queued last, served first: the live invoice's step before every step of the backlog.
    assert completed[0] == "NEW-1", completed
    # A backfill notifies only what needs a look: the live invoice's completion is the only notification.
    assert notified == ["NEW-1"], notified
