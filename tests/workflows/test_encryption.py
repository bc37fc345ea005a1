"""Encrypted payloads on the real dev server, PostgreSQL and Redis (deployment/encryption.py, README "Encryption
keys"): what Temporal stores of a real submission is ciphertext, failures included; a key rotation under a waiting
workflow; a worker missing a key that an open history needs says so, and the workflow waits instead of failing.

Histories are read raw, with a client that has no codec, as the server (and anyone reading its database) sees
them."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import Engine
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from config.settings import Settings
from deployment.converter import data_converter, failure_message
from deployment.encryption import ENCODING, KEY_ID, KeyRing
from ledger.cache import ReadCache
from starter.client import DuesflowClient
from tests import builders as b
from tests.own_queues import own_queues, serve
from tests.polling import eventually
from worker import WORKFLOWS

# Personal data of the document and its submitter, distinctive enough that finding them in bytes is no accident.
CUSTOMER = "Pietersen-Vandenberg-7QX"
USER = "penningmeester.q7zx@example.nl"
MEMBER = "M-7QX"


CORE_PATCH = ".marker_recorded_event_attributes.details[patch-data].payloads"


def raw_client(client: Client) -> Client:
    """The same server without a codec: what Temporal itself holds."""
    return Client(client.service_client, namespace=client.namespace)


def with_keys(client: Client, keyring: KeyRing) -> Client:
    """The same server, encrypting and decrypting with ``keyring`` (a worker or caller configured with it)."""
    return Client(client.service_client, namespace=client.namespace, data_converter=data_converter(keyring))


async def raw_history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await raw_client(client).get_workflow_handle(workflow_id).fetch_history()


def serialized(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


def payloads_of(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every payload inside ``message`` with where it is, search attributes left out (indexed, never encrypted,
    and free of personal data by decision 0011)."""
    for field, value in message.ListFields():
        if field.name == "search_attributes" or field.message_type is None:
            continue
        where = f"{path}.{field.name}"
        if isinstance(value, Message):
            items: Any = [(where, value)]
        elif field.message_type.GetOptions().map_entry:
            items = [(f"{where}[{key}]", item) for key, item in value.items()]
        else:  # repeated
            items = [(where, item) for item in value]
        for at, item in items:
            if isinstance(item, Payload):
                yield at, item
            elif isinstance(item, Message):
                yield from payloads_of(item, at)


def events_of(history: WorkflowHistory, kind: int) -> list[HistoryEvent]:
    return [e for e in history.events if e.event_type == kind]


def key_ids_in(event: HistoryEvent) -> set[bytes]:
    """The key ids of the encrypted payloads in one event."""
    return {p.metadata[KEY_ID] for _, p in payloads_of(event) if p.metadata.get("encoding") == ENCODING}


def key_ids(history: WorkflowHistory, kind: int) -> set[bytes]:
    """The key ids of the encrypted payloads in the events of one kind."""
    return {key_id for event in events_of(history, kind) for key_id in key_ids_in(event)}


