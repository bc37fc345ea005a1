"""The README's operators' runbook, run: every `temporal` line of its code blocks is executed by bash (as an operator
would paste it, with the runbook's variables set) against the session's dev server, on a scene built from real
submissions: a payment whose SEPA step failed, a submission waiting behind a stopped background role, a sleeping
reminder flow, the upkeep schedules. And the metrics the runbook names are really served by `duesflow-worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from config.settings import Settings, as_environment, user_key_of
from deployment.schedules import ensure_schedules
from domain.messages import PipelineResult, Progress
from infra.embedded import free_port
from infra.temporal_server import find_temporal_cli
from ledger.cache import ReadCache
from starter.client import DuesflowClient
from tests import builders as b
from tests.conftest import CODEC_TOKEN
from tests.own_queues import own_queues, serve
from tests.polling import eventually
from workflows import search_attributes as sa

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Operators' runbook"
# The runbook has this many `temporal` lines; a parser that finds fewer has broken (or the runbook lost some).
AT_LEAST = 22
TREASURER = "penningmeester@example.nl"
ADMIN = "beheer@example.nl"
BIN = Path(sys.executable).parent
T = TypeVar("T")


# -- the runbook ------------------------------------------------------------------------------------------------------


def runbook_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def code_lines(section: str) -> list[str]:
    """The lines inside the section's fenced code blocks, continuation lines (trailing backslash) joined."""
    lines: list[str] = []
    inside = False
    pending = ""
    for raw in section.splitlines():
        if raw.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        lines.append(pending + raw)
        pending = ""
    return lines


def temporal_commands(section: str) -> list[str]:
    return [line.strip() for line in code_lines(section) if line.startswith("temporal ")]


def metric_rows(section: str) -> dict[str, str]:
    """The metrics table of the runbook: metric name -> which process serves it."""
    rows = re.findall(r"^\| `(temporal_[a-z_]+)` \| ([^|]+?) \|", section, flags=re.MULTILINE)
    return {name: where for name, where in rows}


def test_the_runbook_parser_finds_the_commands_and_metrics() -> None:
    section = runbook_section()
    commands = temporal_commands(section)
    assert len(commands) >= AT_LEAST, commands
    assert all("\n" not in c and not c.endswith("\\") for c in commands)
    # Every command of the runbook has its tctl equivalent right below it.
    lines = [line.strip() for line in code_lines(section)]
    for command in commands:
        following = lines[lines.index(command) + 1]
        assert following.startswith("#  tctl "), f"no tctl line below {command!r}"
    metrics = metric_rows(section)
    assert len(metrics) >= 5 and set(metrics.values()) == {"workflow role", "background role", "both"}, metrics


# -- helpers ----------------------------------------------------------------------------------------------------------


