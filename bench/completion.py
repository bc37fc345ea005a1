"""Waiting for the workflows a scenario started to close, and reading when they closed and how their steps went.

Completion is watched through visibility (two cheap counts every 100 ms) rather than one ``handle.result()`` long
poll per workflow, so the measurement adds almost no load while the pipelines run; ``handle.result()`` is called
afterwards, on closed workflows, for the steps' outcomes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Collection, Mapping, Sequence

from temporalio.client import Client

from bench.figures import Sample
from bench.lost_work import find_lost
from domain.messages import PipelineResult


class StalledError(RuntimeError):
    pass


def pipelines_since(site: str, since: dt.datetime) -> str:
    """Visibility query for the site's workflows started since ``since``. Reminder flows (children of invoices) run
    for weeks by design: the pipelines are what is measured."""
    stamp = (since - dt.timedelta(seconds=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"DuesflowSite = '{site}' AND StartTime >= '{stamp}' AND WorkflowType != 'ReminderWorkflow'"


async def wait_until_closed(client: Client, query: str, expected: int, timeout: float, stall_timeout: float) -> None:
    """Until ``expected`` workflows match ``query`` and none runs; raises ``StalledError`` when the counts do not
    move for ``stall_timeout`` seconds, returns when ``timeout`` is up."""
    running_query = f"{query} AND ExecutionStatus = 'Running'"
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    last_change = time.monotonic()
    while expected and time.monotonic() < deadline:
        total = (await client.count_workflows(query)).count
        running = (await client.count_workflows(running_query)).count
        if total >= expected and running == 0:
            return
        if (total, running) != last:
            last, last_change = (total, running), time.monotonic()
        elif time.monotonic() - last_change > stall_timeout:
            stuck = [wf.id async for wf in client.list_workflows(running_query, limit=3)]
            raise StalledError(
                f"no progress for {stall_timeout:.0f}s: {running} running (e.g. {stuck}), {total} of "
                f"{expected} visible; a failing workflow task (see the worker log) or a step waiting for a retry?"
            )
        await asyncio.sleep(0.1)


async def close_times(client: Client, query: str, started: Collection[str], offset: float) -> dict[str, float]:
    """The server's close time of each closed workflow among ``started``, on the ``perf_counter`` clock (``offset``:
    wall clock minus ``perf_counter``)."""
    closed: dict[str, float] = {}
    async for wf in client.list_workflows(query):
        if wf.id in started and wf.close_time is not None:
            closed[wf.id] = wf.close_time.timestamp() - offset
    return closed


def _add_error(s: Sample, error: str) -> None:
    s.error = f"{s.error + '; ' if s.error else ''}{error}"


async def read_outcome(client: Client, s: Sample, closed: Mapping[str, float], timeout: float) -> None:
    """The sample's close time and its steps' outcomes (from the closed workflow's result)."""
    if s.wid not in closed:
        _add_error(s, f"not closed after {timeout:.0f}s")
        return
    s.done = closed[s.wid]
    try:
        result = await client.get_workflow_handle(s.wid, result_type=PipelineResult).result()
    except Exception as exc:
        _add_error(s, f"result: {type(exc).__name__}: {exc}")
        return
    s.steps = len(result.steps)
    s.failed_steps = sum(1 for st in result.steps if st.status == "failed")
    s.retried_steps = sum(1 for st in result.steps if st.attempts > 1)
    if s.failed_steps:
        s.error = "; ".join(f"{st.name}: {st.last_error}" for st in result.steps if st.status == "failed")


async def drain(
    client: Client,
    site: str,
    since: dt.datetime,
    samples: Sequence[Sample],
    timeout: float,
    stall_timeout: float = 60.0,
) -> None:
    """Wait until every workflow the samples started has closed, and take its close time from the server."""
    offset = time.time() - time.perf_counter()
    await find_lost(client, samples)
    started = {s.wid for s in samples if s.wid is not None and s.status not in ("error", "lost")}
    query = pipelines_since(site, since)
    await wait_until_closed(client, query, len(started), timeout, stall_timeout)
    closed = await close_times(client, query, started, offset)
    sem = asyncio.Semaphore(32)

    async def outcome(s: Sample) -> None:
        if s.wid in started:
            async with sem:
                await read_outcome(client, s, closed, timeout)

    await asyncio.gather(*(outcome(s) for s in samples))
