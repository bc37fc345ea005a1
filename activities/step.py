"""What every background step shares: turning exceptions into Temporal failures, the audit of its outcome, and the
payment a payment's step works on."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Row
from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import audit_keys
from domain.errors import BUSINESS_ERROR, BusinessRuleViolation
from domain.messages import StepInput
from ledger import audit
from ledger.documents import lock_payment

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def failures_as_application_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Business rules become non-retryable failures; everything else is retried by the step's policy.

    The attempt number travels in the failure's details, so the workflow can report attempts without I/O.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        attempt = activity.info().attempt
        try:
            return fn(*args, **kwargs)
        except BusinessRuleViolation as exc:
            raise ApplicationError(
                exc.message, {"code": exc.code, "attempt": attempt}, type=BUSINESS_ERROR, non_retryable=True
            ) from exc
        except ApplicationError:
            raise
        except Exception as exc:
            # Only the exception type goes to the log: database errors can quote row values (personal data).
            log.warning("step %s attempt %d failed: %s", activity.info().activity_type, attempt, type(exc).__name__)
            # "from None": Temporal records an exception's __cause__ chain in the history, and a database error's
            # text quotes the statement's row values; only the safe message may travel.
            raise ApplicationError(safe_message(exc), {"attempt": attempt}, type=type(exc).__name__) from None

    return wrapper


def safe_message(exc: Exception) -> str:
    """What an operator may see in the Web UI: database errors quote row values (names, IBANs), so only their
    class and SQLSTATE travel; other errors keep their first line."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        return f"{type(orig).__name__} (SQLSTATE {getattr(orig, 'sqlstate', None) or 'unknown'})"
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def append_traced(conn: Connection, entry: audit.AuditEntry) -> bool:
    """Append an audit record that names the workflow run and the attempt that wrote it."""
    info = activity.info()
    return audit.append(
        conn,
        dataclasses.replace(
            entry,
            details={**entry.details, "attempt": info.attempt},
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
        ),
    )


def audit_step_completed(conn: Connection, step: str, inp: StepInput, outcome: str, **details: Any) -> None:
    """Written in the step's own transaction: the effect and its audit record commit together or not at all."""
    append_traced(
        conn,
        audit.AuditEntry(
            actor=inp.actor,
            site=inp.site,
            doctype=inp.doctype,
            name=inp.name,
            event="step_completed",
            step=step,
            outcome=outcome,
            details=details,
            dedupe_key=audit_keys.step_completed(activity.info().workflow_id, step),
        ),
    )


def locked_payment(conn: Connection, site: str, name: str) -> Row:
    """The payment row, locked for the step's transaction (a submission's and a cancellation's steps for one payment
    serialise on it, so whichever runs last sees the final state). A payment the ledger does not hold breaks a
    business rule: step 1 recorded every payment whose steps run."""
    payment = lock_payment(conn, site, name)
    if payment is None:
        raise BusinessRuleViolation("unknown_payment", f"payment {name} is not in the ledger")
    return payment
