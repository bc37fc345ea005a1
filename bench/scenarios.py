"""The scenarios (a)–(f): what each submits to which engine and how, and what it records (``results`` for the table,
``info`` for the notes under it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.completion import drain
from bench.cpu import CpuMeter
from bench.documents import USER, Doc, DocumentPool
from bench.figures import Result, Sample
from bench.load import drive
from bench.lost_work import differing_verdicts, duplicated_runs, runs_per_workflow
from bench.plan import WARMUP_DOCS, Plan
from bench.report import progress_line
from bench.seed import extend_histories, history_rows_avg, seed_demo
from bench.stack import Stack
from bench.stats import cpu_ms_per_doc, summarize, summarize_inline
from bench.targets import DuesflowTarget, FloorTarget, InlineOutcome, InlineProcessor, Target
from bench.workflow_history import history_stats


class Bench:
    """One run's scenarios on its stack; each takes fresh documents from the pool."""

    def __init__(self, plan: Plan, stack: Stack) -> None:
        self.plan = plan
        self.stack = stack
        self.results: list[Result] = []
        self.info: dict[str, Any] = {}
        self.pool: DocumentPool
        self._floor_runs = 0

    async def setup_data(self) -> None:
        self.pool, self.info["demo"] = await seed_demo(self.stack, self.plan)

    def duesflow_target(self) -> DuesflowTarget:
        return DuesflowTarget(self.stack.duesflow, self.stack.site, USER)

    def floor_target(self) -> FloorTarget:
        # A fresh site per floor run: the floor may run the same documents more than once.
        self._floor_runs += 1
        site = f"floor{self._floor_runs}-{self.stack.run_id}.bench.local"
        return FloorTarget(self.stack.temporal, self.stack.floor_settings, site, USER, self.pool.members_of)

    def record(self, result: Result) -> None:
        self.results.append(result)
        print(f"  {progress_line(result)}", flush=True)

    # -- measuring ------------------------------------------------------------------------------------------------

    async def measure(
        self,
        section: str,
        scenario: str,
        target: Target,
        docs: Sequence[Doc],
        *,
        rate: float | None = None,
        concurrency: int | None = None,
        record: bool = True,
    ) -> Result:
        meter = self.stack.meter
        cpu0 = meter.sample()
        t0, since = time.perf_counter(), dt.datetime.now(dt.UTC)
        samples = await drive(target, docs, rate=rate, concurrency=concurrency)
        await drain(self.stack.temporal, target.site, since, samples, self.plan.result_timeout, self.plan.stall_timeout)
        elapsed = time.perf_counter() - t0
        cpu = CpuMeter.delta(cpu0, meter.sample())  # includes the few result() calls on closed workflows
        result = summarize(section, scenario, target.engine, samples, offered_rate=rate, concurrency=concurrency)
        result.elapsed_s = elapsed
        result.cpu_ms_per_doc = cpu_ms_per_doc(cpu, max(1, len(docs)))
        await self._explain_pending(result, samples)
        self._note_task_failures(result)
        if record:
            self.record(result)
        await asyncio.sleep(1.0)  # let the last effects settle before the next scenario
        return result

    async def _explain_pending(self, result: Result, samples: Sequence[Sample]) -> None:
        """Why no verdict in time? The workflow's own history says whether its tasks timed out and were redone."""
        pending = [s for s in samples if s.status == "pending" and s.wid]
        if not pending:
            return
        stats = await history_stats(self.stack.temporal, pending[0].wid or "")
        result.extra["pending_example"] = {"workflow_id": pending[0].wid, **stats}
        result.problems.insert(
            0,
            f"{len(pending)} verdict(s) pending; e.g. {pending[0].name}: "
            f"{stats.get('workflow_task_timeouts')} workflow-task timeouts, "
            f"{stats.get('workflow_task_failures')} workflow-task failures, {stats.get('events')} events",
        )

    def _note_task_failures(self, result: Result) -> None:
        assert self.stack.workers is not None
        for label, failures in self.stack.workers.new_task_failures().items():
            result.extra[f"{label}_workflow_task_failures"] = failures
            result.problems.insert(0, f"{label} worker logged {failures} failed workflow activation(s)")

    # -- scenarios ------------------------------------------------------------------------------------------------

    async def warm_up(self) -> None:
        docs = self.pool.take(WARMUP_DOCS)
        await self.measure("warmup", "warm-up", self.floor_target(), docs, concurrency=8, record=False)
        await self.measure("warmup", "warm-up", self.duesflow_target(), docs, concurrency=8, record=False)

    async def rates(self, section: str, note: str = "") -> None:
        """(a)+(b), or (e) again: ack latency at each offered rate, floor and duesflow side by side."""
        for rate in self.plan.rates:
            docs = self.pool.take(self.plan.count)
            # Side by side: the floor runs the very documents duesflow runs next (on its own site).
            floor, duesflow = self.floor_target(), self.duesflow_target()
            await self.measure(section, f"ack @{rate:g}/s{note}", floor, docs, rate=rate)
            await self.measure(section, f"ack @{rate:g}/s{note}", duesflow, docs, rate=rate)
            if "history_events" not in self.info:
                self.info["history_events"] = await self._history_events(docs, floor, duesflow)

    async def _history_events(self, docs: Sequence[Doc], floor: Target, duesflow: Target) -> dict[str, Any]:
        """One document's workflow history under both engines: what each pipeline costs the server."""
        doc = next((d for d in docs if "SEPA" in (d.get("mode_of_payment") or "")), docs[0])
        return {
            "document": doc["name"],
            "mode_of_payment": doc.get("mode_of_payment"),
            "members": len(self.pool.members_of(doc)),
            "floor": await history_stats(self.stack.temporal, floor.workflow_id(doc)),
            "duesflow": await history_stats(self.stack.temporal, duesflow.workflow_id(doc)),
        }

    async def burst(self, section: str, note: str = "") -> None:
        """(c), or (e) again: completion throughput of a burst, floor then duesflow on the same documents."""
        docs = self.pool.take(self.plan.throughput_count)
        c = self.plan.burst_concurrency
        await self.measure(section, f"burst ({c} in flight){note}", self.floor_target(), docs, concurrency=c)
        await self.measure(section, f"burst ({c} in flight){note}", self.duesflow_target(), docs, concurrency=c)

    async def inline(self) -> None:
        """(d) Every step in the caller, the predecessor's way: one caller, then ``inline_threads`` callers."""
        stack = self.stack
        processor = InlineProcessor(stack.engine, stack.cache, stack.settings, stack.site, USER)
        for threads in (1, self.plan.inline_threads):
            docs = self.pool.take(self.plan.inline_count)
            cpu0 = stack.meter.sample()
            t0 = time.perf_counter()
            outcomes = await process_inline(processor, docs, threads)
            elapsed = time.perf_counter() - t0
            cpu = CpuMeter.delta(cpu0, stack.meter.sample())
            scenario = f"inline, {threads} caller{'s' if threads > 1 else ''}"
            r = summarize_inline(scenario, threads, docs, outcomes, elapsed)
            r.cpu_ms_per_doc = cpu_ms_per_doc(cpu, len(docs))
            self.record(r)
            await asyncio.sleep(1.0)

    async def long_histories(self) -> None:
        """(e) Give the customers of the next documents ``history_factor`` times as many history rows (unreconciled
        payments, which the projection lists without limit), then measure (a)–(c) again."""
        p = self.plan
        docs = self.pool.take(p.long_history_docs())
        customers = sorted({d["party"] for d in docs if d.get("party")})
        t0 = time.perf_counter()
        stats = await asyncio.to_thread(
            extend_histories, self.stack.engine, self.stack.site, customers, p.history_factor, dt.date.today()
        )
        stats["seconds"] = round(time.perf_counter() - t0, 1)
        print(
            f"  long histories: {stats['payments_added']} unreconciled payments added for {len(customers)} customers "
            f"in {stats['seconds']}s (history rows/member before: {stats['rows_before_avg']:.1f})",
            flush=True,
        )
        with self.pool.only(docs):
            if "rate" in p.sections:
                await self.rates("e", f", histories x{p.history_factor}")
            if "burst" in p.sections:
                await self.burst("e", f", histories x{p.history_factor}")
        stats["rows_after_avg"] = await asyncio.to_thread(
            history_rows_avg, self.stack.engine, self.stack.site, customers
        )
        print(f"  history rows/member after the runs: {stats['rows_after_avg']:.1f}", flush=True)
        self.info["long_histories"] = stats

    async def duplicates(self) -> None:
        """(f) One document submitted ``dup_copies`` times at once (an ERP hook fired twice, several web workers
        submitting the same document), for ``dup_rounds`` documents in turn: the time to verdict of every copy. Every
        copy must get the same verdict, and each document must have exactly one workflow run."""
        p, stack = self.plan, self.stack
        target = self.duesflow_target()
        cpu0 = stack.meter.sample()
        t0, since = time.perf_counter(), dt.datetime.now(dt.UTC)
        samples: list[Sample] = []
        slowest: list[float] = []
        problems: list[str] = []
        for _ in range(p.dup_rounds):
            doc = self.pool.next()
            batch = await drive(target, [doc] * p.dup_copies, rate=None, concurrency=p.dup_copies)
            samples += batch
            slowest.append(max(s.ack for s in batch))
            if problem := differing_verdicts(doc["name"], batch):
                problems.append(problem)
        await drain(stack.temporal, stack.site, since, samples, p.result_timeout, p.stall_timeout)
        runs = await runs_per_workflow(stack.temporal, samples)
        problems += duplicated_runs(runs)
        scenario = f"{p.dup_copies} identical at once, {p.dup_rounds} rounds"
        result = summarize("f", scenario, "duesflow", samples, concurrency=p.dup_copies)
        result.throughput, result.done_ms = None, {}  # copies of one document: only the time to verdict is meant
        result.elapsed_s = time.perf_counter() - t0
        cpu = CpuMeter.delta(cpu0, stack.meter.sample())
        result.cpu_ms_per_doc = cpu_ms_per_doc(cpu, max(1, len(samples)))
        result.extra["slowest_copy_per_round_ms"] = [round(x * 1000) for x in slowest]
        result.extra["runs_per_document"] = sorted(set(runs.values()))
        result.problems = problems + result.problems
        self.record(result)


async def process_inline(processor: InlineProcessor, docs: Sequence[Doc], threads: int) -> list[InlineOutcome]:
    """Every document processed in the caller, by ``threads`` callers at once (off the event loop)."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inline") as pool:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: list(pool.map(processor.process, docs)))
