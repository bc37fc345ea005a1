"""The one treatment of every activity's failure, applied by the worker (``ScrubFailures``, an activity inbound
interceptor that ``worker.queue_workers`` gives both roles) to every activity it runs, step 1's local activity
included. An activity raises what it likes; nothing has to be remembered on a new one.

What leaves an attempt that failed (``application_error``):

- a business rule's refusal (``BusinessRuleViolation``): a non-retryable ``ApplicationError`` of type
  ``BusinessRuleViolation`` with the rule's message and details ``{"code", "attempt"}``;
- an ``ApplicationError`` raised on purpose (``WaitingForInvoice``): as raised;
- anything else: a retryable ``ApplicationError`` named after the exception's class, whose message is
  ``safe_message`` (a database error is its class and SQLSTATE only) and whose details are ``{"attempt"}``;
- cancellation and the SDK's own control flow: untouched.

The attempt travels in the details (``details[0]["attempt"]``), so the workflow reports attempts without I/O. The
exception it came from never travels: Temporal records a failure's ``__cause__`` (and an unsuppressed
``__context__``) as the failure's cause, and a database error's text is the SQL with its parameters and the values of
the rows it refused (names, e-mail addresses, IBANs). The same goes for the log: one warning line per failed attempt
through ``activity.logger`` (workflow id, activity type, attempt), with the safe message and no traceback.
"""

from __future__ import annotations

import concurrent.futures
import re
import smtplib
from typing import Any

import psycopg
from sqlalchemy.exc import StatementError
from temporalio import activity
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.errors import BUSINESS_ERROR, BusinessRuleViolation

# Free text of an error nobody wrote for an operator can still quote personal data: masked in what travels.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\b")
MAX_MESSAGE = 300


class ScrubFailures(Interceptor):
    """Give to a ``Worker``'s ``interceptors``: every activity it runs, remote or local, fails only through
    ``application_error``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ScrubbingInbound(next)


class _ScrubbingInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as exc:
            if passes_untouched(exc):
                raise
            failure = application_error(exc, activity.info().attempt)
            activity.logger.warning(
                "attempt failed (%s%s): %s",
                failure.type,
                ", not retryable" if failure.non_retryable else "",
                failure.message,
            )
            # "from None": neither the cause nor the context rides along into Temporal or a traceback.
            raise failure from None


def passes_untouched(exc: BaseException) -> bool:
    """Cancellation and Temporal's own failures belong to the SDK; a broken thread pool must stop the worker."""
    return (isinstance(exc, FailureError) and not isinstance(exc, ApplicationError)) or isinstance(
        exc, concurrent.futures.BrokenExecutor
    )


def application_error(exc: Exception, attempt: int) -> ApplicationError:
    """What Temporal records of an attempt that raised ``exc`` (raise it ``from None``)."""
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, BusinessRuleViolation):
        return ApplicationError(
            exc.message, {"code": exc.code, "attempt": attempt}, type=BUSINESS_ERROR, non_retryable=True
        )
    return ApplicationError(safe_message(exc), {"attempt": attempt}, type=type(exc).__name__)


def safe_message(exc: BaseException) -> str:
    """What an operator may see (Web UI, job API, worker log): database errors quote the statement, its parameters
    and row values, so only their class and SQLSTATE travel; an SMTP server's reply can quote addresses, so only its
    class and code; other errors keep their first line, with e-mail addresses and IBANs masked."""
    if isinstance(exc, StatementError):  # SQLAlchemy: "(orig) text [SQL: …] [parameters: …]"
        orig = exc.orig
        if isinstance(orig, psycopg.Error):
            return _database(orig)
        return f"{type(exc).__name__} ({type(orig).__name__})" if orig is not None else type(exc).__name__
    if isinstance(exc, psycopg.Error):
        return _database(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"{type(exc).__name__} ({len(exc.recipients)} recipients)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} (SMTP {exc.smtp_code})"
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not hide the failure
        text = ""
    first = text.splitlines()[0][:MAX_MESSAGE] if text.strip() else ""
    first = _IBAN.sub("<iban>", _EMAIL.sub("<e-mail>", first))
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _database(err: psycopg.Error) -> str:
    return f"{type(err).__name__} (SQLSTATE {err.sqlstate or 'unknown'})"
