"""Fault drills on duesflow's own stack: its own PostgreSQL, Redis and Temporal dev server (started here, so they can
be stopped and killed without touching the machine's shared ones), the real `duesflow-worker` process, and a load of
the demo association's documents. During each load one part fails: the worker is killed with SIGKILL, PostgreSQL or
Redis is stopped, or the Temporal server is killed and restarted on its persisted database. After each:

- what users see: every document accepted (no wrong rejection), nothing but documented exceptions from ``submit``,
  no process left behind;
- the invariants: one `submitted` audit record per document, one mandate usage per (mandate, invoice, payment),
  analytics that count each accepted payment once, every member history equal to a rebuild, one notification per run,
  one mail per (invoice, level).

The normal run drills short outages on a small association; ``DUESFLOW_TEST_DRILLS=long`` drills PostgreSQL down for
three minutes and a bigger load (`bash infra/test.sh tests/drills`). Reminders run in seconds, so unpaid invoices
walk through their levels during the drill: one mail per (invoice, level) is checked at the SMTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select

from config.settings import Settings, as_environment, load_settings
from domain.errors import ServiceUnavailable
from domain.history import project_history
from domain.verdicts import Verdict
from infra import demo
from infra.embedded import EmbeddedService, free_port, start_postgres
from infra.mail_sink import MailSink
from infra.temporal_server import DevServer, start_dev_server
from ledger.history import history_facts, member_customer, read_history
from ledger.migrate import upgrade
from ledger.schema import (
    audit_records,
    mandate_usages,
    members,
    notifications,
    payment_facts,
    payments,
    reminder_messages,
)
from starter.client import DuesflowClient
from workflows import search_attributes as sa

LONG = os.environ.get("DUESFLOW_TEST_DRILLS") == "long"
MEMBERS = 40 if LONG else 8
POSTGRES_DOWN = 180.0 if LONG else 30.0
# Retry intervals shrink for the drill, but the spans must still outlast the outage (NORMAL: 3 h x scale).
SCALE = 0.05 if LONG else 0.01
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.drill


class Redis:
    """Debian's redis-server on a fixed port, so a restart is the same address."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: _port_open(self.port), "redis-server to listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass
class Stack:
    root: Path
    settings: Settings
    postgres: EmbeddedService
    redis: Redis
    temporal: DevServer
    temporal_port: int
    engine: Engine

    def restart_postgres(self) -> None:
        self.postgres = start_postgres(self.root / "pg")

    def start_temporal(self) -> None:
        self.temporal = start_dev_server(
            db_file=self.root / "temporal.db",
            port=self.temporal_port,
            ui_port=free_port(),
            search_attributes=sa.REGISTRATION,
        )


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ok: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp_sink: MailSink) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("drills")
    postgres = start_postgres(root / "pg")
    redis_server = Redis(free_port())
    redis_server.start()
    temporal_port = free_port()
    temporal = start_dev_server(
        db_file=root / "temporal.db", port=temporal_port, ui_port=free_port(), search_attributes=sa.REGISTRATION
    )
    upgrade(postgres.url)
    settings = load_settings(
        database_url=postgres.url,
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
        temporal_address=temporal.address,
        retry_interval_scale=SCALE,
        # Reminders in seconds: the unpaid invoices walk through their levels to the hand-off during the drill.
        reminder_grace=dt.timedelta(0),
        reminder_settle=dt.timedelta(seconds=3),
        reminder_interval=dt.timedelta(seconds=2),
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        upkeep_schedules=False,
        verdict_timeout_seconds=3,
        deployment="drills",
    )
    engine = create_engine(postgres.url, pool_pre_ping=True)
    built = Stack(root, settings, postgres, redis_server, temporal, temporal_port, engine)
    try:
        yield built
    finally:
        engine.dispose()
        built.temporal.stop()
        redis_server.stop()
        built.postgres.stop()


