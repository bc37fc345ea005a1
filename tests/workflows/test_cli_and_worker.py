"""The `duesflow` CLI and the `duesflow-worker` process, run as real subprocesses against the session's dev server,
PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, make_url, select
from temporalio.client import Client

from config.settings import Settings
from infra.embedded import free_port
from ledger.schema import customers
from tests.conftest import FIXTURES

BIN = Path(sys.executable).parent
COMMANDS = [
    "stack",
    "submit",
    "import",
    "progress",
    "history",
    "totals",
    "reminders",
    "overdue",
    "handed-off",
    "retries",
    "upkeep",
    "schedules",
    "codec-server",
    "db",
    "db upgrade",
    "backfill",
    "user-key",
    "jobs",
    "jobs list",
    "jobs show",
    "jobs stats",
    "jobs retry",
    "jobs cancel",
    "jobs cleanup",
    "jobs notifications",
]


def cli_env(settings: Settings, client: Client, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DUESFLOW_DATABASE_URL": settings.database_url,
        "DUESFLOW_REDIS_URL": settings.redis_url,
        "DUESFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "DUESFLOW_TASK_QUEUE": settings.task_queue,
        "COLUMNS": "200",
        **extra,
    }


def duesflow_cli() -> str:
    return shutil.which("duesflow", path=str(BIN)) or str(BIN / "duesflow")


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_command_has_help(command: str) -> None:
    out = subprocess.run([duesflow_cli(), *command.split(), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_worker_has_help() -> None:
    out = subprocess.run([str(BIN / "duesflow-worker"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--role" in out.stdout


def test_bad_configuration_names_the_variable_and_exits_2() -> None:
    env = {**os.environ, "DUESFLOW_DATABASE_URL": "mysql://root@localhost/x", "COLUMNS": "200"}
    out = subprocess.run([duesflow_cli(), "history", "M1"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert "DUESFLOW_DATABASE_URL" in out.stdout and "PostgreSQL URL" in out.stdout


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [duesflow_cli(), "submit", "--user", "u@example.nl", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )
    assert out.returncode == 2 and "no such file" in out.stdout


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    # Async subprocess: the session's workers share this event loop and must keep running meanwhile.
    proc = await asyncio.create_subprocess_exec(
        duesflow_cli(), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode()


@pytest.mark.usefixtures("workers")
async def test_import_submit_and_progress_through_the_cli(settings: Settings, temporal_client: Client) -> None:
    site = f"cli{uuid.uuid4().hex[:8]}.test"
    env = cli_env(settings, temporal_client)
    code, out = await run_cli(env, "import", str(FIXTURES / "reference_data.json"), "--site", site)
    assert code == 0, out
    assert "imported 4 customers, 5 members, 3 mandates" in out

    invoice = FIXTURES / "sales_invoice_ACC-SINV-2025-00101.json"
    code, out = await run_cli(env, "submit", "--user", "u@example.nl", "--site", site, "--wait", str(invoice))
    assert code == 0, out
    assert f"accepted {site}:Sales Invoice:ACC-SINV-2025-00101" in out
    assert "history:Assoc-Member-2024-11-0001" in out and "done" in out

    code, out = await run_cli(env, "progress", "Sales Invoice", "ACC-SINV-2025-00101", "--site", site)
    assert code == 0 and "verdict accepted" in out

    code, out = await run_cli(env, "history", "Assoc-Member-2024-11-0001", "--site", site)
    assert code == 0 and "ACC-SINV-2025-00101" in out and "Overdue" in out

    payment = FIXTURES / "payment_entry_ACC-PAY-2025-00201.json"
    code, out = await run_cli(env, "submit", "--user", "u@example.nl", "--site", site, "--wait", str(payment))
    assert code == 0 and "accepted" in out, out
    code, out = await run_cli(env, "totals", "2025-04-01", "2025-04-30", "--site", site)
    assert code == 0 and "2025-04-02" in out and "SEPA Direct Debit" in out and "15.00" in out, out
    code, out = await run_cli(env, "totals", "2025-04-31", "2025-04-30", "--site", site)
    assert code == 2 and "2025-04-31" in out  # not a date: typer names the argument


async def test_db_upgrade_is_idempotent(settings: Settings, temporal_client: Client) -> None:
    code, out = await run_cli(cli_env(settings, temporal_client), "db", "upgrade")
    assert code == 0 and "newest migration" in out


async def test_import_of_invalid_reference_data_writes_nothing(
    settings: Settings, temporal_client: Client, engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"doctype": "Customer", "name": "C1"}, {"doctype": "Member", "name": "M1", "status": "Alive"}]')
    site = f"cli{uuid.uuid4().hex[:8]}.test"
    env = cli_env(settings, temporal_client)
    code, out = await run_cli(env, "import", str(bad), "--site", site)
    assert code == 1
    assert "docs[1] (M1).status" in out and "nothing was imported" in out
    with engine.connect() as conn:  # the valid customer before the bad member was not written either
        assert conn.execute(select(func.count()).where(customers.c.site == site)).scalar_one() == 0


async def started_worker(settings: Settings, client: Client) -> tuple[asyncio.subprocess.Process, str]:
    """``duesflow-worker`` (--role all: the workflow role in the process, the background role in a niced child) on
    queues of its own, once both roles run; with what it printed so far."""
    env = cli_env(
        settings,
        client,
        DUESFLOW_TASK_QUEUE=f"proc-{uuid.uuid4().hex[:6]}",
    )
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "duesflow-worker"), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen = ""
    while "worker running (workflows)" not in seen or "worker running (background)" not in seen:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line, f"worker exited early: {seen}"
        seen += line.decode()
    return proc, seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_worker_shuts_down_cleanly_on_signal(settings: Settings, temporal_client: Client, sig: int) -> None:
    proc, seen = await started_worker(settings, temporal_client)
    proc.send_signal(sig)
    rest, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, seen + rest.decode()
    assert rest.decode().count("worker stopped") == 2
    assert "Fatal Python error" not in rest.decode()


async def test_background_child_stops_when_its_worker_is_killed(settings: Settings, temporal_client: Client) -> None:
    """kill -9 of the worker runs no handler in it; its background child must notice and stop on its own instead of
    polling on, orphaned, beside the worker a supervisor starts next."""
    proc, _ = await started_worker(settings, temporal_client)
    assert proc.stdout is not None
    children = _children(proc.pid)
    assert len(children) == 1, children
    proc.kill()  # not awaited yet: asyncio's wait() also waits for the pipes, which the child still holds
    try:
        # The child shares the worker's stdout: the pipe reaches its end only when the child has exited too.
        rest = (await asyncio.wait_for(proc.stdout.read(), timeout=60)).decode()
    finally:
        for pid in children:  # when the child did not stop by itself, this test must not leave it behind either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    await proc.wait()
    assert f"the worker process {proc.pid} that started this background worker is gone: stopping" in rest
    assert "worker stopped" in rest


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc: Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid …": comm may contain spaces, so split after its closing parenthesis.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


async def test_reminder_reads_and_upkeep_from_the_command_line(
    settings: Settings, temporal_client: Client, duesflow: Any, workers: Any, site: str
) -> None:
    from tests import builders as b

    env = cli_env(settings, temporal_client)

    await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
    doc = b.invoice("INV-9", "C1", 30.0, posting_date="2026-09-01", due_date="2026-10-01", member_name="M1")
    await duesflow.wait((await duesflow.submit(doc, site=site, user="u@example.nl")).workflow_id)

    overdue = await run_cli(env, "overdue", "--on", "2026-11-15", "--site", site)
    assert overdue[0] == 0, overdue[1]
    assert "M1" in overdue[1] and "Critical" not in overdue[1] and "Urgent" in overdue[1]  # 45 days

    shown = await run_cli(env, "reminders", "INV-9", "--site", site)
    assert shown[0] == 0 and "state scheduled" in shown[1]  # the settle period has not passed yet
    unknown = await run_cli(env, "reminders", "NOPE", "--site", site)
    assert unknown[0] == 1 and "no reminder case" in unknown[1]

    bad_job = await run_cli(env, "upkeep", "spring-cleaning")
    assert bad_job[0] == 2 and "job must be one of" in bad_job[1]
    bad_day = await run_cli(env, "overdue", "--on", "15-11-2026")
    assert bad_day[0] == 2 and "--on" in bad_day[1]

    args = ("upkeep", "audit-retention", "--on", "2026-11-23", "--site", site)
    code, out = await run_cli(env, *args)
    assert code == 0, out
    assert "audit-retention on 2026-11-23: deleted_critical 0, deleted_error 0, deleted_info 0" in out


@pytest.mark.usefixtures("workers")
async def test_backfill_and_jobs_from_the_command_line(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    site = f"cli{uuid.uuid4().hex[:8]}.test"
    env = cli_env(settings, temporal_client)
    code, out = await run_cli(env, "import", str(FIXTURES / "reference_data.json"), "--site", site)
    assert code == 0, out
    history = tmp_path / "history"
    history.mkdir()
    for doc in FIXTURES.glob("*_ACC-*.json"):
        shutil.copy(doc, history / doc.name)
    code, out = await run_cli(env, "backfill", str(history), "--user", "u@example.nl", "--site", site)
    assert code == 0, out
    # Payments after the invoices they pay, the credit note after its invoice: every document accepted.
    assert "10 accepted, 0 rejected, 0 pending" in out

    user = ["--user", "u@example.nl", "--site", site]
    code, out = await run_cli(env, "jobs", "list", *user, "--doctype", "Payment Entry")
    assert code == 0, out
    assert "4 job(s)" in out and f"{site}:Payment Entry:ACC-PAY-2025-00201" in out
    code, out = await run_cli(env, "jobs", "show", "ACC-PAY-2025-00201", *user)
    assert code == 0, out
    assert "Payment Entry ACC-PAY-2025-00201 · €15.00 · SEPA Direct Debit" in out and "sepa" in out
    code, out = await run_cli(env, "jobs", "stats", *user)
    assert code == 0 and "10 job(s)" in out, out

    code, out = await run_cli(env, "jobs", "retry", "ACC-PAY-2025-00201", *user)
    assert code == 3 and "only holders of an admin role" in out, out
    admin = ["--user", "beheer@example.nl", "--role", "System Manager", "--site", site]
    code, out = await run_cli(env, "jobs", "retry", "ACC-PAY-2025-00201", *admin)
    assert code == 2 and "only failed jobs can be retried" in out, out
    code, out = await run_cli(env, "jobs", "cleanup", "--days", "0", *admin)
    assert code == 2 and "Invalid value for '--days'" in out, out
    code, out = await run_cli(env, "jobs", "show", "ACC-PAY-2099-00001", *user)
    assert code == 2 and "no job for document 'ACC-PAY-2099-00001'" in out, out

    code, out = await run_cli(env, "user-key", "U@example.nl")
    assert code == 0 and out.strip().startswith("u-") and "@" not in out, out


# Commands that read only the ledger: they work while Temporal is down (the client connects to it on first use).
LEDGER_ONLY = [
    ["history", "M1"],
    ["totals", "2025-04-01", "2025-04-30"],
    ["overdue", "--on", "2025-06-30"],
    ["handed-off"],
    ["retries", "--on", "2025-04-14"],
    ["jobs", "notifications", "--user", "u@example.nl"],
]


@pytest.mark.parametrize("command", LEDGER_ONLY, ids=lambda c: c[0] if c[0] != "jobs" else "jobs notifications")
async def test_ledger_reads_work_while_temporal_is_unreachable(
    settings: Settings, temporal_client: Client, site: str, command: list[str]
) -> None:
    env = cli_env(settings, temporal_client, DUESFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    code, out = await run_cli(env, *command, "--site", site)
    assert code == 0, out
    assert "Temporal" not in out and "Traceback" not in out


async def test_unreachable_ledger_is_one_line_naming_its_address(
    settings: Settings, temporal_client: Client, site: str
) -> None:
    port = free_port()
    env = cli_env(settings, temporal_client, DUESFLOW_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/ledger")
    del env["COLUMNS"]  # the line must not be wrapped either
    code, out = await run_cli(env, "overdue", "--site", site)
    assert code == 1
    assert out.strip() == (
        f"error: the ledger database (PostgreSQL) at 127.0.0.1:{port} is unreachable "
        "(is PostgreSQL running? check DUESFLOW_DATABASE_URL)"
    )


async def test_a_database_that_is_not_the_ledger_is_told_apart_from_an_unreachable_one(
    settings: Settings, temporal_client: Client, site: str
) -> None:
    # The server answers but has no ledger tables: that is a refused statement (SQLSTATE), not an outage.
    elsewhere = make_url(settings.database_url).set(database="postgres").render_as_string(hide_password=False)
    env = cli_env(settings, temporal_client, DUESFLOW_DATABASE_URL=elsewhere)
    code, out = await run_cli(env, "overdue", "--site", site)
    assert code == 2
    assert "the ledger database refused" in out and "SQLSTATE 42P01" in out and "duesflow db upgrade" in out
    assert "unreachable" not in out


async def worker_until_exit(env: dict[str, str]) -> tuple[int | None, str, str]:
    """Run ``duesflow-worker`` (``--role all``: it may start a background child) until it exits, for at most a
    minute; then its whole process group is killed, so no child outlives the test holding its pipes."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "duesflow-worker"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)  # still running: its group is its own
        out, err = await proc.communicate()
        return None, out.decode(), err.decode()
    return proc.returncode, out.decode(), err.decode()


