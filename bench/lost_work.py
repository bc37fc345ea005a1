"""Checking that nothing was lost or duplicated: a "pending" verdict must name a workflow that exists, the copies of
one document must all get the same verdict, and each document must have exactly one workflow run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bench.figures import Sample


async def workflow_exists(client: Client, wid: str, attempts: int = 3) -> bool:
    """False only when the server says NOT_FOUND every time (visibility of a fresh start may lag a little)."""
    for attempt in range(attempts):
        try:
            await client.get_workflow_handle(wid).describe()
            return True
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                return True
        if attempt < attempts - 1:
            await asyncio.sleep(0.5)
    return False


async def find_lost(client: Client, samples: Sequence[Sample]) -> None:
    """A "pending" verdict names a workflow id, but when the call timed out before the server took the start, no
    workflow exists: mark those "lost" (an ERP waiting on that id would wait forever)."""

    async def check(s: Sample) -> None:
        if not await workflow_exists(client, s.wid or ""):
            s.status = "lost"
            s.error = f"verdict 'pending' for {s.wid}, but no such workflow exists"

    await asyncio.gather(*(check(s) for s in samples if s.status == "pending" and s.wid))


def differing_verdicts(name: str, copies: Sequence[Sample]) -> str | None:
    """The problem to report when the copies of one document did not all get the same verdict."""
    answers = {s.verdict for s in copies}
    if len(answers) != 1 or None in answers:
        return f"{name}: {len(answers)} different verdicts among {len(copies)} copies"
    return None


async def runs_per_workflow(client: Client, samples: Iterable[Sample]) -> dict[str, int]:
    """How many runs the server holds for each workflow id the samples name."""
    runs = {}
    for wid in sorted({s.wid for s in samples if s.wid}):
        runs[wid] = (await client.count_workflows(f"WorkflowId = '{wid}'")).count
    return runs


def duplicated_runs(runs: Mapping[str, int]) -> list[str]:
    return [f"{wid}: {n} workflow runs" for wid, n in runs.items() if n != 1]