class Worker:
    """`duesflow-worker --role all`: the workflow role in its process, the background role in its child."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self._env = {**os.environ, **as_environment(settings)}
        self._log = log
        self._starts = 0  # "worker running (background)" lines seen so far: one more per start
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self._log.open("ab")
        self.proc = subprocess.Popen([str(BIN / "duesflow-worker")], env=self._env, stdout=out, stderr=out)
        wait_until(
            lambda: self._log.read_text().count("worker running (background)") > self._starts, "the worker to run"
        )
        self._starts += 1

    def child(self) -> int | None:
        assert self.proc is not None
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    return int(stat.parent.name)
        return None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


@pytest.fixture
async def worker(stack: Stack, tmp_path: Path) -> AsyncIterator[Worker]:
    w = Worker(stack.settings, tmp_path / "worker.log")
    await asyncio.to_thread(w.start)
    try:
        yield w
    finally:
        child = w.child() if w.proc is not None and w.proc.poll() is None else None
        await asyncio.to_thread(w.stop)
        # No process left behind: the background child ends with its parent.
        if child is not None:
            await asyncio.to_thread(wait_until, lambda: not Path(f"/proc/{child}").exists(), "the background child")


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[DuesflowClient]:
    c = await DuesflowClient.connect(stack.settings)
    try:
        yield c
    finally:
        await c.close()


def association(site: str) -> demo.DemoAssociation:
    """Dated so that every invoice is due (30 days after posting) before today: each reminder flow ends during the
    drill, settled by its payment or handed off."""
    return demo.generate(members=MEMBERS, months=3, site=site, today=dt.date.today() - dt.timedelta(days=31))


@dataclass
class Felt:
    """How the fault showed to submitters: verdicts that came back pending, submissions refused (and repeated)."""

    pending: int = 0
    refused: int = 0


async def submit_all(
    client: DuesflowClient, docs: list[dict[str, Any]], site: str, fault: Any, felt: Felt
) -> dict[str, Verdict]:
    """Submit every document (invoices before the payments that reference them, a few at a time). Once a third is
    in, ``fault()`` breaks something and returns the coroutine that repairs it, which runs while the rest is
    submitted. A submission that fails with a documented exception is submitted again later, as an ERP user would.
    Returns each document's first verdict."""
    verdicts: dict[str, Verdict] = {}
    todo = list(docs)
    repair: asyncio.Task[None] | None = None
    deadline = time.monotonic() + (POSTGRES_DOWN + 240)
    while todo:
        assert time.monotonic() < deadline, f"{len(todo)} documents never got a verdict"
        retry: list[dict[str, Any]] = []
        for i in range(0, len(todo), 6):
            batch = todo[i : i + 6]
            results = await asyncio.gather(
                *(client.submit(d, site=site, user=f"penningmeester@{site}") for d in batch), return_exceptions=True
            )
            for doc, result in zip(batch, results, strict=True):
                if isinstance(result, ServiceUnavailable):
                    felt.refused += 1
                    retry.append(doc)  # documented: nothing decided, try again
                elif isinstance(result, BaseException):
                    raise AssertionError(f"undocumented exception for {doc['name']}: {result!r}") from result
                else:
                    felt.pending += result.status == "pending"
                    verdicts[doc["name"]] = result
            if repair is None and len(verdicts) >= len(docs) // 3:
                repair = asyncio.create_task(await fault())
        todo = retry
        if todo:
            await asyncio.sleep(1)
    if repair is not None:
        await repair
    return verdicts


async def settle(client: DuesflowClient, verdicts: dict[str, Verdict]) -> None:
    """Every document's workflow ends, its verdict accepted (a pending one is decided meanwhile)."""
    for name, verdict in verdicts.items():
        assert verdict.status in ("accepted", "pending"), (name, verdict.errors)
        assert verdict.workflow_id is not None
        result = await asyncio.wait_for(client.wait(verdict.workflow_id), timeout=POSTGRES_DOWN + 300)
        assert result.verdict.status == "accepted", (name, result.verdict.errors)
        assert all(s.status == "done" for s in result.steps), (name, result.steps)


def check_invariants(engine: Engine, site: str, docs: list[dict[str, Any]]) -> None:
    with engine.connect() as conn:
        submitted = conn.execute(
            select(audit_records.c.name, func.count())
            .where(audit_records.c.site == site, audit_records.c.step == "validate")
            .group_by(audit_records.c.name)
        ).all()
        assert dict(submitted) == {d["name"]: 1 for d in docs}  # one verdict record per document, never two
        usages = conn.execute(
            select(mandate_usages.c.mandate_id, mandate_usages.c.invoice, mandate_usages.c.payment_entry).where(
                mandate_usages.c.site == site
            )
        ).all()
        assert len(usages) == len(set(usages))
        facts = conn.execute(
            select(func.count(), func.coalesce(func.sum(payment_facts.c.amount), 0)).where(payment_facts.c.site == site)
        ).one()
        paid = conn.execute(
            select(func.count(), func.coalesce(func.sum(payments.c.paid_amount), 0)).where(
                payments.c.site == site, payments.c.payment_type == "Receive", payments.c.party_type == "Customer"
            )
        ).one()
        assert tuple(facts) == tuple(paid)  # each accepted payment counted once
        for member in conn.execute(select(members.c.name).where(members.c.site == site)).scalars():
            customer = member_customer(conn, site, member)
            facts_of = history_facts(conn, site, customer) if customer else ([], [])
            assert read_history(conn, site, member) == project_history(*facts_of, today=dt.date.today()), member
        runs = conn.execute(
            select(notifications.c.workflow_id, func.count())
            .where(notifications.c.site == site)
            .group_by(notifications.c.workflow_id)
        ).all()
        assert sorted(w for w, n in runs if n == 1) == sorted(w for w, _ in runs)
        assert len(runs) == len(docs)


