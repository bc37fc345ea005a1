"""The worker processes: duesflow's (``python -m worker``) and the floor's (``python -m bench.floor_worker``), with
the same ``DUESFLOW_*`` settings and the same process layout, and what their logs say."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import Settings, as_environment

REPO = Path(__file__).resolve().parent.parent
ENGINES = (("duesflow", "worker"), ("floor", "bench.floor_worker"))  # label, module


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

    def failed_activations(self) -> int:
        """Failed workflow activations logged so far (they retry, never finish); 0 while the log is unreadable."""
        try:
            log = self.log_path.read_bytes()
        except OSError:
            return 0
        return log.count(b"Failed activation") + log.count(b"Nondeterminism")


def role_args(role: str) -> tuple[str, ...]:
    """Both engines get the same process layout: one process for --role all, or a workflow process plus a
    background process at lower CPU priority (what `duesflow-worker --role all` does by default)."""
    if role == "all":
        return ("--role", "all", "--single-process")
    return ("--role", role, *(("--nice", "10") if role == "background" else ()))


def worker_env(s: Settings) -> dict[str, str]:
    return {
        "DUESFLOW_TEMPORAL_ADDRESS": s.temporal_address,
        "DUESFLOW_TEMPORAL_NAMESPACE": s.temporal_namespace,
        "DUESFLOW_DATABASE_URL": s.database_url,
        "DUESFLOW_REDIS_URL": s.redis_url,
        "DUESFLOW_TASK_QUEUE": s.task_queue,
        # The run's payload encryption keys: the workers' clients must encrypt and decrypt as the bench's does.
        **{k: v for k, v in as_environment(s).items() if k.startswith("DUESFLOW_ENCRYPTION_")},
    }


class EngineWorkers:
    """Both engines' worker processes, by engine label ("duesflow", "floor")."""

    def __init__(self, settings: Mapping[str, Settings], workdir: Path, *, split_roles: bool) -> None:
        self.roles = ("workflows", "background") if split_roles else ("all",)
        self.by_engine: dict[str, list[WorkerProcess]] = {}
        for label, module in ENGINES:
            env = worker_env(settings[label])
            self.by_engine[label] = [
                WorkerProcess(f"{label} ({role})", module, env, workdir / f"{label}-{role}.log", role_args(role))
                for role in self.roles
            ]
        self._failures_seen: dict[str, int] = {}

    def all(self) -> list[WorkerProcess]:
        return [w for procs in self.by_engine.values() for w in procs]

    async def start(self) -> None:
        for w in self.all():
            w.start()
        await asyncio.gather(*(w.wait_ready() for w in self.all()))

    async def stop(self) -> None:
        for w in self.all():
            await asyncio.to_thread(w.stop)

    def print_log_tails(self) -> None:
        for w in self.all():
            print(f"--- {w.label} worker log tail ({w.log_path}):\n{w.log_tail()}", file=sys.stderr)

    def new_task_failures(self) -> dict[str, int]:
        """Failed workflow activations each engine's workers logged since the last call."""
        new = {}
        for label, procs in self.by_engine.items():
            count = sum(proc.failed_activations() for proc in procs)
            if count > self._failures_seen.get(label, 0):
                new[label] = count - self._failures_seen.get(label, 0)
            self._failures_seen[label] = count
        return new
