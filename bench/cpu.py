"""CPU seconds (user + system) per component of the stack, read from /proc."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.temporal_server import DevServer

if TYPE_CHECKING:
    from bench.workers import WorkerProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
