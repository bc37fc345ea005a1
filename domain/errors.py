"""Errors that retrying cannot fix: they end a step as failed and are audited."""

from __future__ import annotations

# The Temporal failure type of a BusinessRuleViolation: retry policies list it as non-retryable.
BUSINESS_ERROR = "BusinessRuleViolation"


class BusinessRuleViolation(Exception):
    """A rule of docs/business-rules.md says no (unknown member, mandate not active, …). Never retried."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class DuesflowError(Exception):
    """Base of the errors duesflow raises on purpose: catching it catches every documented failure of the client."""


class ServiceUnavailable(DuesflowError):
    """A service duesflow needs did not answer. Nothing was decided: try again once it is back.

    The message names the service, its address and what to check; it never quotes data.
    """

    service = "a service"

    def __init__(self, address: str, detail: str = "") -> None:
        self.address = address
        self.detail = detail
        super().__init__(f"{self.service} at {address} is unreachable" + (f" ({detail})" if detail else ""))


class TemporalUnavailable(ServiceUnavailable):
    """The Temporal frontend (``DUESFLOW_TEMPORAL_ADDRESS``) did not answer."""

    service = "Temporal"


class LedgerUnavailable(ServiceUnavailable):
    """The ledger's PostgreSQL (``DUESFLOW_DATABASE_URL``) did not answer."""

    service = "the ledger database (PostgreSQL)"
