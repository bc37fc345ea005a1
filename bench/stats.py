"""From measurements to figures: percentiles, a scenario's ``Result`` from its samples (or from inline outcomes),
CPU per document."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.figures import Result, Sample
from bench.targets import InlineOutcome


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


def cpu_ms_per_doc(cpu_seconds: Mapping[str, float], docs: int) -> dict[str, float]:
    return {k: v * 1000 / docs for k, v in cpu_seconds.items()}


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


def summarize_inline(
    scenario: str, threads: int, docs: Sequence[Mapping[str, Any]], outcomes: Sequence[InlineOutcome], elapsed: float
) -> Result:
    """Inline, what the ERP user waits for is everything: the "ack" is the whole document."""
    r = Result(section="d", scenario=scenario, engine="inline", docs=len(docs), concurrency=threads)
    for o in outcomes:
        status = o.verdict.status if o.verdict else "error"
        r.accepted += status == "accepted"
        r.rejected += status == "rejected"
        r.errors += status == "error"
        r.steps += o.steps
        r.failed_steps += o.failed_steps
    ok = [o for o in outcomes if o.verdict is not None]
    r.ack_ms = percentiles([o.total_seconds for o in ok])
    r.done_ms = r.ack_ms
    r.completed = sum(1 for o in outcomes if o.verdict is not None and o.verdict.accepted)
    r.throughput = r.completed / elapsed
    r.elapsed_s = elapsed
    r.extra["validate_ms"] = percentiles([o.validate_seconds for o in ok])
    r.problems = [f"{d['name']}: {o.error}" for d, o in zip(docs, outcomes, strict=True) if o.error][:8]
    return r
