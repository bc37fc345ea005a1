"""One treatment of every activity's failure (activities/failures.py, wired by worker.queue_workers): on the real dev
server, PostgreSQL and Redis, a database error whose text quotes an e-mail address reaches neither the worker's log
nor Temporal (pending activity, history), while the failure still names the error's class and SQLSTATE. Also for an
activity nobody decorated, as step 1's local activity and as a background step."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import Engine, func, select, text
from temporalio import activity, workflow
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

import worker as worker_module
from config.settings import Settings
from domain.errors import BUSINESS_ERROR, BusinessRuleViolation
from domain.jobs import NOTIFY_ID
from ledger.schema import notifications
from starter.client import DuesflowClient
from tests import builders as b
from tests.own_queues import own_queues
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("workers")

# The submitter as the ERP sends it (that is what the workflow's input holds); the ledger stores it normalised, so the
# lower-case address is only in the notifications table, the INSERT's parameters and the trigger's message.
SUBMITTER = "Scrub.Tester@Example.NL"
ADDRESS = SUBMITTER.lower()
REFUSED = "RaiseException (SQLSTATE P0001)"


def failures_in(message: Message) -> Iterator[Failure]:
    """Every Failure a history event (or a pending activity) holds, wherever it sits."""
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        for item in [value] if isinstance(value, Message) else value:
            if isinstance(item, Failure):
                yield item
            else:
                yield from failures_in(item)


async def decoded(client: Client, failure: Failure) -> list[BaseException]:
    """The failure as the client's data converter reads it (payload codec included), with its cause chain."""
    copy = Failure()
    copy.CopyFrom(failure)
    err: BaseException | None = await client.data_converter.decode_failure(copy)
    chain = []
    while err is not None:
        chain.append(err)
        err = err.__cause__
    return chain


def shown(err: BaseException) -> str:
    """What an operator can see of one decoded failure: message, type, details and stack trace."""
    parts = [str(err), getattr(err, "message", ""), getattr(err, "type", "") or ""]
    parts += [repr(d) for d in getattr(err, "details", ())]
    if (failure := getattr(err, "failure", None)) is not None:
        parts.append(failure.stack_trace)
    return "\n".join(parts)


def history_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the captured log records say, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.fixture
def notifications_refused(engine: Engine, site: str) -> Iterator[str]:
    """A PostgreSQL trigger refuses the site's notifications, quoting the row's user (an e-mail address): the psycopg
    error carries the address, SQLAlchemy's adds the INSERT with its parameters. Yields the trigger's name."""
    trigger = f"refusing_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""CREATE FUNCTION {trigger}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.site = '{site}' THEN
                    RAISE EXCEPTION USING MESSAGE = 'mailbox of ' || NEW.user_name || ' is full';
                  END IF;
                  RETURN NEW;
                END $$"""
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION {trigger}_fn()"
            )
        )
    try:
        yield trigger
    finally:
        drop(engine, trigger)


def drop(engine: Engine, trigger: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger} ON notifications"))
        conn.execute(text(f"DROP FUNCTION IF EXISTS {trigger}_fn()"))


async def test_a_database_error_of_the_notify_step_reaches_neither_the_log_nor_temporal(
    duesflow: DuesflowClient,
    temporal_client: Client,
    engine: Engine,
    site: str,
    notifications_refused: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # A rejection's only background work is the submitter's notification (bookkeeping: retried until done).
    verdict = await duesflow.submit(b.invoice("INV-1", "Nobody", 15.0), site=site, user=SUBMITTER)
    assert verdict.status == "rejected" and verdict.workflow_id
    handle = temporal_client.get_workflow_handle(verdict.workflow_id)

    async def notify_pending() -> Any:
        pending = (await handle.describe()).raw_description.pending_activities
        return next((a for a in pending if a.activity_id == NOTIFY_ID), None)

    pending = await eventually(notify_pending, lambda a: a is not None and a.attempt >= 3)
    assert pending is not None and pending.attempt >= 3, "the notify step did not fail and retry"
    # While it retries: the pending activity's last failure is the class and SQLSTATE, and nothing more.
    chain = await decoded(temporal_client, pending.last_failure)
    assert [getattr(e, "message", str(e)) for e in chain] == [REFUSED]  # no cause
    assert isinstance(chain[0], ApplicationError) and not chain[0].non_retryable
    assert not pending.last_failure.HasField("cause")
    assert ADDRESS not in str(pending).lower() and "mailbox" not in str(pending)

    drop(engine, notifications_refused)
    await duesflow.wait(verdict.workflow_id)
    with engine.connect() as conn:
        stored = select(func.count()).where(notifications.c.site == site, notifications.c.user_name == ADDRESS)
        assert conn.execute(stored).scalar_one() == 1  # the retry after the trigger was gone stored it

    # The history: the notify step's started event keeps its last failure, class and SQLSTATE only; no failure in it
    # (nor anything else in the history) quotes the address, the SQL or the database's message.
    history = await handle.fetch_history()
    raw = history_bytes(history)
    assert ADDRESS.encode() not in raw and b"mailbox" not in raw and b"INSERT INTO" not in raw
    failures = [f for event in history.events for f in failures_in(event)]
    chains = [await decoded(temporal_client, f) for f in failures]
    assert [[getattr(e, "message", str(e)) for e in chain] for chain in chains] == [[REFUSED]]
    assert all(ADDRESS not in shown(e).lower() and "[parameters:" not in shown(e) for c in chains for e in c)
    [started] = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.activity_task_started_event_attributes.attempt > 1
    ]
    failed_attempts = started.attempt - 1

    # The worker's log: one scrubbed warning per failed attempt, with the step's context; the SDK's own lines and
    # tracebacks carry the scrubbed failure only.
    text_logged = logged(caplog)
    assert ADDRESS not in text_logged.lower() and "mailbox" not in text_logged
    assert "[parameters:" not in text_logged and "INSERT INTO" not in text_logged
    mine = [
        r
        for r in caplog.records
        if r.name == "temporalio.activity"
        and "attempt failed" in r.getMessage()
        and r.__dict__.get("temporal_activity", {}).get("workflow_id") == verdict.workflow_id
    ]
    assert len(mine) == failed_attempts
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in mine)
    assert all(f": {REFUSED} (" in r.getMessage() and "'activity_type': 'notify'" in r.getMessage() for r in mine)


# -- an activity nobody decorated, on both roles -------------------------------------------------------------------

PROBE = "scrub_probe"
PROBED_ADDRESS = "probe.owner@example.org"


class Probe:
    """Raises what an activity might: a real database error quoting its parameter, a business rule, a plain error.
    No decorator: whatever Temporal and the log get of it is the worker's doing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=PROBE)
    def fail(self, what: str) -> str:
        if what == "database":
            with self._engine.connect() as conn:
                conn.execute(text("SELECT CAST(:value AS integer)"), {"value": PROBED_ADDRESS})
        if what == "rule":
            raise BusinessRuleViolation("probe_rule", "the probe says no")
        raise RuntimeError(f"cannot reach {PROBED_ADDRESS}")


