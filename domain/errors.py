"""Errors that retrying cannot fix: they end a step as failed and are audited."""

from __future__ import annotations

# The Temporal failure type of a BusinessRuleViolation: retry policies list it as non-retryable.
BUSINESS_ERROR = "BusinessRuleViolation"


class BusinessRuleViolation(Exception):
    """A rule of domain.md says no (unknown member, mandate not active, …). Never retried."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")
