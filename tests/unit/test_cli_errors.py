"""Operators' mistakes at the command line, answered in one line each (no traceback), before anything connects
where the command line alone shows the mistake. The `duesflow` and `duesflow-worker` programs run as real
subprocesses; the only "services" are unused ports on loopback, so nothing here needs a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.embedded import free_port

BIN = Path(sys.executable).parent


def environment(**settings: str) -> dict[str, str]:
    """The test process's environment without its DUESFLOW_* variables, plus ``settings``. No COLUMNS: a line that
    rich would wrap at 80 columns counts as two."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DUESFLOW_") and k != "COLUMNS"}
    # A process without encryption keys refuses to start (tests/conftest.py sets the suite's): the cases here are
    # about something else.
    return {**env, "DUESFLOW_ENCRYPTION_KEYS": os.environ["DUESFLOW_ENCRYPTION_KEYS"], **settings}


def dead_temporal() -> dict[str, str]:
    return {"DUESFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}


def duesflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "duesflow"), *args], capture_output=True, text=True, env=env or environment(), timeout=60
    )


def worker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "duesflow-worker"), *args], capture_output=True, text=True, env=env, timeout=60)


def one_line(out: subprocess.CompletedProcess[str]) -> str:
    text = out.stdout + out.stderr
    assert "Traceback" not in text and "╭" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["schedules"],
        ["progress", "Payment Entry", "ACC-PAY-2025-00201"],
        ["jobs", "list", "--user", "u@example.nl"],
        ["upkeep", "audit-retention", "--on", "2026-11-23"],
    ],
)
def test_unreachable_temporal_is_one_line_naming_its_address(command: list[str]) -> None:
    env = environment(**dead_temporal())
    out = duesflow(*command, env=env)
    line = one_line(out)
    assert out.returncode == 1
    assert line.startswith("error: Temporal at ") and env["DUESFLOW_TEMPORAL_ADDRESS"] in line
    assert "DUESFLOW_TEMPORAL_ADDRESS" in line


def test_unreachable_database_on_upgrade_is_one_line_naming_its_address() -> None:
    port = free_port()
    out = duesflow("db", "upgrade", env=environment(DUESFLOW_DATABASE_URL=f"postgresql://u@127.0.0.1:{port}/ledger"))
    assert out.returncode == 1
    assert one_line(out) == (
        f"error: the ledger database (PostgreSQL) at 127.0.0.1:{port} is unreachable "
        "(is PostgreSQL running? check DUESFLOW_DATABASE_URL)"
    )


@pytest.mark.parametrize("command", [["user-key", "u@example.nl"], ["history", "M1"], ["db", "upgrade"]])
def test_a_list_variable_that_is_no_list_names_the_variable(command: list[str]) -> None:
    out = duesflow(*command, env=environment(DUESFLOW_ADMIN_ROLES='["System Manager"', **dead_temporal()))
    assert out.returncode == 2
    line = one_line(out)
    assert 'DUESFLOW_ADMIN_ROLES: must be a JSON list such as ["System Manager", "Accounts Manager"]' in line


def test_a_single_admin_role_needs_no_json() -> None:
    out = duesflow("user-key", "u@example.nl", env=environment(DUESFLOW_ADMIN_ROLES="System Manager"))
    assert out.returncode == 0 and one_line(out).startswith("u-")


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["progress", "Payment Entry", "ACC-PAY-2025-00201", "--site", "leden example.nl"], "--site"),
        (["progress", "Payment Entri", "ACC-PAY-2025-00201"], "doctype"),
        (["history", "M1", "--site", "leden/example"], "--site"),
        (["jobs", "list", "--user", "u@example.nl", "--status", "broken"], "--status"),
        (["jobs", "list", "--user", "u@example.nl", "--doctype", "Journal Entry"], "--doctype"),
        (["jobs", "list", "--user", "u@example.nl", "--limit", "500"], "--limit"),
        (["jobs", "notifications", "--user", "u@example.nl", "--limit", "0"], "--limit"),
        (["jobs", "cleanup", "--user", "u@example.nl", "--days", "0"], "--days"),
    ],
)
def test_bad_arguments_are_refused_before_connecting(command: list[str], named: str) -> None:
    # Temporal is not there: a command that tried to connect would say so instead of naming the argument.
    out = duesflow(*command, env=environment(**dead_temporal()))
    assert out.returncode == 2, out.stdout + out.stderr
    assert named in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert "Temporal at" not in out.stdout + out.stderr


def test_status_is_matched_whatever_its_case() -> None:
    out = duesflow("jobs", "list", "--user", "u@example.nl", "--status", "failed", env=environment(**dead_temporal()))
    assert out.returncode == 1 and one_line(out).startswith("error: Temporal at")  # accepted, then connects


def test_a_misspelt_variable_is_warned_about_with_the_closest_name() -> None:
    env = environment(
        DUESFLOW_ADMIN_ROLE="System Manager", DUESFLOW_TEST_REDIS_URL="redis://x", DUESFLOW_RECORD_HISTORIES="1"
    )
    out = duesflow("user-key", "u@example.nl", env=env)
    assert out.returncode == 0 and out.stdout.strip().startswith("u-")
    assert out.stderr.strip() == (
        "warning: DUESFLOW_ADMIN_ROLE is not a duesflow setting and is ignored; did you mean DUESFLOW_ADMIN_ROLES?"
    )


def test_version() -> None:
    from importlib.metadata import version

    out = duesflow("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"duesflow {version('duesflow')}"
    out = worker("--version", env=environment())
    assert out.returncode == 0 and out.stdout.strip() == f"duesflow-worker {version('duesflow')}"


def test_worker_configuration_error_is_one_line() -> None:
    out = worker(env=environment(DUESFLOW_SEPA_RETRY_OFFSETS_DAYS="[3, 7"))
    assert out.returncode == 2
    assert "DUESFLOW_SEPA_RETRY_OFFSETS_DAYS: must be a JSON list" in one_line(out)


def test_worker_with_unreachable_database_is_one_line() -> None:
    port = free_port()
    env = environment(DUESFLOW_DATABASE_URL=f"postgresql://u@127.0.0.1:{port}/ledger", DUESFLOW_TEMPORAL_ADRESS="x")
    out = worker(env=env)
    assert out.returncode == 1
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert "Traceback" not in out.stderr and len(lines) == 2, out.stderr
    assert "DUESFLOW_TEMPORAL_ADRESS is not a duesflow setting" in lines[0] and "DUESFLOW_TEMPORAL_ADDRESS?" in lines[0]
    assert lines[1] == (
        f"error: the ledger database (PostgreSQL) at 127.0.0.1:{port} is unreachable "
        "(is PostgreSQL running? check DUESFLOW_DATABASE_URL)"
    )
