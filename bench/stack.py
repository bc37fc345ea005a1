"""The pieces of the stack a benchmark run owns: a database, a Temporal dev server, worker processes.

Everything here is started by the run and stopped by it (``Stack.close``), whatever happens in between.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from infra.temporal_server import DevServer, start_dev_server
from ledger.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------------- database


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` next to ``admin_url``'s, run the migrations, return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------------------------------------- temporal


def start_server(workdir: Path, *, persistent: bool, search_attributes: Mapping[str, str]) -> DevServer:
    """Our own dev server on free ports; SQLite file under ``workdir`` (like the local stack) or in memory."""
    return start_dev_server(
        db_file=workdir / "temporal.db" if persistent else None,
        port=free_port(),
        ui_port=free_port(),
        search_attributes=search_attributes,
        log_file=workdir / "temporal.log",
    )


# --------------------------------------------------------------------------------------------------------- workers


@dataclass
class WorkerProcess:
    """A worker in its own process (``python -m <module>``), configured by ``DUESFLOW_*`` variables."""

    label: str
    module: str
    env: Mapping[str, str]
    log_path: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUESFLOW_")}
        env.update(self.env)
        # The repo root must be importable: the worker imports domain/, ledger/, bench/ … as top-level packages.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker logs that it polls its task queues."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.label} worker exited during start:\n{self.log_tail()}")
            if b"worker running" in self.log_path.read_bytes():
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.label} worker not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the worker shuts down cleanly), SIGKILL only if it does not exit in time."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------------------- CPU


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", "rb") as f:
                    if f.read().strip() == name.encode():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@dataclass
class CpuMeter:
    """CPU seconds (user + system) per component, read from /proc: a rough split of where a scenario's time went.

    PostgreSQL and Redis are found by process name, so other users of the machine's servers count too.
    """

    components: dict[str, Callable[[], list[int]]]

    def sample(self) -> dict[str, float]:
        return {name: sum(_cpu_seconds(pid) for pid in pids()) for name, pids in self.components.items()}

    @staticmethod
    def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {k: max(0.0, after.get(k, 0.0) - before.get(k, 0.0)) for k in before}

    @classmethod
    def for_stack(cls, server: DevServer | None, workers: Mapping[str, list[WorkerProcess]]) -> CpuMeter:
        components: dict[str, Callable[[], list[int]]] = {"bench client": lambda: [os.getpid()]}
        if server is not None and server.process is not None:
            server_pid = server.process.pid
            components["temporal"] = lambda: [server_pid]
        for label, procs in workers.items():
            components[f"{label} worker"] = lambda ps=procs: [p.process.pid for p in ps if p.process]
        components["postgres"] = lambda: _pids_named("postgres")
        components["redis"] = lambda: _pids_named("redis-server")
        return cls(components)
