"""What the benchmark measures: a ``Sample`` per submission, a ``Result`` per scenario (what the report prints and
``--json`` writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