@workflow.defn(sandboxed=False)
class ScrubProbeWorkflow:
    """Runs the probe as a local activity (like step 1) and as an activity (like a background step); returns what
    the workflow saw of each failure."""

    @workflow.run
    async def run(self, what: str) -> list[dict[str, Any]]:
        retry = RetryPolicy(initial_interval=dt.timedelta(milliseconds=10), maximum_attempts=2)
        timeout = dt.timedelta(seconds=10)
        seen = []
        for local in (True, False):
            try:
                if local:
                    await workflow.execute_local_activity(
                        PROBE, what, start_to_close_timeout=timeout, retry_policy=retry
                    )
                else:
                    await workflow.execute_activity(PROBE, what, start_to_close_timeout=timeout, retry_policy=retry)
            except (ActivityError, ApplicationError) as err:
                # A local activity's failure reaches the workflow as it left the activity, an activity's inside an
                # ActivityError.
                cause = err.cause if isinstance(err, ActivityError) else err
                assert isinstance(cause, ApplicationError)
                seen.append(
                    {
                        "local": local,
                        "type": cause.type,
                        "message": cause.message,
                        "non_retryable": cause.non_retryable,
                        "details": list(cause.details),
                        "cause": cause.__cause__ is not None,
                    }
                )
        return seen


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("database", ("DataError", "InvalidTextRepresentation (SQLSTATE 22P02)", False, [{"attempt": 2}])),
        ("rule", (BUSINESS_ERROR, "the probe says no", True, [{"code": "probe_rule", "attempt": 1}])),
        ("plain", ("RuntimeError", "RuntimeError: cannot reach <e-mail>", False, [{"attempt": 2}])),
    ],
)
async def test_an_undecorated_activity_is_scrubbed_as_step_1_and_as_a_background_step(
    temporal_client: Client,
    settings: Settings,
    engine: Engine,
    what: str,
    expected: tuple[str, str, bool, list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    own = own_queues(settings, "scrub")
    probe = Probe(engine)
    with worker_module.ActivityPools.create(own) as pools:
        workers = worker_module.queue_workers(
            temporal_client,
            own,
            pools,
            "all",
            workflows=[ScrubProbeWorkflow],
            step1=[probe.fail],
            background=[probe.fail],
        )
        async with workers[0], workers[1]:
            wid = f"scrub-probe-{what}-{uuid.uuid4().hex[:6]}"
            seen = await temporal_client.execute_workflow(
                ScrubProbeWorkflow.run, what, id=wid, task_queue=own.task_queue
            )
            history = await temporal_client.get_workflow_handle(wid).fetch_history()
    kind, message, non_retryable, details = expected
    assert seen == [
        {
            "local": local,
            "type": kind,
            "message": message,
            "non_retryable": non_retryable,
            "details": details,
            "cause": False,
        }
        for local in (True, False)
    ]
    raw = history_bytes(history)
    assert PROBED_ADDRESS.encode() not in raw and b"SELECT CAST" not in raw and b"[parameters:" not in raw
    text_logged = logged(caplog)
    assert PROBED_ADDRESS not in text_logged and "[parameters:" not in text_logged and "SELECT CAST" not in text_logged
    attempts = [
        r for r in caplog.records if "attempt failed" in r.getMessage() and f"'workflow_id': '{wid}'" in r.getMessage()
    ]
    assert len(attempts) == 2 * (1 if non_retryable else 2)  # one line per failed attempt, local and background