async def test_worker_with_unreachable_temporal_is_one_line(settings: Settings, temporal_client: Client) -> None:
    port = free_port()
    code, out, err = await worker_until_exit(
        cli_env(settings, temporal_client, DUESFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
    )
    assert code == 1, err
    assert out == ""
    assert err.strip() == (
        f"error: Temporal at 127.0.0.1:{port} is unreachable "
        "(is the server running? set DUESFLOW_TEMPORAL_ADDRESS to its host:port)"
    )


async def test_worker_with_unreachable_ledger_stops_at_once(settings: Settings, temporal_client: Client) -> None:
    # Temporal answers; without the check at start the worker would run and every step would fail and retry.
    port = free_port()
    env = cli_env(settings, temporal_client, DUESFLOW_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/x")
    code, _, err = await worker_until_exit(env)
    assert code == 1, err
    assert err.strip() == (
        f"error: the ledger database (PostgreSQL) at 127.0.0.1:{port} is unreachable "
        "(is PostgreSQL running? check DUESFLOW_DATABASE_URL)"
    )


def test_a_connection_setting_the_worker_cannot_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Found only when connecting (after the ledger answered): still one line, no traceback."""
    env = {**os.environ, "TEMPORAL_CONFIG_FILE": str(tmp_path / "missing.toml")}
    out = subprocess.run([str(BIN / "duesflow-worker")], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TEMPORAL_CONFIG_FILE" in errors[0] and "Traceback" not in out.stderr
