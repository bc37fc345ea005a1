"""SalesInvoiceWorkflow's story with stub activities: an accepted invoice starts its reminder flow (a child that
outlives it); a credit note tells the flow of the invoice it credits and starts none; a cancellation starts none."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.ids import workflow_id
from domain.reminders import ReminderOutcome, ReminderStatus
from tests import builders as b
from tests.orchestration.stubs import RESULT_TIMEOUT, Harness, accepted
from workflows import search_attributes as sa
from workflows.reminders import ReminderWorkflow, reminders_id


@pytest.fixture
async def reminder_flows(temporal_client: Client) -> AsyncIterator[list[str]]:
    """Reminder flows a test started: they sleep for weeks, so they are terminated when the test ends."""
    started: list[str] = []
    yield started
    for wid in started:
        with contextlib.suppress(RPCError):  # it may have ended by itself
            await temporal_client.get_workflow_handle(wid).terminate(reason="orchestration test done")


async def assert_no_workflow(client: Client, wid: str) -> None:
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(wid).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_accepted_invoice_starts_its_reminder_flow(
    harness: Harness, site: str, reminder_flows: list[str]
) -> None:
    reminder_flows.append(reminders_id(site, "INV-1"))
    sub = await harness.submit(b.invoice("INV-1", "C1", 50.0, member_name="M1"), site=site, verdict=accepted("M1"))
    result = await sub.result()

    assert [(s.name, s.status) for s in result.steps] == [("history:M1", "done")]
    flow = await harness.client.get_workflow_handle(reminders_id(site, "INV-1")).describe()
    assert flow.workflow_type == "ReminderWorkflow"
    assert flow.status == WorkflowExecutionStatus.RUNNING  # it outlives the invoice's workflow
    assert flow.parent_id == sub.handle.id
    attrs = flow.typed_search_attributes
    assert (attrs.get(sa.STATE), attrs.get(sa.DOCUMENT), attrs.get(sa.MEMBERS)) == ("reminders", "INV-1", ["M1"])
    assert sub.stubs.notified == ["completed"]


async def test_credit_note_tells_the_credited_invoice_flow_and_starts_none(
    harness: Harness, site: str, reminder_flows: list[str]
) -> None:
    flow_id = reminders_id(site, "INV-1")
    reminder_flows.append(flow_id)
    # The invoice's flow, when told, finds the invoice credited in the ledger.
    flow_stubs = harness.stubs.script(flow_id, invoice_check=ReminderOutcome(outcome="closed", state="credited"))
    invoice = await harness.submit(b.invoice("INV-1", "C1", 50.0, member_name="M1"), site=site, verdict=accepted("M1"))
    await invoice.result()

    note = b.invoice("CN-1", "C1", -50.0, member_name="M1", is_return=1, return_against="INV-1")
    sub = await harness.submit(note, site=site, verdict=accepted("M1"))
    result = await sub.result()

    assert [(s.name, s.status) for s in result.steps] == [("history:M1", "done")]
    await assert_no_workflow(harness.client, reminders_id(site, "CN-1"))
    flow = harness.client.get_workflow_handle_for(ReminderWorkflow.run, flow_id)
    async with asyncio.timeout(RESULT_TIMEOUT):
        ended = await flow.result()
    assert ended == ReminderStatus(invoice="INV-1", state="credited", levels_sent=0)
    assert [c.activity for c in flow_stubs.called()] == ["open_dunning_case", "check_invoice"]


async def test_cancelled_invoice_starts_no_reminder_flow(harness: Harness, site: str) -> None:
    cancelled = b.invoice("INV-2", "C1", 50.0, member_name="M1", docstatus=2)
    sub = await harness.submit(cancelled, site=site, verdict=accepted("M1"))

    assert sub.handle.id == workflow_id(site, "Sales Invoice", "INV-2", cancellation=True)
    assert sub.handle.id.endswith(":cancel")
    result = await sub.result()

    assert [(s.name, s.status) for s in result.steps] == [("history:M1", "done")]
    await assert_no_workflow(harness.client, reminders_id(site, "INV-2"))
