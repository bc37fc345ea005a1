"""duesflow's first benchmark, against a real stack (Temporal dev server, PostgreSQL, Redis). Not a test.

    python -m bench.run --quick          # smoke run: 30 documents per scenario
    python -m bench.run                  # 200 documents per scenario, offered rates 10/s and 25/s

Prints, in one run:
  (a) ack latency (p50/p95/p99 of ``DuesflowClient.submit``) of payment entries at fixed offered rates (open loop);
  (b) the same for the engine floor (``bench.floor.FloorWorkflow``: same shape, steps that do nothing);
  (c) end-to-end completion throughput (pipelines/s) of duesflow and the floor, from a burst;
  (d) the same kind of documents processed inline (every step in the caller, the predecessor's way);
  (e) ack latency again with member histories ``--history-factor`` (100) times longer;
  (f) time to verdict when the same document is submitted ``--dup-copies`` (30) times at once, ``--dup-rounds`` rounds.

By default it owns everything it uses: a fresh database on the machine's PostgreSQL (dropped at the end), a Temporal
dev server on free ports, and two worker processes (``python -m worker`` for duesflow, ``python -m bench.floor_worker``
for the floor, both configured with the same ``DUESFLOW_*`` settings). Redis is shared; keys are per benchmark site.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from bench.stack import CpuMeter, WorkerProcess, create_database, drop_database, start_server
from bench.targets import DuesflowTarget, FloorTarget, InlineProcessor, Target
from config.settings import Settings
from domain.messages import PipelineResult
from infra.demo import generate
from infra.temporal_server import DevServer, ensure_search_attributes
from ledger.cache import ReadCache
from ledger.db import make_engine
from ledger.migrate import upgrade
from ledger.schema import dunning_cases
from starter.client import DuesflowClient
from workflows import search_attributes as sa

Doc = dict[str, Any]
USER = "penningmeester@bench.duesflow.local"
PAYMENTS_PER_MEMBER = 6  # infra.demo over 12 months gives ~6.4 payment entries per member
WARMUP_DOCS = 10

# Targets: ratios to the engine floor measured in the same run
# (docs/decisions/0010-benchmark-against-an-engine-floor.md).
TARGET_ACK_RATIO = 1.2
TARGET_THROUGHPUT_RATIO = 0.67


# ------------------------------------------------------------------------------------------------------------ samples


@dataclass
class Sample:
    name: str
    wid: str | None
    due: float  # perf_counter time the submission was due (open loop) or started (burst)
    lag: float  # how late the call started, seconds
    ack: float  # due -> verdict, seconds
    status: str  # accepted / rejected / pending / error
    error: str | None = None
    done: float | None = None  # perf_counter time the workflow closed (the server's close time)
    steps: int = 0
    failed_steps: int = 0
    retried_steps: int = 0
    verdict: str | None = None  # the verdict as JSON (section f compares the copies' verdicts)


@dataclass
class Result:
    section: str
    scenario: str
    engine: str
    docs: int
    accepted: int = 0
    rejected: int = 0
    pending: int = 0
    lost: int = 0
    errors: int = 0
    offered_rate: float | None = None
    concurrency: int | None = None
    ack_ms: dict[str, float] = field(default_factory=dict)
    done_ms: dict[str, float] = field(default_factory=dict)
    completed: int = 0
    throughput: float | None = None  # completed pipelines per second, first submission to last close
    elapsed_s: float = 0.0
    max_lag_ms: float = 0.0
    steps: int = 0
    failed_steps: int = 0
    retried_steps: int = 0
    cpu_ms_per_doc: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds (linear interpolation between closest ranks)."""
    if not values:
        return {}
    xs = sorted(v * 1000 for v in values)

    def pct(p: float) -> float:
        k = (len(xs) - 1) * p / 100
        lo, hi = math.floor(k), math.ceil(k)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    return {
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": xs[-1],
        "mean": sum(xs) / len(xs),
    }


# ------------------------------------------------------------------------------------------------------------ driving


async def drive(target: Target, docs: Sequence[Doc], *, rate: float | None, concurrency: int | None) -> list[Sample]:
    """Open loop at ``rate`` documents/s (each submission starts on schedule, whatever the earlier ones do), or a
    burst with at most ``concurrency`` submissions in flight. Ack latency counts from the scheduled time."""
    sem = asyncio.Semaphore(concurrency) if concurrency else None
    samples: list[Sample | None] = [None] * len(docs)

    async def call(i: int, doc: Doc, due: float) -> None:
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
        samples[i] = Sample(doc["name"], wid, due, start - due, end - due, status, error, verdict=answer)

    async def one(i: int, doc: Doc, due: float) -> None:
        if sem is None:
            await call(i, doc, due)
            return
        async with sem:
            await call(i, doc, time.perf_counter())

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


class StalledError(RuntimeError):
    pass


async def find_lost(client: Client, samples: Sequence[Sample]) -> None:
    """A "pending" verdict names a workflow id, but when the call timed out before the server took the start, no
    workflow exists: mark those "lost" (an ERP waiting on that id would wait forever)."""

    async def check(s: Sample) -> None:
        for attempt in range(3):
            try:
                await client.get_workflow_handle(s.wid or "").describe()
                return
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    return
            if attempt < 2:
                await asyncio.sleep(0.5)
        s.status = "lost"
        s.error = f"verdict 'pending' for {s.wid}, but no such workflow exists"

    await asyncio.gather(*(check(s) for s in samples if s.status == "pending" and s.wid))


async def settle_reminder_flows(client: Client, engine: Engine, site: str, timeout: float) -> int:
    """Wait until every reminder flow the setup's invoices started has opened its dunning case (and so sleeps on its
    timer), so that no setup work overlaps the measured scenarios; returns how many there are."""
    query = f"DuesflowSite = '{site}' AND WorkflowType = 'ReminderWorkflow'"
    deadline = time.monotonic() + timeout
    while True:
        flows = (await client.count_workflows(query)).count
        with engine.connect() as conn:
            cases = conn.execute(
                select(func.count()).select_from(dunning_cases).where(dunning_cases.c.site == site)
            ).scalar_one()
        if cases >= flows or time.monotonic() > deadline:
            return flows
        await asyncio.sleep(0.2)


