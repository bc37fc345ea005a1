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
    maximum_attempts: int
    initial_interval_seconds: float
    backoff: float


# docs/business-rules.md §7 says where these differ from the levels as first intended, and why: LOW and BULK get
# 3 attempts instead of 1, their steps being idempotent (one transient database blip should not need an operator).
RETRY_BUDGETS: dict[Level, RetryBudget] = {
    Level.CRITICAL: RetryBudget(5, 30.0, 2.0),
    Level.HIGH: RetryBudget(3, 60.0, 2.0),
    Level.NORMAL: RetryBudget(2, 120.0, 1.5),
    Level.LOW: RetryBudget(3, 60.0, 2.0),
    Level.BULK: RetryBudget(3, 60.0, 2.0),
}