async def bash(line: str, env: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """Run one runbook line as an operator's shell would (an unset variable is an error). Async: the session's
    workers share this event loop and must answer the CLI's queries meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        line,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode("utf-8", errors="replace")


def fields(out: str) -> dict[str, str]:
    """`Key   value` lines of the CLI's text output."""
    return {m[1]: m[2] for m in re.finditer(r"^\s*(\w+)\s{2,}(.*?)\s*$", out, flags=re.MULTILINE)}


def task_queue_stats(out: str, kind: str) -> tuple[int, int]:
    """(ApproximateBacklogCount of the ``kind`` row, number of pollers of that kind) from `task-queue describe`."""
    stats, _, pollers = out.partition("Pollers:")
    stat_lines = [line.split() for line in stats.splitlines() if line.strip()]
    header = next(line for line in stat_lines if "ApproximateBacklogCount" in line)
    row = next(line for line in stat_lines if len(line) > 1 and line[1] == kind)
    backlog = int(row[header.index("ApproximateBacklogCount")])
    poller_rows = [line.split() for line in pollers.splitlines() if line.strip() and "Identity" not in line]
    return backlog, sum(1 for r in poller_rows if len(r) > 1 and r[1] == kind)


def terminal_env(client: Client, **variables: str) -> dict[str, str]:
    """The operator's shell: the venv's `temporal` first on PATH, the dev server as TEMPORAL_ADDRESS."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DUESFLOW_"))}
    return {
        **base,
        "PATH": f"{Path(find_temporal_cli()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        **variables,
    }


# -- the scene and the checks of each command -------------------------------------------------------------------------


@dataclass
class Scene:
    client: Client
    duesflow: DuesflowClient
    settings: Settings
    site: str
    failed_id: str  # PAY-1: its SEPA step failed (mandate maximum too low), DuesflowState completed_with_failures
    cancel_id: str  # PAY-2: accepted, its background steps waiting on a stopped background role
    waiting_id: str  # PAY-3: the same, left waiting so the background queue has a backlog
    reminders_id: str  # INV-2's reminder flow, asleep
    paused_queue: str
    fixed_mandate: list[dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    failed_runs: set[str] = field(default_factory=set)
    ran: list[str] = field(default_factory=list)

    def env_for(self, line: str) -> dict[str, str]:
        running = line.startswith(("temporal workflow cancel", "temporal workflow terminate"))
        return {**self.env, "WORKFLOW_ID": self.cancel_id if running else self.failed_id}

    def localise(self, line: str) -> str:
        """The runbook names the default task queue; the paused submissions have their own."""
        return line.replace("--task-queue duesflow ", f"--task-queue {self.paused_queue} ")

    async def once(self, line: str) -> str:
        code, out = await bash(self.localise(line), self.env_for(line))
        assert code == 0, f"{line}\n{out}"
        return out

    async def until(self, line: str, check: Callable[[str], None], timeout: float = 20.0) -> str:
        """A read-only command, repeated until its output passes ``check`` (visibility is eventually consistent)."""
        deadline = time.monotonic() + timeout
        while True:
            code, out = await bash(self.localise(line), self.env_for(line))
            try:
                assert code == 0, out
                check(out)
                return out
            except AssertionError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{line}\n{out}") from exc
            await asyncio.sleep(0.2)

    async def run(self, line: str) -> None:
        for prefix, handler in self.handlers():
            if line.startswith(prefix):
                await handler(line)
                self.ran.append(line)
                return
        raise AssertionError(f"the test has no check for this runbook command: {line}")

    def handlers(self) -> list[tuple[str, Callable[[str], Awaitable[None]]]]:
        return [
            ("temporal workflow list ", self.workflow_list),
            ("temporal workflow count ", self.workflow_count),
            ("temporal workflow describe ", self.workflow_describe),
            ("temporal workflow show ", self.workflow_show),
            ("temporal workflow query ", self.workflow_query),
            ("temporal workflow cancel ", self.workflow_cancel),
            ("temporal workflow terminate ", self.workflow_terminate),
            ("temporal workflow reset --query ", self.batch_reset),
            ("temporal workflow reset -w ", self.workflow_reset),
            ("temporal batch list", self.batch_list),
            ("temporal batch describe ", self.batch_describe),
            ("temporal task-queue describe ", self.task_queue_describe),
            ("temporal schedule toggle ", self.schedule_toggle),
            ("temporal schedule list", self.schedule_list),
        ]

    # 1. find

    async def workflow_list(self, line: str) -> None:
        expected = self.reminders_id if "'reminders'" in line else self.failed_id

        def check(out: str) -> None:
            ids = re.findall(rf"({re.escape(self.site)}:[^\n]*?)\s{{2,}}", out)
            assert expected in ids, ids

        await self.until(line, check)

    async def workflow_count(self, line: str) -> None:
        def check(out: str) -> None:
            total = re.search(r"^Total: (\d+)$", out, flags=re.MULTILINE)
            assert total is not None and int(total[1]) >= 1
            if "GROUP BY ExecutionStatus" in line:
                assert re.search(r"^Group total: \d+, values: Completed$", out, flags=re.MULTILINE)
                assert re.search(r"^Group total: \d+, values: Running$", out, flags=re.MULTILINE)

        await self.until(line, check)

    # 2. read

    async def workflow_describe(self, line: str) -> None:
        out = await self.once(line)
        assert self.failed_id in out
        assert "Payment Entry PAY-1 · €15.00 · SEPA Direct Debit" in out  # the summary, as the Web UI shows it
        assert "completed_with_failures" in out and "exceeds the mandate maximum" in out

    async def workflow_show(self, line: str) -> None:
        out = await self.once(line)
        assert "ActivityTaskFailed" in out and "WorkflowExecutionCompleted" in out

    async def workflow_query(self, line: str) -> None:
        out = await self.once(line)
        # The CLI prints the JSON answer as it decodes it (an empty list comes out as null): read it as plain JSON.
        progress = json.loads(out.split("QueryResult", 1)[1].strip())
        assert progress["workflow_id"] == self.failed_id
        assert progress["verdict"]["status"] == "accepted"
        assert [(s["name"], s["status"]) for s in progress["steps"]] == [
            ("sepa", "failed"),
            ("history:M1", "done"),
            ("analytics", "done"),
        ]
        assert "exceeds the mandate maximum" in progress["steps"][0]["last_error"]

    # 3. cancel, terminate

    async def workflow_cancel(self, line: str) -> None:
        await self.once(line)
        handle = self.client.get_workflow_handle(self.cancel_id)

        async def progress() -> Progress:
            return await handle.query("progress", result_type=Progress)

        # The workflow stopped its pending steps; its audit now waits for the (stopped) background role.
        stopped = await eventually(progress, lambda p: all(s.status == "cancelled" for s in p.steps))
        assert [(s.name, s.status) for s in stopped.steps] == [("history:M1", "cancelled"), ("analytics", "cancelled")]
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.raw_description.workflow_extended_info.cancel_requested

    async def workflow_terminate(self, line: str) -> None:
        await self.once(line)
        assert (await self.client.get_workflow_handle(self.cancel_id).describe()).status == (
            WorkflowExecutionStatus.TERMINATED
        )

    # 4. reset one

    async def workflow_reset(self, line: str) -> None:
        out = await self.once(line)
        assert f"Resetting workflow {self.failed_id}" in out
        handle = self.client.get_workflow_handle(self.failed_id, result_type=PipelineResult)
        assert (await handle.describe()).run_id not in self.failed_runs
        # No fix yet: everything ran again, SEPA failed again, analytics found its fact (idempotent).
        result = await handle.result()
        steps = {s.name: s for s in result.steps}
        assert steps["sepa"].status == "failed" and steps["history:M1"].status == "done"
        assert (steps["analytics"].status, steps["analytics"].detail) == ("done", "fact already recorded")
        self.failed_runs.add((await handle.describe()).run_id)

    # 5. batch reset

    async def batch_reset(self, line: str) -> None:
        # The fix comes first: the mandate's maximum raised in the ERP and synced.
        await self.duesflow.load_reference_data(self.fixed_mandate, site=self.site)
        query = f"DuesflowSite = '{self.site}' AND DuesflowState = 'completed_with_failures'"
        # Both runs (the original and the one reset by hand) are visible before the batch selects them.
        counted = await eventually(
            lambda: self.client.count_workflows(query), lambda c: c.count == len(self.failed_runs)
        )
        assert counted.count == len(self.failed_runs) == 2
        out = await self.once(line)
        job = re.search(r"Started batch for job ID: (\S+)", out)
        assert job is not None, out
        self.env["BATCH_JOB_ID"] = job[1]

    async def batch_list(self, line: str) -> None:
        def check(out: str) -> None:
            assert self.env["BATCH_JOB_ID"] in out

        await self.until(line, check)

    async def batch_describe(self, line: str) -> None:
        def check(out: str) -> None:
            info = fields(out)
            assert (info.get("Type"), info.get("State")) == ("ResetWorkflow", "Completed"), info
            # One reset per matching run: the replaced run is reset again (the runbook says so).
            assert info.get("CompletedCount") == "2/2" and info.get("FailureCount") == "0/2", info

        await self.until(line, check, timeout=60)
        handle = self.client.get_workflow_handle(self.failed_id, result_type=PipelineResult)

        async def current() -> Any:
            return await handle.describe()

        final = await eventually(
            current,
            lambda d: (
                d.status == WorkflowExecutionStatus.COMPLETED and d.typed_search_attributes.get(sa.STATE) == "completed"
            ),
            timeout=60,
        )
        assert final.typed_search_attributes.get(sa.STATE) == "completed" and final.run_id not in self.failed_runs
        result = await handle.result()
        assert [(s.name, s.status) for s in result.steps] == [
            ("sepa", "done"),
            ("history:M1", "done"),
            ("analytics", "done"),
        ]

    # 6. pause

    async def task_queue_describe(self, line: str) -> None:
        if "--task-queue-type activity" in line:

            def check(out: str) -> None:
                backlog, pollers = task_queue_stats(out, "activity")
                assert backlog >= 1 and pollers == 0, (backlog, pollers)  # steps waiting, nobody polling

        else:

            def check(out: str) -> None:
                _, pollers = task_queue_stats(out, "workflow")
                assert pollers >= 1  # the workflow role keeps polling: verdicts keep coming

        await self.until(line, check)

    async def schedule_toggle(self, line: str) -> None:
        await self.once(line)
        schedule_id = re.search(r"--schedule-id (\S+)", line)
        reason = re.search(r'--reason "([^"]+)"', line)
        assert schedule_id is not None and reason is not None
        state = (await self.client.get_schedule_handle(schedule_id[1]).describe()).schedule.state
        assert state.paused is ("--pause " in line)
        assert state.note == reason[1]

    async def schedule_list(self, line: str) -> None:
        def check(out: str) -> None:
            assert "duesflow-mandate-lifecycle" in out and "duesflow-audit-retention" in out

        await self.until(line, check)


# -- the tests --------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("workers")
async def test_every_temporal_command_of_the_runbook_works(
    temporal_client: Client,
    duesflow: DuesflowClient,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    site: str,
    codec_endpoint: str,
) -> None:
    commands = temporal_commands(runbook_section())
    assert len(commands) >= AT_LEAST

    customer, member = b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit")
    await duesflow.load_reference_data([customer, member, b.mandate("MD-1", "M1", maximum_amount=10.0)], site=site)
    invoice = await duesflow.submit(b.invoice("INV-1", "C1", 15.0, member_name="M1"), site=site, user=TREASURER)
    assert invoice.workflow_id is not None
    await duesflow.wait(invoice.workflow_id)
    sepa_payment = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    failed = await duesflow.submit(sepa_payment, site=site, user=TREASURER)
    assert failed.status == "accepted" and failed.workflow_id is not None
    assert [s.status for s in (await duesflow.wait(failed.workflow_id)).steps] == ["failed", "done", "done"]
    unpaid = await duesflow.submit(b.invoice("INV-2", "C1", 20.0, member_name="M1"), site=site, user=TREASURER)
    assert unpaid.workflow_id is not None
    await duesflow.wait(unpaid.workflow_id)

    # Submissions while the background role is stopped: a task queue of their own, served by a workflow role only.
    own = own_queues(settings, "runbook-paused")
    paused_queue = own.task_queue
    paused = DuesflowClient(temporal_client, own, engine, cache)
    stop_paused = asyncio.Event()
    workflow_role = asyncio.create_task(serve(temporal_client, own, engine, cache, "workflows", stop_paused))
    waiting = []
    for name in ("PAY-2", "PAY-3"):
        verdict = await paused.submit(b.payment(name, "C1", 5.0), site=site, user=ADMIN)
        assert verdict.status == "accepted" and verdict.workflow_id is not None  # step 1 runs in the workflow role
        waiting.append(verdict.workflow_id)

    schedules = await ensure_schedules(temporal_client, settings)
    lifecycle = temporal_client.get_schedule_handle("duesflow-mandate-lifecycle")
    was_paused = (await lifecycle.describe()).schedule.state.paused

    scene = Scene(
        client=temporal_client,
        duesflow=duesflow,
        settings=settings,
        site=site,
        failed_id=failed.workflow_id,
        cancel_id=waiting[0],
        waiting_id=waiting[1],
        reminders_id=f"{unpaid.workflow_id}:reminders",
        paused_queue=paused_queue,
        fixed_mandate=[customer, member, b.mandate("MD-1", "M1", maximum_amount=150.0)],
    )
    scene.failed_runs.add((await temporal_client.get_workflow_handle(failed.workflow_id).describe()).run_id)
    scene.env = terminal_env(
        temporal_client,
        SITE=site,
        DOCUMENT="PAY-1",
        MEMBER="M1",
        USER_KEY=user_key_of(settings, TREASURER),
        # The runbook's operator has the codec server's address and token (README, Operators' runbook).
        TEMPORAL_CODEC_ENDPOINT=codec_endpoint,
        TEMPORAL_CODEC_AUTH=f"Bearer {CODEC_TOKEN}",
    )
    try:
        for command in commands:
            await scene.run(command)
    finally:
        stop_paused.set()
        await workflow_role
        running = [scene.cancel_id, scene.waiting_id, scene.reminders_id, f"{site}:Sales Invoice:INV-1:reminders"]
        async for execution in temporal_client.list_workflows(
            f"DuesflowSite = '{site}' AND ExecutionStatus = 'Running'"
        ):
            running.append(execution.id)
        for workflow_id in dict.fromkeys(running):
            with contextlib.suppress(RPCError):
                await temporal_client.get_workflow_handle(workflow_id).terminate("runbook test cleanup")
        for schedule_id, done in schedules.items():
            handle = temporal_client.get_schedule_handle(schedule_id)
            if done == "created":
                await handle.delete()
            elif schedule_id == lifecycle.id and was_paused:
                await handle.pause(note="paused before the runbook test")
    assert scene.ran == commands


async def test_duesflow_user_key_prints_what_the_runbook_filters_by(
    settings: Settings, temporal_client: Client
) -> None:
    env = {**terminal_env(temporal_client), **as_environment(settings), "COLUMNS": "200"}
    code, out = await bash(f"{BIN / 'duesflow'} user-key {TREASURER}", env)
    assert code == 0, out
    assert out.strip() == user_key_of(settings, TREASURER)


def port_pair() -> int:
    """A free port whose next port is free too (the background child serves its metrics there)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_the_worker_serves_the_metrics_the_runbook_names(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    """`duesflow-worker` (--role all) with DUESFLOW_METRICS_ADDRESS: the workflow role serves on the port, the
    background child on the next one; after real work each metric of the runbook's table is where it says."""
    named = metric_rows(runbook_section())
    run = uuid.uuid4().hex[:6]
    own = settings.model_copy(update={"task_queue": f"metrics-{run}"})
    port = port_pair()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DUESFLOW_")},
        **as_environment(own),
        "DUESFLOW_TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
        "DUESFLOW_METRICS_ADDRESS": f"127.0.0.1:{port}",
    }
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "duesflow-worker"), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    output: list[str] = []

    async def drain() -> None:  # keep reading, so the worker never blocks on a full pipe
        assert proc.stdout is not None
        async for line in proc.stdout:
            output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(drain())
    try:

        async def log() -> str:
            return "".join(output)

        started = await eventually(
            log,
            lambda s: (
                proc.returncode is not None
                or ("worker running (workflows)" in s and "worker running (background)" in s)
            ),
            timeout=60,
        )
        assert "worker running (background)" in started and proc.returncode is None, started

        # Real work through this worker: a SEPA step that fails (a failed activity) and steps that succeed.
        duesflow = DuesflowClient(temporal_client, own, engine, cache)
        await duesflow.load_reference_data(
            [b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit"), b.mandate("MD-1", "M1", maximum_amount=10.0)],
            site=site,
        )
        invoice = await duesflow.submit(b.invoice("INV-1", "C1", 15.0, member_name="M1"), site=site, user=TREASURER)
        assert invoice.workflow_id is not None
        await duesflow.wait(invoice.workflow_id)
        payment = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
        paid = await duesflow.submit(payment, site=site, user=TREASURER)
        assert paid.workflow_id is not None
        assert [s.status for s in (await duesflow.wait(paid.workflow_id)).steps] == ["failed", "done", "done"]

        ports = {"workflow role": [port], "background role": [port + 1], "both": [port, port + 1]}
        for where in ("workflow role", "background role"):
            served = port if where == "workflow role" else port + 1
            wanted = [m for m, w in named.items() if served in ports[w]]

            async def metrics(served: int = served) -> str:
                return await asyncio.to_thread(scrape, served)

            text = await eventually(metrics, lambda t, wanted=wanted: all(f"\n{m}" in t for m in wanted))
            missing = [m for m in wanted if f"\n{m}" not in text]
            assert missing == [], f"{where} on port {served} does not serve {missing}"
            assert f'task_queue="{own.task_queue}"' in text
        background = await asyncio.to_thread(scrape, port + 1)
        failed = re.search(
            r'^temporal_activity_execution_failed\{[^}]*activity_type="update_mandate"[^}]*\} (\d+)', background, re.M
        )
        assert failed is not None and int(failed[1]) >= 1  # the failed SEPA step, counted by the background role
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=60)
        await asyncio.wait_for(reader, timeout=10)
        with contextlib.suppress(RPCError):
            await temporal_client.get_workflow_handle(f"{site}:Sales Invoice:INV-1:reminders").terminate("cleanup")
    assert proc.returncode == 0, "".join(output)
    assert "".join(output).count("worker stopped") == 2
