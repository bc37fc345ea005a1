"""Driving submissions: open loop at an offered rate, or a burst with a fixed number in flight; and counting the
start futures an Update-With-Start leaves behind when it times out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from temporalio.service import RPCError

from bench.documents import Doc
from bench.figures import Sample
from bench.targets import Target


async def submit_one(target: Target, doc: Doc, due: float) -> Sample:
    """One submission; its ack counts from ``due``, whenever the call could actually start."""
    start = time.perf_counter()
    wid: str | None = target.workflow_id(doc)
    status, error, answer = "error", None, None
    try:
        verdict = await target.submit(doc)
        status, answer = verdict.status, verdict.model_dump_json()
        if verdict.status == "rejected":
            error = "; ".join(f"{e.field}: {e.code}" for e in verdict.errors)
            wid = verdict.workflow_id  # None when the client rejected it: no workflow then
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    return Sample(doc["name"], wid, due, start - due, end - due, status, error, verdict=answer)


async def drive(target: Target, docs: Sequence[Doc], *, rate: float | None, concurrency: int | None) -> list[Sample]:
    """Open loop at ``rate`` documents/s (each submission starts on schedule, whatever the earlier ones do), or a
    burst with at most ``concurrency`` submissions in flight. Ack latency counts from the scheduled time."""
    sem = asyncio.Semaphore(concurrency) if concurrency else None
    samples: list[Sample | None] = [None] * len(docs)

    async def one(i: int, doc: Doc, due: float) -> None:
        if sem is None:
            samples[i] = await submit_one(target, doc, due)
            return
        async with sem:
            samples[i] = await submit_one(target, doc, time.perf_counter())

    t0 = time.perf_counter() + 0.05
    tasks = []
    for i, doc in enumerate(docs):
        due = t0 + i / rate if rate else 0.0
        if rate:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, doc, due)))
    await asyncio.gather(*tasks)
    return [s for s in samples if s is not None]


class QuietStartFutures:
    """After an Update-With-Start times out, the SDK also fails the start operation's workflow-handle future; nobody
    awaits it (``DuesflowClient.submit`` returns "pending"), so asyncio logs a traceback for each one when it is
    garbage-collected. Count those instead of printing hundreds of tracebacks; anything else goes to the default."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if str(context.get("message", "")).startswith("Future exception was never retrieved") and isinstance(
            exc, RPCError
        ):
            self.count += 1
            return
        loop.default_exception_handler(context)
