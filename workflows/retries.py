"""Temporal's RetryPolicy of a retry budget (the budgets themselves are in ``domain/priorities.py``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from domain.errors import BUSINESS_ERROR
from domain.priorities import RetryBudget


def retry_policy(budget: RetryBudget) -> RetryPolicy:
    """A business-rule violation is never retried, whatever the budget."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=budget.initial_interval_seconds),
        backoff_coefficient=budget.backoff,
        maximum_interval=timedelta(seconds=budget.maximum_interval_seconds),
        maximum_attempts=budget.maximum_attempts() or 0,
        non_retryable_error_types=[BUSINESS_ERROR],
    )
