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
    """The Temporal frontend (``TEMPORAL_ADDRESS`` or ``DUESFLOW_TEMPORAL_ADDRESS``) did not answer."""

    service = "Temporal"


class LedgerUnavailable(ServiceUnavailable):
    """The ledger's PostgreSQL (``DUESFLOW_DATABASE_URL``) did not answer."""

    service = "the ledger database (PostgreSQL)"


class NotFound(DuesflowError, LookupError):
    """What the call names does not exist: a job (workflow id or document name), or a member. The message says
    which, and where it was looked for. Also a ``LookupError``."""


class JobEnded(DuesflowError):
    """A job's workflow ended without a result, so there is nothing to return. ``reason`` says how it ended.

    A background step that failed is not this: it comes back in the result, with its error."""

    outcome = "ended"

    def __init__(self, workflow_id: str, reason: str = "") -> None:
        self.workflow_id = workflow_id
        self.reason = reason
        super().__init__(f"job {workflow_id} {self.outcome}" + (f": {reason}" if reason else ""))


class JobFailed(JobEnded):
    """The job's workflow itself failed or timed out (not one of its steps)."""

    outcome = "failed"


class JobCancelled(JobEnded):
    """The job was cancelled (duesflow's ``cancel``, ``temporal workflow cancel``) or terminated by an operator."""

    outcome = "was cancelled"
