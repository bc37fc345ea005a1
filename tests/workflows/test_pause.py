"""Pause without loss (docs/decisions/0008-two-queues-two-processes-niced-background.md): with the
background role stopped, verdicts keep coming and every background step waits durably in Temporal; starting the
background role again completes all of it, each effect once.

Own task queues, so the session's workers do not pick the work up; real dev server, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine, func, select

from config.settings import Settings
from ledger.cache import ReadCache
from ledger.schema import payment_facts
from starter.client import DuesflowClient
from tests import builders as b
from tests.own_queues import own_queues, serve

USER = "penningmeester@example.nl"


async def test_stopped_background_keeps_verdicts_and_loses_nothing(
    temporal_client: Any, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    own = own_queues(settings, "pause")
    duesflow = DuesflowClient(temporal_client, own, engine, cache)

    stop_workflows = asyncio.Event()
    workflows = asyncio.create_task(serve(temporal_client, own, engine, cache, "workflows", stop_workflows))
    try:
        await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
        invoices = [b.invoice(f"INV-{n}", "C1", 9.0, member_name="M1") for n in range(5)]
        payments = [b.payment(f"PAY-{n}", "C1", 9.0, [(f"INV-{n}", 9.0)]) for n in range(5)]
        verdicts = [await duesflow.submit(doc, site=site, user=USER) for doc in [*invoices, *payments]]
        # Background paused: every verdict still came back from step 1, and nothing was computed behind it.
        assert [v.status for v in verdicts] == ["accepted"] * 10
        progress = [await duesflow.progress(v.workflow_id) for v in verdicts]
        assert all(s.status in ("pending", "running") and s.attempts <= 1 for p in progress for s in p.steps)
        assert all(p.steps for p in progress)
        with engine.connect() as conn:
            facts = conn.execute(select(func.count()).where(payment_facts.c.site == site)).scalar_one()
        assert facts == 0

        stop_background = asyncio.Event()
        background = asyncio.create_task(serve(temporal_client, own, engine, cache, "background", stop_background))
        try:
            results = [await asyncio.wait_for(duesflow.wait(v.workflow_id), timeout=60) for v in verdicts]
        finally:
            stop_background.set()
            await background
    finally:
        stop_workflows.set()
        await workflows
    assert all(s.status == "done" for r in results for s in r.steps)
    with engine.connect() as conn:
        facts = conn.execute(select(func.count()).where(payment_facts.c.site == site)).scalar_one()
    assert facts == 5
    assert [r.payment_status for r in await duesflow.member_history(site, "M1")] == ["Paid"] * 5
