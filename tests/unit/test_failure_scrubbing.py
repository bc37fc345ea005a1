"""What a failed activity attempt becomes (activities/failures.py), without services: a database error's text (SQL,
parameters, row values) never reaches the failure Temporal records nor the log; business rules stay non-retryable
with their code; the attempt rides in the details."""

from __future__ import annotations

import concurrent.futures
import logging
import smtplib
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy.exc import DBAPIError, ProgrammingError, StatementError
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.failures import ScrubFailures, application_error, passes_untouched, safe_message
from domain.errors import BUSINESS_ERROR, BusinessRuleViolation

ADDRESS = "jan.bakker@example.org"


def database_error() -> DBAPIError:
    """What SQLAlchemy raises when a PostgreSQL trigger refuses a row: psycopg's error quotes the value, SQLAlchemy's
    text adds the statement and its parameters."""
    orig = pg.RaiseException(f"no notifications for {ADDRESS}")
    return DBAPIError.instance(
        "INSERT INTO notifications (site, user_name) VALUES (%(site)s, %(user_name)s)",
        {"site": "t.test", "user_name": ADDRESS},
        orig,
        psycopg.Error,
    )


def test_a_database_error_is_its_class_and_sqlstate_only() -> None:
    err = database_error()
    assert ADDRESS in str(err) and "[parameters:" in str(err)  # what the database and SQLAlchemy said …
    assert safe_message(err) == "RaiseException (SQLSTATE P0001)"  # … is not what travels
    assert safe_message(err.orig) == "RaiseException (SQLSTATE P0001)"  # psycopg's own error, unwrapped
    assert safe_message(DBAPIError("SELECT 1", {"x": ADDRESS}, psycopg.OperationalError("down"))) == (
        "OperationalError (SQLSTATE unknown)"
    )


def test_a_retryable_failure_carries_the_safe_message_and_the_attempt() -> None:
    failure = application_error(database_error(), attempt=3)
    assert isinstance(database_error(), ProgrammingError)
    assert (failure.type, failure.message, failure.non_retryable) == (
        "ProgrammingError",
        "RaiseException (SQLSTATE P0001)",
        False,
    )
    assert list(failure.details) == [{"attempt": 3}]


def test_a_business_rule_is_not_retried_and_keeps_its_code() -> None:
    failure = application_error(BusinessRuleViolation("unknown_member", "member M1 is not known"), attempt=1)
    assert (failure.type, failure.message, failure.non_retryable) == (BUSINESS_ERROR, "member M1 is not known", True)
    assert list(failure.details) == [{"code": "unknown_member", "attempt": 1}]


def test_an_application_error_raised_on_purpose_goes_on_as_raised() -> None:
    waiting = ApplicationError("waiting for invoice INV-1 to reach duesflow", type="WaitingForInvoice")
    assert application_error(waiting, attempt=2) is waiting


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RuntimeError(f"cannot mail {ADDRESS}\nsecond line"), "RuntimeError: cannot mail <e-mail>"),
        (ValueError("IBAN NL91ABNA0417164300 refused"), "ValueError: IBAN <iban> refused"),
        (KeyError(ADDRESS), "KeyError: '<e-mail>'"),
        (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError: [Errno 111] Connection refused"),
        (smtplib.SMTPDataError(550, f"<{ADDRESS}>: mailbox unavailable".encode()), "SMTPDataError (SMTP 550)"),
        (smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"no")}), "SMTPRecipientsRefused (1 recipients)"),
        (RuntimeError(), "RuntimeError"),
        # SQLAlchemy's own statement errors (a value its bind processing refused) quote the parameters too.
        (
            StatementError("bad value", "INSERT INTO t (u) VALUES (%(u)s)", {"u": ADDRESS}, TypeError(ADDRESS)),
            "StatementError (TypeError)",
        ),
    ],
)
def test_other_errors_keep_their_first_line_without_addresses(exc: Exception, expected: str) -> None:
    assert safe_message(exc) == expected


def test_cancellation_and_a_broken_pool_are_the_sdks() -> None:
    assert passes_untouched(CancelledError("Cancelled"))
    assert passes_untouched(concurrent.futures.BrokenExecutor())
    assert not passes_untouched(ApplicationError("x"))
    assert not passes_untouched(database_error())


class _Raising(ActivityInboundInterceptor):
    """The activity itself, as the interceptor's next: an undecorated function that raises."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        raise self.exc


async def _through_interceptor(exc: BaseException) -> BaseException:
    inbound = ScrubFailures().intercept_activity(_Raising(exc))
    call = ExecuteActivityInput(fn=lambda: None, args=[], executor=None, headers={})
    with pytest.raises(BaseException) as raised:
        await ActivityEnvironment().run(inbound.execute_activity, call)
    return raised.value


async def test_the_interceptor_sends_no_cause_and_logs_one_scrubbed_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    raised = await _through_interceptor(database_error())
    assert isinstance(raised, ApplicationError) and raised.message == "RaiseException (SQLSTATE P0001)"
    assert raised.__cause__ is None and raised.__suppress_context__
    # What the worker's failure converter makes of it for Temporal: no cause, no address, no SQL.
    failure = Failure()
    DataConverter.default.failure_converter.to_failure(raised, DataConverter.default.payload_converter, failure)
    assert not failure.HasField("cause")
    assert ADDRESS not in str(failure) and "INSERT" not in str(failure)
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.name == "temporalio.activity" and not line.exc_info
    assert "attempt failed (ProgrammingError): RaiseException (SQLSTATE P0001)" in line.getMessage()
    assert ADDRESS not in caplog.text and "[parameters:" not in caplog.text


async def test_the_interceptor_passes_cancellation_through_silently(caplog: pytest.LogCaptureFixture) -> None:
    cancelled = CancelledError("Cancelled")
    assert await _through_interceptor(cancelled) is cancelled
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