async def reminders_done(client: DuesflowClient, site: str) -> None:
    """Every reminder flow of the site has ended (handed off, or settled by its payment)."""
    query = f"DuesflowSite = '{site}' AND DuesflowState = 'reminders' AND ExecutionStatus = 'Running'"
    deadline = time.monotonic() + 180
    while (await client.temporal.count_workflows(query)).count:
        assert time.monotonic() < deadline, "reminder flows still running"
        await asyncio.sleep(0.5)


def check_mails(engine: Engine, site: str, sink: MailSink) -> None:
    with engine.connect() as conn:
        sent = conn.execute(
            select(reminder_messages.c.message_id).where(
                reminder_messages.c.site == site, reminder_messages.c.outcome == "sent"
            )
        ).scalars()
        counts = {mid: len(sink.with_message_id(mid)) for mid in sent}
    assert counts and set(counts.values()) == {1}, counts  # each level of each invoice went out once


async def drill(stack: Stack, client: DuesflowClient, site: str, fault: Any, sink: MailSink) -> Felt:
    assoc = association(site)
    await client.load_reference_data(assoc.reference_data(), site=site)
    docs = assoc.documents()
    felt = Felt()
    verdicts = await submit_all(client, docs, site, fault, felt)
    await settle(client, verdicts)
    await reminders_done(client, site)
    check_invariants(stack.engine, site, docs)
    check_mails(stack.engine, site, sink)
    return felt


async def test_worker_killed_mid_load_loses_and_duplicates_nothing(
    stack: Stack, worker: Worker, client: DuesflowClient, smtp_sink: MailSink
) -> None:
    async def kill() -> Any:
        child = worker.child()
        await asyncio.to_thread(worker.kill)  # kill -9 of the workflow role: its child must end by itself
        assert child is not None
        await asyncio.to_thread(wait_until, lambda: not Path(f"/proc/{child}").exists(), "the orphaned child to end")
        return restart()

    async def restart() -> None:
        await asyncio.sleep(5)  # submissions meanwhile find no worker: pending
        await asyncio.to_thread(worker.start)
        child = worker.child()
        assert child is not None
        os.kill(child, signal.SIGKILL)  # the background role alone: the worker stops, and is started again
        await asyncio.to_thread(worker.proc.wait, 60)  # type: ignore[union-attr]
        await asyncio.to_thread(worker.start)

    felt = await drill(stack, client, "kill.drill", kill, smtp_sink)
    assert felt.pending > 0


async def test_postgres_stopped_mid_load_gives_no_wrong_answer(
    stack: Stack, worker: Worker, client: DuesflowClient, smtp_sink: MailSink
) -> None:
    async def stop() -> Any:
        await asyncio.to_thread(stack.postgres.stop)
        return start()

    async def start() -> None:
        await asyncio.sleep(POSTGRES_DOWN)
        await asyncio.to_thread(stack.restart_postgres)

    felt = await drill(stack, client, "postgres.drill", stop, smtp_sink)
    assert felt.pending > 0  # verdicts waited for the database; none became a rejection


async def test_redis_stopped_mid_load_leaves_nothing_stale(
    stack: Stack, worker: Worker, client: DuesflowClient, smtp_sink: MailSink
) -> None:
    async def stop() -> Any:
        await asyncio.to_thread(stack.redis.stop)
        return start()

    async def start() -> None:
        await asyncio.sleep(5)
        await asyncio.to_thread(stack.redis.start)

    site = "redis.drill"
    await drill(stack, client, site, stop, smtp_sink)
    with stack.engine.connect() as conn:
        names = list(conn.execute(select(members.c.name).where(members.c.site == site)).scalars())
        stored = {m: read_history(conn, site, m) for m in names}
    for member in names:  # what a reader gets through the cache is what the ledger holds
        assert await client.member_history(site, member) == stored[member]


async def test_temporal_killed_and_restarted_mid_load(
    stack: Stack, worker: Worker, client: DuesflowClient, smtp_sink: MailSink
) -> None:
    async def crash() -> Any:
        proc = stack.temporal.process
        assert proc is not None
        proc.kill()
        await asyncio.to_thread(proc.wait)
        return restart()

    async def restart() -> None:
        await asyncio.sleep(5)
        await asyncio.to_thread(stack.start_temporal)

    felt = await drill(stack, client, "temporal.drill", crash, smtp_sink)
    assert felt.refused + felt.pending > 0