async def sepa_payment_with_a_failing_step(duesflow: DuesflowClient, site: str) -> str:
    """A SEPA payment whose `sepa` step fails (the mandate's maximum is exceeded), submitted and finished."""
    mandate = b.mandate("MD-7QX", MEMBER, maximum_amount=10.0)
    await duesflow.load_reference_data(
        [b.customer(CUSTOMER), b.member(MEMBER, CUSTOMER, "SEPA Direct Debit"), mandate], site=site
    )
    invoice = await duesflow.submit(b.invoice("INV-1", CUSTOMER, 15.0, member_name=MEMBER), site=site, user=USER)
    assert invoice.status == "accepted" and invoice.workflow_id
    await duesflow.wait(invoice.workflow_id)
    doc = b.payment("PAY-1", CUSTOMER, 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert verdict.status == "accepted" and verdict.workflow_id, verdict.errors
    result = await duesflow.wait(verdict.workflow_id)
    assert {s.name: s.status for s in result.steps}["sepa"] == "failed"
    return verdict.workflow_id


@pytest.mark.usefixtures("workers")
async def test_temporal_holds_no_plaintext_of_a_submission_and_its_failures(
    duesflow: DuesflowClient, temporal_client: Client, site: str
) -> None:
    workflow_id = await sepa_payment_with_a_failing_step(duesflow, site)
    history = await raw_history(temporal_client, workflow_id)
    raw = serialized(history)
    assert CUSTOMER.encode() not in raw  # the party, in the input and in step inputs
    assert USER.encode() not in raw  # the submitter, in the input
    assert b"mandate maximum" not in raw and b"MD-7QX" not in raw  # the step's failure message
    # Every payload the SDK's converter writes is ciphertext under the suite's key: inputs, results, updates, step
    # 1's result, summaries, failure attributes. What the SDK's core writes itself stays plain: a local activity's
    # bookkeeping (sequence, attempt, activity type, times) and the ids of patch markers, no document data.
    # The start's static summary may be left readable for the Web UI (deployment.converter.readable_summary);
    # the steps' summaries are encrypted.
    found = [(where, p) for where, p in payloads_of(history.events[0]) if where != ".user_metadata.summary"]
    found += [found for event in history.events[1:] for found in payloads_of(event)]
    core = {".marker_recorded_event_attributes.details[data].payloads", CORE_PATCH}
    plain = [(where, p.data) for where, p in found if p.metadata.get("encoding") != ENCODING]
    assert {where for where, _ in plain} <= core, plain
    assert b'"activity_type":"validate_and_record"' in b"".join(data for _, data in plain)
    encrypted = [p for where, p in found if where not in core]
    assert len(encrypted) > 10
    assert {p.metadata.get("encoding") for p in encrypted} == {ENCODING}
    assert {p.metadata[KEY_ID] for p in encrypted} == {b"duesflow-test-suite"}

    [failed] = [
        e.activity_task_failed_event_attributes.failure
        for e in events_of(history, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)
    ]
    assert failed.message == "Encoded failure" and failed.stack_trace == ""
    assert failed.HasField("encoded_attributes")
    assert failed.encoded_attributes.metadata["encoding"] == ENCODING
    # Without the key the message cannot be read (nor the error's details); with it, it is the step's own.
    assert b"exceeds" not in failed.SerializeToString()
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await raw_client(temporal_client).data_converter.decode_failure(failed)
    assert "exceeds the mandate maximum" in await failure_message(temporal_client.data_converter, failed)


# -- key rotation ------------------------------------------------------------------------------------------------------


class Role:
    """A worker role of a test's own, on its own task queue, with the key ring its client has."""

    def __init__(self, client: Client, settings: Settings, engine: Engine, cache: ReadCache, role: Any) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(serve(client, settings, engine, cache, role, self.stop))

    async def close(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture
async def roles() -> AsyncIterator[list[Role]]:
    """Whatever a test started is stopped, however it ends."""
    started: list[Role] = []
    yield started
    for role in started:
        if not role.task.done():
            await role.close()


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def exception_lines(self) -> list[str]:
        return [str(r.exc_info[1]) for r in self.records if r.exc_info and r.exc_info[1] is not None]


@pytest.fixture
def worker_log() -> Iterator[Captured]:
    """What the SDK's workflow worker logs (a workflow task it cannot complete, with the exception)."""
    handler = Captured()
    logger = logging.getLogger("temporalio.worker._workflow")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_a_workflow_started_under_one_key_completes_after_rotation_and_waits_for_a_missing_key(
    temporal_client: Client,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    site: str,
    roles: list[Role],
    worker_log: Captured,
) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    ring_1 = KeyRing({"k1": k1}, "k1")
    rotated = KeyRing({"k1": k1, "k2": k2}, "k2")
    ring_2 = KeyRing({"k2": k2}, "k2")
    own = own_queues(settings, "rotation")
    client_1, client_12, client_2 = (with_keys(temporal_client, r) for r in (ring_1, rotated, ring_2))
    before = DuesflowClient(client_1, own, engine, cache)
    after = DuesflowClient(client_12, own, engine, cache)

    # 1. Under key 1: the verdict comes from the workflow role; the background role is not running, so the
    #    payment's steps wait, scheduled with inputs encrypted under k1.
    roles.append(Role(client_1, own, engine, cache, "workflows"))
    await before.load_reference_data([b.customer(CUSTOMER), b.member(MEMBER, CUSTOMER)], site=site)
    waiting = await before.submit(b.payment("PAY-1", CUSTOMER, 12.0), site=site, user=USER)
    assert waiting.status == "accepted" and waiting.workflow_id
    progress = await before.progress(waiting.workflow_id)
    assert progress.steps and all(s.status in ("pending", "running") for s in progress.steps)
    await roles[-1].close()

    # 2. The worker moves to the rotated ring (k2 primary, k1 kept): the waiting workflow completes.
    roles.append(Role(client_12, own, engine, cache, "all"))
    result = await asyncio.wait_for(after.wait(waiting.workflow_id), timeout=60)
    assert [s.status for s in result.steps] == ["done"] * len(result.steps)
    history = await raw_history(temporal_client, waiting.workflow_id)
    assert key_ids(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == {b"k1"}
    scheduled = [key_ids_in(e) for e in events_of(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)]
    assert scheduled[0] == {b"k1"} and scheduled[-1] == {b"k2"}  # the steps before rotation, the notify after it
    assert key_ids(history, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) == {b"k2"}
    assert key_ids(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) == {b"k2"}
    # The history of both keys replays with the rotated ring (a worker restarted later reads it too).
    await Replayer(workflows=WORKFLOWS, data_converter=client_12.data_converter).replay_workflow(history)
    # A caller that still has only k1 cannot read the result written under k2 (hence: rings first, primary after).
    with pytest.raises(Exception, match="payload encrypted with key 'k2', which this process does not have"):
        await client_1.get_workflow_handle(waiting.workflow_id).result()
    await roles[-1].close()

    # 3. A workflow started under k1 (no worker yet), then only a worker that lost k1: its workflow task fails,
    #    the worker logs the one line naming k1, and the workflow waits (running, not failed).
    stranded = await before.submit(b.payment("PAY-2", CUSTOMER, 13.0), site=site, user=USER, timeout=0.5)
    assert stranded.status == "pending" and stranded.workflow_id
    roles.append(Role(client_2, own, engine, cache, "workflows"))
    history = await eventually(
        lambda: raw_history(temporal_client, stranded.workflow_id or ""),
        lambda h: bool(events_of(h, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)),
        timeout=30,
    )
    await roles[-1].close()
    expected = "payload encrypted with key 'k1', which this process does not have: add it to DUESFLOW_ENCRYPTION_KEYS"
    logged = [line for line in worker_log.exception_lines() if "'k1'" in line]
    assert logged and all(line.startswith(expected) and "\n" not in line for line in logged), logged
    [task_failed, *_] = events_of(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    failure = task_failed.workflow_task_failed_event_attributes.failure
    assert (await failure_message(client_2.data_converter, failure)).startswith(expected)  # the Web UI's task failure
    description = await client_2.get_workflow_handle(stranded.workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert not events_of(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED)

    # 4. What the README tells the operator: give the worker k1 back, and the workflow goes on.
    roles.append(Role(client_12, own, engine, cache, "all"))
    verdict = await asyncio.wait_for(after.wait(stranded.workflow_id), timeout=60)
    assert verdict.verdict.status == "accepted"