async def drain(
    client: Client,
    site: str,
    since: dt.datetime,
    samples: Sequence[Sample],
    timeout: float,
    stall_timeout: float = 60.0,
) -> None:
    """Wait until every workflow the samples started has closed, and take its close time from the server.

    Completion is watched through visibility (two cheap counts every 100 ms) rather than one ``handle.result()``
    long poll per workflow, so the measurement adds almost no load while the pipelines run; ``handle.result()`` is
    called afterwards, on closed workflows, for the steps' outcomes.
    """
    offset = time.time() - time.perf_counter()
    await find_lost(client, samples)
    started = {s.wid for s in samples if s.wid is not None and s.status not in ("error", "lost")}
    stamp = (since - dt.timedelta(seconds=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Reminder flows (children of invoices) run for weeks by design: the pipelines are what is measured.
    query = f"DuesflowSite = '{site}' AND StartTime >= '{stamp}' AND WorkflowType != 'ReminderWorkflow'"
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    last_change = time.monotonic()
    while started and time.monotonic() < deadline:
        total = (await client.count_workflows(query)).count
        running = (await client.count_workflows(f"{query} AND ExecutionStatus = 'Running'")).count
        if total >= len(started) and running == 0:
            break
        if (total, running) != last:
            last, last_change = (total, running), time.monotonic()
        elif time.monotonic() - last_change > stall_timeout:
            stuck = [wf.id async for wf in client.list_workflows(f"{query} AND ExecutionStatus = 'Running'", limit=3)]
            raise StalledError(
                f"no progress for {stall_timeout:.0f}s: {running} running (e.g. {stuck}), {total} of "
                f"{len(started)} visible; a failing workflow task (see the worker log) or a step waiting for a retry?"
            )
        await asyncio.sleep(0.1)
    closed: dict[str, float] = {}
    async for wf in client.list_workflows(query):
        if wf.id in started and wf.close_time is not None:
            closed[wf.id] = wf.close_time.timestamp() - offset

    sem = asyncio.Semaphore(32)

    async def outcome(s: Sample) -> None:
        if s.wid not in started:
            return
        if s.wid not in closed:
            s.error = f"{s.error + '; ' if s.error else ''}not closed after {timeout:.0f}s"
            return
        s.done = closed[s.wid]
        async with sem:
            try:
                result = await client.get_workflow_handle(s.wid, result_type=PipelineResult).result()
            except Exception as exc:
                s.error = f"{s.error + '; ' if s.error else ''}result: {type(exc).__name__}: {exc}"
                return
        s.steps = len(result.steps)
        s.failed_steps = sum(1 for st in result.steps if st.status == "failed")
        s.retried_steps = sum(1 for st in result.steps if st.attempts > 1)
        if s.failed_steps:
            s.error = "; ".join(f"{st.name}: {st.last_error}" for st in result.steps if st.status == "failed")

    await asyncio.gather(*(outcome(s) for s in samples))


def summarize(section: str, scenario: str, engine: str, samples: Sequence[Sample], **kw: Any) -> Result:
    r = Result(section=section, scenario=scenario, engine=engine, docs=len(samples), **kw)
    r.accepted = sum(s.status == "accepted" for s in samples)
    r.rejected = sum(s.status == "rejected" for s in samples)
    r.pending = sum(s.status == "pending" for s in samples)
    r.lost = sum(s.status == "lost" for s in samples)
    r.errors = sum(s.status == "error" for s in samples)
    # Pending ones (no verdict within the timeout) count with the time they waited: a lower bound, not dropped.
    answered = [s for s in samples if s.status in ("accepted", "rejected", "pending", "lost")]
    r.ack_ms = percentiles([s.ack for s in answered])
    closed = [s for s in samples if s.done is not None and s.status in ("accepted", "pending")]
    r.done_ms = percentiles([s.done - s.due for s in closed if s.done is not None])
    r.completed = len(closed)
    if closed and samples:
        span = max(s.done for s in closed if s.done is not None) - min(s.due for s in samples)
        r.throughput = len(closed) / span if span > 0 else None
    r.max_lag_ms = max((s.lag for s in samples), default=0.0) * 1000
    r.steps = sum(s.steps for s in samples)
    r.failed_steps = sum(s.failed_steps for s in samples)
    r.retried_steps = sum(s.retried_steps for s in samples)
    r.problems = [f"{s.name} [{s.status}] {s.error}" for s in samples if s.error][:8]
    return r


# ------------------------------------------------------------------------------------------------------------ run


@dataclass
class Config:
    count: int
    rates: list[float]
    throughput_count: int
    inline_count: int
    inline_threads: int
    burst_concurrency: int
    history_factor: int
    result_timeout: float
    stall_timeout: float
    sections: set[str]
    dup_copies: int = 30
    dup_rounds: int = 10


class Bench:
    def __init__(self, cfg: Config, settings: Settings, floor_settings: Settings, engine: Engine, cache: ReadCache):
        self.cfg = cfg
        self.settings = settings
        self.floor_settings = floor_settings
        self.engine = engine
        self.cache = cache
        self.run_id = uuid.uuid4().hex[:8]
        self.site = f"bench-{self.run_id}.duesflow.local"
        self.results: list[Result] = []
        self.info: dict[str, Any] = {}
        self.meter: CpuMeter | None = None
        self.workers: Mapping[str, list[WorkerProcess]] = {}
        self._task_failures: dict[str, int] = {}
        self._floor_runs = 0
        self.temporal: Client
        self.duesflow: DuesflowClient
        self.members_of_customer: dict[str, list[str]] = {}
        self.pool: Iterator[Doc]

    # -- setup ----------------------------------------------------------------------------------------------------

    def docs_needed(self) -> int:
        c, n_rates = self.cfg, len(self.cfg.rates)
        need = WARMUP_DOCS
        if "rate" in c.sections:
            need += c.count * n_rates
        if "burst" in c.sections:
            need += c.throughput_count
        if "inline" in c.sections:
            need += 2 * c.inline_count
        if "long" in c.sections:
            need += c.count * n_rates + c.throughput_count
        if "dup" in c.sections:
            need += c.dup_rounds
        return need

    async def setup_data(self) -> None:
        """A demo association: reference data loaded, its invoices submitted through duesflow (so the payments
        have open invoices to allocate); its payment entries, unsubmitted, are the benchmark's documents."""
        need = self.docs_needed()
        members = max(40, math.ceil(need / PAYMENTS_PER_MEMBER))
        demo = generate(members=members, months=12, seed=7, site=self.site, today=dt.date.today())
        for m in demo.members:
            self.members_of_customer.setdefault(m["customer"], []).append(m["name"])
        for names in self.members_of_customer.values():
            names.sort()  # step 1 lists a customer's members by name
        report = await self.duesflow.load_reference_data(demo.reference_data(), site=self.site)
        t0, since = time.perf_counter(), dt.datetime.now(dt.UTC)
        samples = await drive(DuesflowTarget(self.duesflow, self.site, USER), demo.invoices, rate=None, concurrency=32)
        await drain(self.temporal, self.site, since, samples, self.cfg.result_timeout, self.cfg.stall_timeout)
        setup = summarize("setup", "demo invoices (burst)", "duesflow", samples, concurrency=32)
        reminder_flows = await settle_reminder_flows(self.temporal, self.engine, self.site, self.cfg.stall_timeout)
        elapsed = time.perf_counter() - t0
        bad = setup.rejected + setup.pending + setup.errors
        self.info["demo"] = {
            "members": report.members,
            "customers": report.customers,
            "mandates": report.mandates,
            "invoices": len(demo.invoices),
            "payment_entries": len(demo.payments),
            "invoices_seconds": round(elapsed, 1),
            "invoices_not_accepted": bad,
        }
        print(
            f"setup: {report.customers} customers, {report.members} members, {report.mandates} mandates; "
            f"{len(demo.invoices)} invoices submitted through duesflow in {elapsed:.1f}s "
            f"({len(demo.invoices) / elapsed:.1f}/s, {bad} not accepted, {reminder_flows} reminder flows waiting); "
            f"{len(demo.payments)} payment entries",
            flush=True,
        )
        for p in setup.problems:
            print(f"  setup problem: {p}")
        self.pool = self._payment_pool(demo.payments)

    def _payment_pool(self, payments: list[Doc]) -> Iterator[Doc]:
        """The demo's payment entries (valid in any order: each invoice's allocations add up to at most its total),
        then, if more are needed, fresh unallocated bank transfers from the association's customers."""
        yield from payments
        template = copy.deepcopy(payments[0])
        customers = sorted(self.members_of_customer)
        for n in range(1, 10**7):
            doc = copy.deepcopy(template)
            paid = doc["paid_amount"]
            doc.update(
                name=f"BENCH-PAY-{n:06d}",
                party=customers[n % len(customers)],
                party_name=customers[n % len(customers)],
                mode_of_payment="Bank Transfer",
                references=[],
                total_allocated_amount=0.0,
                unallocated_amount=paid,
                custom_sepa_batch=None,
                reference_no=f"BENCH-{n}",
            )
            yield doc

    def new_task_failures(self) -> dict[str, int]:
        """Failed workflow activations each worker logged since the last call (they retry, never finish)."""
        new = {}
        for label, procs in self.workers.items():
            count = 0
            for proc in procs:
                try:
                    log = proc.log_path.read_bytes()
                except OSError:
                    continue
                count += log.count(b"Failed activation") + log.count(b"Nondeterminism")
            if count > self._task_failures.get(label, 0):
                new[label] = count - self._task_failures.get(label, 0)
            self._task_failures[label] = count
        return new

    def take(self, n: int) -> list[Doc]:
        return [next(self.pool) for _ in range(n)]

    def members_of(self, doc: Doc) -> list[str]:
        return list(self.members_of_customer.get(doc.get("party") or "", []))

    def floor_target(self) -> FloorTarget:
        # A fresh site per floor run: the floor may run the same documents more than once.
        self._floor_runs += 1
        site = f"floor{self._floor_runs}-{self.run_id}.bench.local"
        return FloorTarget(self.temporal, self.floor_settings, site, USER, self.members_of)

    # -- scenarios ------------------------------------------------------------------------------------------------

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
        assert self.meter is not None
        cpu0 = self.meter.sample()
        t0, since = time.perf_counter(), dt.datetime.now(dt.UTC)
        samples = await drive(target, docs, rate=rate, concurrency=concurrency)
        await drain(self.temporal, target.site, since, samples, self.cfg.result_timeout, self.cfg.stall_timeout)
        elapsed = time.perf_counter() - t0
        cpu = CpuMeter.delta(cpu0, self.meter.sample())  # includes the few result() calls on closed workflows
        result = summarize(section, scenario, target.engine, samples, offered_rate=rate, concurrency=concurrency)
        result.elapsed_s = elapsed
        result.cpu_ms_per_doc = {k: v * 1000 / max(1, len(docs)) for k, v in cpu.items()}
        pending = [s for s in samples if s.status == "pending" and s.wid]
        if pending:
            # Why no verdict in time? The workflow's own history says whether its tasks timed out and were redone.
            stats = await history_stats(self.temporal, pending[0].wid or "")
            result.extra["pending_example"] = {"workflow_id": pending[0].wid, **stats}
            result.problems.insert(
                0,
                f"{len(pending)} verdict(s) pending; e.g. {pending[0].name}: "
                f"{stats.get('workflow_task_timeouts')} workflow-task timeouts, "
                f"{stats.get('workflow_task_failures')} workflow-task failures, {stats.get('events')} events",
            )
        for label, failures in self.new_task_failures().items():
            result.extra[f"{label}_workflow_task_failures"] = failures
            result.problems.insert(0, f"{label} worker logged {failures} failed workflow activation(s)")
        if record:
            self.results.append(result)
            print(f"  {progress_line(result)}", flush=True)
        await asyncio.sleep(1.0)  # let the last effects settle before the next scenario
        return result

    async def warm_up(self) -> None:
        docs = self.take(WARMUP_DOCS)
        await self.measure("warmup", "warm-up", self.floor_target(), docs, concurrency=8, record=False)
        await self.measure(
            "warmup", "warm-up", DuesflowTarget(self.duesflow, self.site, USER), docs, concurrency=8, record=False
        )

    async def rates(self, section: str, note: str = "") -> None:
        for rate in self.cfg.rates:
            docs = self.take(self.cfg.count)
            # Side by side: the floor runs the very documents duesflow runs next (on its own site).
            floor, duesflow = self.floor_target(), DuesflowTarget(self.duesflow, self.site, USER)
            await self.measure(section, f"ack @{rate:g}/s{note}", floor, docs, rate=rate)
            await self.measure(section, f"ack @{rate:g}/s{note}", duesflow, docs, rate=rate)
            if "history_events" not in self.info:
                # One document's workflow history under both engines: what each pipeline costs the server.
                doc = next((d for d in docs if "SEPA" in (d.get("mode_of_payment") or "")), docs[0])
                self.info["history_events"] = {
                    "document": doc["name"],
                    "mode_of_payment": doc.get("mode_of_payment"),
                    "members": len(self.members_of(doc)),
                    "floor": await history_stats(self.temporal, floor.workflow_id(doc)),
                    "duesflow": await history_stats(self.temporal, duesflow.workflow_id(doc)),
                }

    async def burst(self, section: str, note: str = "") -> None:
        docs = self.take(self.cfg.throughput_count)
        c = self.cfg.burst_concurrency
        await self.measure(section, f"burst ({c} in flight){note}", self.floor_target(), docs, concurrency=c)
        await self.measure(
            section,
            f"burst ({c} in flight){note}",
            DuesflowTarget(self.duesflow, self.site, USER),
            docs,
            concurrency=c,
        )

    async def inline(self) -> None:
        processor = InlineProcessor(self.engine, self.cache, self.settings, self.site, USER)
        for threads in (1, self.cfg.inline_threads):
            docs = self.take(self.cfg.inline_count)
            assert self.meter is not None
            cpu0 = self.meter.sample()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inline") as pool:
                outcomes = await asyncio.get_running_loop().run_in_executor(
                    None, lambda p=pool, d=docs: list(p.map(processor.process, d))
                )
            elapsed = time.perf_counter() - t0
            cpu = CpuMeter.delta(cpu0, self.meter.sample())
            r = Result(
                section="d",
                scenario=f"inline, {threads} caller{'s' if threads > 1 else ''}",
                engine="inline",
                docs=len(docs),
                concurrency=threads,
            )
            for o in outcomes:
                status = o.verdict.status if o.verdict else "error"
                r.accepted += status == "accepted"
                r.rejected += status == "rejected"
                r.errors += status == "error"
                r.steps += o.steps
                r.failed_steps += o.failed_steps
            ok = [o for o in outcomes if o.verdict is not None]
            # What the ERP user waits for inline is everything: the "ack" is the whole document.
            r.ack_ms = percentiles([o.total_seconds for o in ok])
            r.done_ms = r.ack_ms
            r.completed = sum(1 for o in outcomes if o.verdict is not None and o.verdict.accepted)
            r.throughput = r.completed / elapsed
            r.elapsed_s = elapsed
            r.cpu_ms_per_doc = {k: v * 1000 / len(docs) for k, v in cpu.items()}
            r.extra["validate_ms"] = percentiles([o.validate_seconds for o in ok])
            r.problems = [f"{d['name']}: {o.error}" for d, o in zip(docs, outcomes, strict=True) if o.error][:8]
            self.results.append(r)
            print(f"  {progress_line(r)}", flush=True)
            await asyncio.sleep(1.0)

    async def long_histories(self) -> None:
        """Give the customers of the next documents ``history_factor`` times as many history rows (unreconciled
        payments, which the projection lists without limit), then measure again."""
        n_docs = (self.cfg.count * len(self.cfg.rates) if "rate" in self.cfg.sections else 0) + (
            self.cfg.throughput_count if "burst" in self.cfg.sections else 0
        )
        docs = self.take(n_docs)
        customers = sorted({d["party"] for d in docs if d.get("party")})
        t0 = time.perf_counter()
        stats = await asyncio.to_thread(
            extend_histories, self.engine, self.site, customers, self.cfg.history_factor, dt.date.today()
        )
        stats["seconds"] = round(time.perf_counter() - t0, 1)
        print(
            f"  long histories: {stats['payments_added']} unreconciled payments added for {len(customers)} customers "
            f"in {stats['seconds']}s (history rows/member before: {stats['rows_before_avg']:.1f})",
            flush=True,
        )
        pool = iter(docs)
        self.pool, saved = pool, self.pool
        try:
            if "rate" in self.cfg.sections:
                await self.rates("e", f", histories x{self.cfg.history_factor}")
            if "burst" in self.cfg.sections:
                await self.burst("e", f", histories x{self.cfg.history_factor}")
        finally:
            self.pool = saved
        stats["rows_after_avg"] = await asyncio.to_thread(history_rows_avg, self.engine, self.site, customers)
        print(f"  history rows/member after the runs: {stats['rows_after_avg']:.1f}", flush=True)
        self.info["long_histories"] = stats

    async def duplicates(self) -> None:
        """(f) One document submitted ``dup_copies`` times at once (an ERP hook fired twice, several web workers
        submitting the same document), for ``dup_rounds`` documents in turn: the time to verdict of every copy. Every
        copy must get the same verdict, and each document must have exactly one workflow run."""
        c = self.cfg
        target = DuesflowTarget(self.duesflow, self.site, USER)
        assert self.meter is not None
        cpu0 = self.meter.sample()
        t0, since = time.perf_counter(), dt.datetime.now(dt.UTC)
        samples: list[Sample] = []
        slowest: list[float] = []
        problems: list[str] = []
        for _ in range(c.dup_rounds):
            doc = next(self.pool)
            batch = await drive(target, [doc] * c.dup_copies, rate=None, concurrency=c.dup_copies)
            samples += batch
            slowest.append(max(s.ack for s in batch))
            answers = {s.verdict for s in batch}
            if len(answers) != 1 or None in answers:
                problems.append(f"{doc['name']}: {len(answers)} different verdicts among {c.dup_copies} copies")
        await drain(self.temporal, self.site, since, samples, c.result_timeout, c.stall_timeout)
        runs = {}
        for wid in sorted({s.wid for s in samples if s.wid}):
            runs[wid] = (await self.temporal.count_workflows(f"WorkflowId = '{wid}'")).count
        problems += [f"{wid}: {n} workflow runs" for wid, n in runs.items() if n != 1]
        scenario = f"{c.dup_copies} identical at once, {c.dup_rounds} rounds"
        result = summarize("f", scenario, "duesflow", samples, concurrency=c.dup_copies)
        result.throughput, result.done_ms = None, {}  # copies of one document: only the time to verdict is meant
        result.elapsed_s = time.perf_counter() - t0
        cpu = CpuMeter.delta(cpu0, self.meter.sample())
        result.cpu_ms_per_doc = {k: v * 1000 / max(1, len(samples)) for k, v in cpu.items()}
        result.extra["slowest_copy_per_round_ms"] = [round(x * 1000) for x in slowest]
        result.extra["runs_per_document"] = sorted(set(runs.values()))
        result.problems = problems + result.problems
        self.results.append(result)
        print(f"  {progress_line(result)}", flush=True)


async def history_stats(client: Client, wid: str) -> dict[str, int]:
    try:
        history = await client.get_workflow_handle(wid).fetch_history()
    except Exception:
        return {}
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    return {
        "events": len(history.events),
        "bytes": sum(e.ByteSize() for e in history.events),
        "workflow_tasks": kinds["EVENT_TYPE_WORKFLOW_TASK_COMPLETED"],
        "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
        "search_attribute_upserts": kinds["EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        "workflow_task_timeouts": kinds["EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"],
        "workflow_task_failures": kinds["EVENT_TYPE_WORKFLOW_TASK_FAILED"],
        "local_activity_markers": kinds["EVENT_TYPE_MARKER_RECORDED"],
    }


def extend_histories(engine: Engine, site: str, customers: list[str], factor: int, today: dt.date) -> dict[str, Any]:
    """Bulk-insert (factor - 1) x (current history rows) unreconciled payments per customer, older than anything."""
    with engine.begin() as conn:
        rows = dict(
            conn.execute(
                text(
                    """
                    SELECT m.customer, coalesce(max(h.n), 0)
                    FROM members m
                    LEFT JOIN (SELECT member, count(*) AS n FROM member_history WHERE site = :site GROUP BY member) h
                      ON h.member = m.name
                    WHERE m.site = :site AND m.customer = ANY(:customers)
                    GROUP BY m.customer
                    """
                ),
                {"site": site, "customers": customers},
            ).all()
        )
        added = 0
        base = today - dt.timedelta(days=400)
        for i, customer in enumerate(customers):
            n = (factor - 1) * max(1, rows.get(customer, 0))
            conn.execute(
                text(
                    """
                    INSERT INTO payments (site, name, payment_type, party_type, party, posting_date, mode_of_payment,
                                          paid_amount, received_amount, reference_no, docstatus)
                    SELECT :site, :prefix || g, 'Receive', 'Customer', :party, CAST(:base AS date) - g,
                           'Bank Transfer', 10.00, 10.00, 'OLD-' || g, 1
                    FROM generate_series(1, :n) AS g
                    """
                ),
                {"site": site, "prefix": f"BENCH-OLD-{i:05d}-", "party": customer, "base": base, "n": n},
            )
            added += n
        conn.execute(text("ANALYZE payments"))
    before = [rows.get(c, 0) for c in customers]
    return {
        "customers": len(customers),
        "factor": factor,
        "payments_added": added,
        "rows_before_avg": sum(before) / max(1, len(before)),
    }


def history_rows_avg(engine: Engine, site: str, customers: list[str]) -> float:
    with engine.connect() as conn:
        value = conn.execute(
            text(
                """
                SELECT avg(coalesce(h.n, 0)) FROM members m
                LEFT JOIN (SELECT member, count(*) AS n FROM member_history WHERE site = :site GROUP BY member) h
                  ON h.member = m.name
                WHERE m.site = :site AND m.customer = ANY(:customers)
                """
            ),
            {"site": site, "customers": customers},
        ).scalar()
    return float(value or 0)


# ------------------------------------------------------------------------------------------------------------ report


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def progress_line(r: Result) -> str:
    a = r.ack_ms
    tp = f"{r.throughput:.1f}/s" if r.throughput else "-"
    return (
        f"[{r.section}] {r.scenario:<40} {r.engine:<8} docs={r.docs} ok={r.accepted} rej={r.rejected} "
        f"pend={r.pending} lost={r.lost} err={r.errors}  ack p50/p95/p99={fmt(a.get('p50'))}/{fmt(a.get('p95'))}/"
        f"{fmt(a.get('p99'))} ms  throughput={tp}  ({r.elapsed_s:.1f}s)"
    )


def report(results: list[Result], info: Mapping[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w("")
    w("=" * 150)
    w("duesflow benchmark — " + ", ".join(f"{k}={v}" for k, v in info.get("environment", {}).items()))
    if "demo" in info:
        w("data: " + ", ".join(f"{k}={v}" for k, v in info["demo"].items()))
    w("=" * 150)
    head = (
        f"{'sec':<4}{'scenario':<40}{'engine':<9}{'docs':>5}{'ok':>5}{'rej':>4}{'pend':>5}{'lost':>5}{'err':>4} | "
        f"{'ack p50':>8}{'p95':>7}{'p99':>7}{'max':>7} | {'done p50':>9}{'p95':>7} | {'pipel./s':>8} | "
        f"{'lag max':>7}{'fail':>5}{'retry':>6}"
    )
    w(head)
    w("-" * len(head))
    for r in results:
        a, d = r.ack_ms, r.done_ms
        w(
            f"{r.section:<4}{r.scenario:<40}{r.engine:<9}{r.docs:>5}{r.accepted:>5}{r.rejected:>4}{r.pending:>5}"
            f"{r.lost:>5}{r.errors:>4} | {fmt(a.get('p50')):>8}{fmt(a.get('p95')):>7}{fmt(a.get('p99')):>7}"
            f"{fmt(a.get('max')):>7} | {fmt(d.get('p50')):>9}{fmt(d.get('p95')):>7} | {fmt(r.throughput, 1):>8} | "
            f"{fmt(r.max_lag_ms):>7}{r.failed_steps:>5}{r.retried_steps:>6}"
        )
    w("")
    w("ack = submit() -> verdict in ms, from the scheduled send time (open loop) or the call (burst); inline: whole")
    w("document. done = scheduled send -> workflow closed (server close time). pipel./s = completed pipelines /")
    w("(first send -> last close). lag max = how late the generator started a send. fail/retry = background steps.")
    w("pend = no verdict within --verdict-timeout (submit returned 'pending'); counted in ack at the time waited.")
    w("lost = 'pending' verdict naming a workflow that was never started (the start itself timed out).")
    if info.get("unretrieved_start_futures"):
        w(
            f"{info['unretrieved_start_futures']} 'Future exception was never retrieved' (RPCError of the start "
            "operation after a verdict timeout) were silenced (see bench/README.md)."
        )

    inline = [r for r in results if r.engine == "inline" and "validate_ms" in r.extra]
    for r in inline:
        v = r.extra["validate_ms"]
        w(
            f"{r.scenario}: step 1 alone (validate+record) p50/p95/p99 = "
            f"{fmt(v.get('p50'), 1)}/{fmt(v.get('p95'), 1)}/{fmt(v.get('p99'), 1)} ms"
        )

    ev = info.get("history_events")
    if ev:
        w(
            f"workflow history of {ev['document']} ({ev['mode_of_payment']}, {ev['members']} member(s)): "
            + "; ".join(
                f"{engine} {st.get('events')} events / {st.get('bytes')} bytes, {st.get('workflow_tasks')} workflow "
                f"tasks, {st.get('activities')} activities, {st.get('search_attribute_upserts')} SA upserts"
                for engine, st in (("floor", ev["floor"]), ("duesflow", ev["duesflow"]))
            )
        )

    w("")
    w("CPU ms per document (user+system, whole scenario including its background work):")
    comps = sorted({k for r in results for k in r.cpu_ms_per_doc})
    w(f"  {'sec':<4}{'scenario':<40}{'engine':<9}" + "".join(f"{c[:16]:>17}" for c in comps))
    for r in results:
        w(
            f"  {r.section:<4}{r.scenario:<40}{r.engine:<9}"
            + "".join(f"{fmt(r.cpu_ms_per_doc.get(c), 1):>17}" for c in comps)
        )

    w("")
    w("Side by side (duesflow / floor):")
    pairs: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    for r in results:
        pairs[(r.section, r.scenario)][r.engine] = r
    for (section, scenario), by in pairs.items():
        if "duesflow" not in by or "floor" not in by:
            continue
        df, fl = by["duesflow"], by["floor"]
        line = f"  [{section}] {scenario:<40}"
        if df.ack_ms and fl.ack_ms:
            ratio = df.ack_ms["p50"] / fl.ack_ms["p50"]
            verdict = "meets" if ratio <= TARGET_ACK_RATIO else "misses"
            line += (
                f" ack p50 {df.ack_ms['p50']:.0f}/{fl.ack_ms['p50']:.0f} ms = {ratio:.2f}x ({verdict} <= "
                f"{TARGET_ACK_RATIO}x); p95 {df.ack_ms['p95'] / fl.ack_ms['p95']:.2f}x"
            )
        if df.offered_rate is None and df.throughput and fl.throughput:
            ratio = df.throughput / fl.throughput
            verdict = "meets" if ratio >= TARGET_THROUGHPUT_RATIO else "misses"
            line += (
                f"; throughput {df.throughput:.1f}/{fl.throughput:.1f} /s = {ratio:.2f}x "
                f"({verdict} >= {TARGET_THROUGHPUT_RATIO}x)"
            )
        w(line)

    base = {r.scenario: r for r in results if r.section == "a" and r.engine == "duesflow"}
    long = [r for r in results if r.section == "e" and r.engine == "duesflow"]
    if long:
        lh = info.get("long_histories", {})
        w("")
        w(
            f"Long histories (e): history rows per member {lh.get('rows_before_avg', 0):.1f} -> "
            f"{lh.get('rows_after_avg', 0):.1f} ({lh.get('payments_added', 0)} payments added)"
        )
        for r in long:
            short = base.get(r.scenario.split(",")[0])
            if short and short.ack_ms and r.ack_ms:
                w(
                    f"  {r.scenario:<40} ack p50 {r.ack_ms['p50']:.0f} ms vs {short.ack_ms['p50']:.0f} ms "
                    f"({r.ack_ms['p50'] / short.ack_ms['p50']:.2f}x); p99 {r.ack_ms['p99']:.0f} vs "
                    f"{short.ack_ms['p99']:.0f} ms; done p50 {fmt(r.done_ms.get('p50'))} vs "
                    f"{fmt(short.done_ms.get('p50'))} ms"
                )

    for r in results:
        if r.section != "f" or not r.ack_ms:
            continue
        a = r.ack_ms
        w("")
        w(
            f"Identical submissions ({r.scenario}): time to verdict p50 {a['p50']:.0f} / p99 {a['p99']:.0f} / "
            f"max {a['max']:.0f} ms over {r.docs} copies; slowest copy per round (ms): "
            + ", ".join(str(x) for x in r.extra.get("slowest_copy_per_round_ms", []))
        )
        runs = r.extra.get("runs_per_document", [])
        w(f"  workflow runs per document: {runs} (must be [1]); differing verdicts: {'yes' if r.problems else 'no'}")

    problems = [(r, p) for r in results for p in r.problems]
    if problems:
        w("")
        w("Problems (first per scenario):")
        for r, p in problems:
            w(f"  [{r.section}] {r.scenario} {r.engine}: {p}")
    w("=" * 150)
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="duesflow benchmark: ack latency, throughput and inline baseline against a real stack.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--count", type=int, default=200, help="payment entries per offered rate and engine")
    p.add_argument("--rates", default="10,25", help="offered rates (documents/s), comma-separated")
    p.add_argument("--throughput-count", type=int, help="documents per burst (default: --count)")
    p.add_argument("--inline-count", type=int, help="documents per inline run (default: --count)")
    p.add_argument("--inline-threads", type=int, default=8, help="concurrent callers of the second inline run")
    p.add_argument("--burst-concurrency", type=int, default=32, help="submissions in flight during a burst")
    p.add_argument("--history-factor", type=int, default=100, help="how many times longer histories get in (e)")
    p.add_argument("--dup-copies", type=int, default=30, help="copies of one document submitted at once in (f)")
    p.add_argument("--dup-rounds", type=int, default=10, help="documents submitted that way in turn in (f)")
    p.add_argument(
        "--only",
        default="rate,burst,inline,long,dup",
        help="sections to run: rate (a,b), burst (c), inline (d), long (e), dup (f)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 30 documents per scenario, at most 5 rounds in (f)")
    p.add_argument("--temporal-address", help="use this running Temporal frontend instead of starting a dev server")
    p.add_argument("--namespace", default="default")
    p.add_argument(
        "--temporal-db",
        choices=["memory", "file"],
        default="memory",
        help="own dev server: in memory, or a SQLite file (much slower and noisier on this VM's disk)",
    )
    p.add_argument(
        "--split-roles",
        action="store_true",
        help="run each engine's workflow and background roles in two processes (background niced by 10), as "
        "duesflow-worker --role all does, instead of one process each",
    )
    p.add_argument("--database-url", help="use this (migrated or empty) database instead of creating one")
    p.add_argument(
        "--admin-database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the benchmark database is created and dropped",
    )
    p.add_argument("--keep-database", action="store_true", help="do not drop the database the run created")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--verdict-timeout", type=float, default=10.0, help="seconds submit waits for step 1")
    p.add_argument(
        "--retry-interval-scale",
        type=float,
        default=0.01,
        help="scales the retry intervals of background steps (a retried step must not stall a measurement)",
    )
    p.add_argument("--result-timeout", type=float, default=600.0, help="seconds to wait for a workflow to close")
    p.add_argument(
        "--stall-timeout", type=float, default=60.0, help="abort when no workflow closes for this many seconds"
    )
    p.add_argument("--json", type=Path, help="also write all figures as JSON to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.count = min(args.count, 30)
        args.dup_rounds = min(args.dup_rounds, 5)
    args.throughput_count = args.throughput_count or args.count
    args.inline_count = args.inline_count or args.count
    args.rate_list = [float(x) for x in args.rates.split(",") if x.strip()]
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.sections - {"rate", "burst", "inline", "long", "dup"}
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}")
    if not args.rate_list or any(r <= 0 for r in args.rate_list):
        p.error("--rates needs positive numbers")
    if args.dup_copies < 2 or args.dup_rounds < 1:
        p.error("--dup-copies needs at least 2 and --dup-rounds at least 1")
    return args


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


def role_args(role: str) -> tuple[str, ...]:
    """Both engines get the same process layout: one process for --role all, or a workflow process plus a
    background process at lower CPU priority (what `duesflow-worker --role all` does by default)."""
    if role == "all":
        return ("--role", "all", "--single-process")
    return ("--role", role, *(("--nice", "10") if role == "background" else ()))


async def amain(args: argparse.Namespace) -> int:
    quiet = QuietStartFutures()
    asyncio.get_running_loop().set_exception_handler(quiet)
    cfg = Config(
        count=args.count,
        rates=args.rate_list,
        throughput_count=args.throughput_count,
        inline_count=args.inline_count,
        inline_threads=args.inline_threads,
        burst_concurrency=args.burst_concurrency,
        history_factor=args.history_factor,
        result_timeout=args.result_timeout,
        stall_timeout=args.stall_timeout,
        sections=args.sections,
        dup_copies=args.dup_copies,
        dup_rounds=args.dup_rounds,
    )
    workdir = Path(tempfile.mkdtemp(prefix="duesflow-bench-"))
    run = uuid.uuid4().hex[:8]
    db_name: str | None = None
    server: DevServer | None = None
    workers: dict[str, list[WorkerProcess]] = {}
    engine: Engine | None = None
    redis_client: redis.Redis | None = None
    bench: Bench | None = None
    failed = False
    try:
        # Database.
        if args.database_url:
            database_url = args.database_url
            await asyncio.to_thread(upgrade, database_url)
        else:
            db_name = f"duesflow_bench_{run}"
            database_url = await asyncio.to_thread(create_database, args.admin_database_url, db_name)
        print(f"database: {make_url(database_url).render_as_string(hide_password=True)}", flush=True)

        # Temporal.
        if args.temporal_address:
            address = args.temporal_address
        else:
            server = await asyncio.to_thread(
                start_server, workdir, persistent=args.temporal_db == "file", search_attributes=sa.REGISTRATION
            )
            address = server.address
        temporal = await Client.connect(address, namespace=args.namespace, data_converter=pydantic_data_converter)
        if args.temporal_address:
            await ensure_search_attributes(temporal, args.namespace, sa.REGISTRATION)
        print(f"temporal: {address} ({'own dev server, ' + args.temporal_db if server else 'external'})", flush=True)

        common: dict[str, Any] = {
            "temporal_address": address,
            "temporal_namespace": args.namespace,
            "database_url": database_url,
            "redis_url": args.redis_url,
            "verdict_timeout_seconds": args.verdict_timeout,
            "retry_interval_scale": args.retry_interval_scale,
            # A benchmark run must not be joined by a daily upkeep job.
            "upkeep_schedules": False,
        }
        settings = Settings(**common, task_queue=f"bench-{run}")
        floor_settings = Settings(**common, task_queue=f"bench-{run}-floor")

        # Workers in their own processes, with the same settings (concurrency limits, thread pool, DB pool).
        roles = ("workflows", "background") if args.split_roles else ("all",)
        for label, module, s in (("duesflow", "worker", settings), ("floor", "bench.floor_worker", floor_settings)):
            env = {
                "DUESFLOW_TEMPORAL_ADDRESS": s.temporal_address,
                "DUESFLOW_TEMPORAL_NAMESPACE": s.temporal_namespace,
                "DUESFLOW_DATABASE_URL": s.database_url,
                "DUESFLOW_REDIS_URL": s.redis_url,
                "DUESFLOW_TASK_QUEUE": s.task_queue,
            }
            workers[label] = [
                WorkerProcess(f"{label} ({role})", module, env, workdir / f"{label}-{role}.log", role_args(role))
                for role in roles
            ]
        all_workers = [w for procs in workers.values() for w in procs]
        for w in all_workers:
            w.start()
        await asyncio.gather(*(w.wait_ready() for w in all_workers))
        print(
            f"workers: duesflow (python -m worker) and floor (python -m bench.floor_worker), roles {'+'.join(roles)}, "
            f"max_concurrent_workflow_tasks={settings.max_concurrent_workflow_tasks}, "
            f"max_concurrent_activities={settings.max_concurrent_activities}",
            flush=True,
        )

        engine = make_engine(database_url, pool_size=max(4, args.inline_threads))
        redis_client = redis.Redis.from_url(args.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        cache = ReadCache(redis_client)
        bench = Bench(cfg, settings, floor_settings, engine, cache)
        bench.temporal = temporal
        bench.duesflow = DuesflowClient(temporal, settings, engine, cache)
        bench.meter = CpuMeter.for_stack(server, workers)
        bench.workers = workers
        bench.info["environment"] = {
            "cpus": os.cpu_count(),
            "temporal": "own dev server (" + args.temporal_db + ")" if server else f"external {address}",
            "count": cfg.count,
            "rates": ",".join(f"{r:g}" for r in cfg.rates),
            "burst_in_flight": cfg.burst_concurrency,
            "worker_roles": "+".join(roles),
        }

        await bench.setup_data()
        await bench.warm_up()
        if "rate" in cfg.sections:
            print("(a)+(b) ack latency at fixed offered rates, floor and duesflow side by side", flush=True)
            await bench.rates("a")
        if "burst" in cfg.sections:
            print("(c) completion throughput from a burst", flush=True)
            await bench.burst("c")
        if "inline" in cfg.sections:
            print("(d) inline: every step in the caller", flush=True)
            await bench.inline()
        if "dup" in cfg.sections:
            print(f"(f) the same document {cfg.dup_copies} times at once, {cfg.dup_rounds} rounds", flush=True)
            await bench.duplicates()
        if "long" in cfg.sections and {"rate", "burst"} & cfg.sections:
            print(f"(e) again with histories {cfg.history_factor}x longer", flush=True)
            await bench.long_histories()

        gc.collect()  # let the unretrieved futures be counted before the report
        bench.info["unretrieved_start_futures"] = quiet.count
        print(report(bench.results, bench.info), flush=True)
        if args.json:
            args.json.write_text(
                json.dumps({"info": bench.info, "results": [asdict(r) for r in bench.results]}, indent=2, default=str)
            )
            print(f"JSON written to {args.json}")
        return 0
    except BaseException:
        failed = True
        traceback.print_exc()
        for w in (w for procs in workers.values() for w in procs):
            print(f"--- {w.label} worker log tail ({w.log_path}):\n{w.log_tail()}", file=sys.stderr)
        raise
    finally:
        for w in (w for procs in workers.values() for w in procs):
            await asyncio.to_thread(w.stop)
        if bench is not None and redis_client is not None:
            try:
                keys = list(redis_client.scan_iter(f"duesflow:{bench.site}:*"))
                if keys:
                    redis_client.delete(*keys)
            except redis.RedisError:
                pass
        if engine is not None:
            engine.dispose()
        if server is not None:
            await asyncio.to_thread(server.stop)
        if db_name is not None and not args.keep_database:
            await asyncio.to_thread(drop_database, args.admin_database_url, db_name)
        elif db_name is not None:
            print(f"database kept: {db_name}")
        if failed:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(amain(args))
    except KeyboardInterrupt:
        return 130
    except Exception:
        return 1


if __name__ == "__main__":
    sys.exit(main())
