"""Priority levels and retry budgets of docs/business-rules.md §7: every retry rule of duesflow, as pure data.

Workflows turn a budget into Temporal's RetryPolicy (``workflows/retries.py``); nothing else decides how often or
how long anything is retried.
"""

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
    """How a call is retried after a failure that is not a business-rule violation (those are never retried).

    ``span_seconds`` is how long it keeps trying; None means until it succeeds. Budgets are spans of time, not
    counts: an infrastructure outage (PostgreSQL restarting, a network partition) is no business failure, and a step
    must outlast one of minutes to an hour before it is reported failed; the count of attempts follows from the span.
    """

    initial_interval_seconds: float
    backoff: float
    maximum_interval_seconds: float
    span_seconds: float | None

    def intervals(self) -> list[float]:
        """The waits between attempts, until together they cover the span (a budget with a span only)."""
        if self.span_seconds is None:
            raise ValueError("a budget without a span retries until done: it has no last interval")
        waits: list[float] = []
        wait, total = self.initial_interval_seconds, 0.0
        while total < self.span_seconds:
            waits.append(wait)
            total += wait
            wait = min(wait * self.backoff, self.maximum_interval_seconds)
        return waits

    def maximum_attempts(self) -> int | None:
        """None: no limit."""
        return None if self.span_seconds is None else len(self.intervals()) + 1


HOUR = 3600.0

# A background step's budget follows its level; a failure after the span is reported (audited, the step "failed")
# and the other steps go on. HIGH and BULK are priorities only: no step runs at HIGH (bookkeeping does, with its own
# budget below), and a backfilled (BULK) step keeps its own level's budget.
STEP_BUDGETS: dict[Level, RetryBudget] = {
    Level.CRITICAL: RetryBudget(30.0, 2.0, 600.0, 6 * HOUR),
    Level.NORMAL: RetryBudget(120.0, 1.5, 600.0, 3 * HOUR),
    Level.LOW: RetryBudget(60.0, 2.0, 900.0, 3 * HOUR),
}

# Retried until done, because giving up would lose something that must not be lost:
# step 1, while the treasurer waits (an outage leaves the verdict "pending" and the workflow waiting durably);
VERDICT_BUDGET = RetryBudget(0.2, 2.0, 30.0, None)
# the audit of a failed step or a cancellation, and the submitter's notification;
BOOKKEEPING_BUDGET = RetryBudget(1.0, 2.0, 60.0, None)
# a reminder step (an SMTP or database outage must not cost a member a reminder, nor the board its hand-off).
REMINDER_BUDGET = RetryBudget(30.0, 2.0, HOUR, None)

# The priority of bookkeeping and of reminder steps (a backfilled document's are BULK, like its steps).
BOOKKEEPING_LEVEL = Level.HIGH
REMINDER_LEVEL = Level.NORMAL


def priority_of(level: Level, *, bulk: bool) -> Level:
    """Everything of a backfilled document waits behind live work, its bookkeeping and reminders included."""
    return Level.BULK if bulk else level
