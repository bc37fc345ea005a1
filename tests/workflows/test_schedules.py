"""The upkeep schedules on the real dev server: created idempotently, and each run by its schedule completes with a
report; run twice on a day, the second report changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import Engine, select, update
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.worker import Replayer

from config.settings import Settings
from deployment.schedules import ensure_schedules
from domain.upkeep import JOBS, SCHEDULE_HOURS, UpkeepReport, schedule_id
from ledger import audit
from ledger.schema import audit_records
from tests.recording import keep
from worker import WORKFLOWS


async def test_schedules_are_created_once_and_brought_up_to_date(temporal_client: Client, settings: Settings) -> None:
    async for existing in await temporal_client.list_schedules():
        if existing.id.startswith("duesflow-"):
            await temporal_client.get_schedule_handle(existing.id).delete()
    first = await ensure_schedules(temporal_client, settings)
    # An operator pauses one; a worker restart brings the definitions up to date but leaves the pause alone.
    await temporal_client.get_schedule_handle(schedule_id("analytics-rollup")).pause(note="month-end close")
    second = await ensure_schedules(temporal_client, settings)
    ids = [schedule_id(job) for job in JOBS]
    assert first == dict.fromkeys(ids, "created")
    assert second == dict.fromkeys(ids, "updated")
    listed = [s.id async for s in await temporal_client.list_schedules() if s.id.startswith("duesflow-")]
    assert sorted(listed) == sorted(ids)
    for job in JOBS:
        desc = await temporal_client.get_schedule_handle(schedule_id(job)).describe()
        [calendar] = desc.schedule.spec.calendars
        assert calendar.hour[0].start == SCHEDULE_HOURS[job]
        assert isinstance(desc.schedule.action, ScheduleActionStartWorkflow)
        assert desc.schedule.action.task_queue == settings.task_queue
        assert desc.schedule.state.paused is (job == "analytics-rollup")
    paused = await temporal_client.get_schedule_handle(schedule_id("analytics-rollup")).describe()
    assert paused.schedule.state.note == "month-end close"


async def test_a_scheduled_run_reports_and_a_second_run_changes_nothing(
    temporal_client: Client, settings: Settings, workers: Any, engine: Engine, site: str
) -> None:
    # Something for the first run to do: an info record past its 30 days.
    with engine.begin() as conn:
        audit.append(
            conn,
            audit.AuditEntry(
                actor="t", site=site, doctype="Payment Entry", name="OLD", event="test", dedupe_key=f"{site}:old"
            ),
        )
        conn.execute(
            update(audit_records)
            .where(audit_records.c.dedupe_key == f"{site}:old")
            .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
        )
    await ensure_schedules(temporal_client, settings)
    handle = temporal_client.get_schedule_handle(schedule_id("audit-retention"))
    reports = []
    for _ in range(2):
        await handle.trigger()
        reports.append(await _next_result(temporal_client, handle, len(reports) + 1))
    assert all(r.job == "audit-retention" for r in reports)
    assert reports[0].changed["deleted_info"] >= 1
    with engine.connect() as conn:
        assert conn.execute(select(audit_records.c.id).where(audit_records.c.site == site)).first() is None
    assert sum(reports[1].changed.values()) == 0
    assert set(reports[1].changed) == {"deleted_info", "deleted_warning", "deleted_error", "deleted_critical"}
    started = (await handle.describe()).info.recent_actions[0].action
    history = await temporal_client.get_workflow_handle(started.workflow_id).fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=temporal_client.data_converter).replay_workflow(history)
    keep("upkeep-audit-retention", history)


async def _next_result(client: Client, handle: Any, runs: int) -> UpkeepReport:
    """The result of the schedule's ``runs``-th action, once the schedule has started it."""
    for _ in range(200):
        recent = (await handle.describe()).info.recent_actions
        if len(recent) >= runs:
            started = recent[runs - 1].action
            wf = client.get_workflow_handle(started.workflow_id, run_id=started.first_execution_run_id)
            return UpkeepReport.model_validate(await wf.result())
        await asyncio.sleep(0.05)  # polling the schedule's own record of what it started, not waiting for luck
    raise AssertionError("the schedule did not start its workflow")
