"""The five priority levels of docs/business-rules.md §7 with their retry budgets (pure data, used by workflows)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    """Values double as Temporal priority keys: lower runs sooner."""

    CRITICAL = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4
    BULK = 5


@dataclass(frozen=True)
class RetryBudget:
    """How a step of a level retries what is not a business-rule violation (those are never retried).

    Budgets are spans of time, not counts: an infrastructure outage (PostgreSQL restarting, a network partition)
    is no business failure, and a step must outlast one of minutes to an hour before it is reported failed; the
    count of attempts follows from the span (``maximum_attempts``)."""

    initial_interval_seconds: float
    backoff: float
    maximum_interval_seconds: float
    span_seconds: float

    def intervals(self, scale: float = 1.0) -> list[float]:
        """The waits between attempts, until together they cover the span."""
        waits: list[float] = []
        wait, total = self.initial_interval_seconds * scale, 0.0
        while total < self.span_seconds * scale:
            waits.append(wait)
            total += wait
            wait = min(wait * self.backoff, self.maximum_interval_seconds * scale)
        return waits

    def maximum_attempts(self) -> int:
        return len(self.intervals()) + 1


HOUR = 3600.0
# docs/business-rules.md §7 says where these differ from the levels as first intended, and why (decision 0004).
RETRY_BUDGETS: dict[Level, RetryBudget] = {
    Level.CRITICAL: RetryBudget(30.0, 2.0, 600.0, 6 * HOUR),
    Level.HIGH: RetryBudget(60.0, 2.0, 600.0, 6 * HOUR),
    Level.NORMAL: RetryBudget(120.0, 1.5, 600.0, 3 * HOUR),
    Level.LOW: RetryBudget(60.0, 2.0, 900.0, 3 * HOUR),
    Level.BULK: RetryBudget(60.0, 2.0, 900.0, 3 * HOUR),
}
