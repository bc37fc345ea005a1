"""Reminder flows on the real dev server with per-workflow time skipping (start-dev runs with
frontend.WorkflowTimeSkippingEnabled=true, see conftest): six weeks of dunning pass in seconds of wall time, on real
PostgreSQL and a real SMTP server on loopback (aiosmtpd), which is where the assertions about mails look."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Replayer

import worker as worker_module
from config.settings import Settings
from domain.reminder_mail import message_id
from domain.reminders import ReminderStatus
from infra.mail_sink import MailSink
from ledger.cache import ReadCache
from starter.client import DuesflowClient
from tests import builders as b
from tests.polling import eventually
from tests.recording import keep
from worker import WORKFLOWS
from workflows.reminders import ReminderWorkflow, reminders_id

USER = "penningmeester@example.nl"
TODAY = dt.date.today()
DOMAIN = "duesflow.local"


def skipping_client(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, *, enabled: bool
) -> tuple[TimeSkipper, DuesflowClient]:
    """A client whose workflows run on their own virtual clock; their reminder child inherits it."""
    skipper = TimeSkipper(temporal_client, config=TimeSkippingConfig(enabled=enabled))
    return skipper, DuesflowClient(skipper.client, settings, engine, cache)


async def association(duesflow: DuesflowClient, site: str) -> None:
    await duesflow.load_reference_data(
        [b.customer("C1"), b.member("M1", "C1"), b.customer("C2"), b.member("M2", "C2")], site=site
    )


def reminder_flow(client: Client, site: str, invoice: str) -> WorkflowHandle[Any, ReminderStatus]:
    return client.get_workflow_handle_for(ReminderWorkflow.run, reminders_id(site, invoice))


async def overdue_invoice(
    duesflow: DuesflowClient, site: str, name: str, customer: str, amount: float
) -> tuple[str, dict[str, Any]]:
    """An invoice due yesterday of the customer's member, submitted, its pipeline finished: (workflow id, doc)."""
    due = str(TODAY - dt.timedelta(days=1))
    member = customer.replace("C", "M")
    doc = b.invoice(name, customer, amount, posting_date=due, due_date=due, member_name=member)
    verdict = await duesflow.submit(doc, site=site, user=USER)
    assert verdict.status == "accepted" and verdict.workflow_id
    await duesflow.wait(verdict.workflow_id)
    return verdict.workflow_id, doc


async def replay_and_keep(client: Client, histories: dict[str, str]) -> None:
    """Replay each workflow's history with today's code; with DUESFLOW_RECORD_HISTORIES set, keep it as ``label``."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=client.data_converter)
    for label, wid in histories.items():
        history = await client.get_workflow_handle(wid).fetch_history()
        await replayer.replay_workflow(history)
        keep(label, history)


def mails(sink: MailSink, site: str, invoice: str, level: int) -> list[Any]:
    return sink.with_message_id(message_id(site, invoice, level, DOMAIN))


async def test_unpaid_invoice_walks_through_the_levels_and_is_handed_off(
    temporal_client: Client,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    workers: Any,
    site: str,
    smtp_sink: MailSink,
) -> None:
    _, duesflow = skipping_client(temporal_client, settings, engine, cache, enabled=True)
    await association(duesflow, site)
    invoice_wf, _ = await overdue_invoice(duesflow, site, "INV-1", "C1", 30.0)

    status = await reminder_flow(temporal_client, site, "INV-1").result()
    assert (status.state, status.levels_sent) == ("handed_off", 3)

    subjects = {1: "Vriendelijke herinnering: INV-1", 2: "Dringende herinnering: INV-1", 3: "Laatste aanmaning: INV-1"}
    # Level 1 at due + 7 days, then 14 days apart: days overdue as the member reads them.
    days = {1: 7, 2: 21, 3: 35}
    for level in (1, 2, 3):
        [mail] = mails(smtp_sink, site, "INV-1", level)
        assert mail["Subject"] == subjects[level]
        assert mail["To"] == "m1@example.nl"
        body = mail.get_content().replace("\r\n", "\n")
        assert "Beste Test M1," in body
        assert "€ 30,00" in body
        assert f"Dagen te laat:    {days[level]}\n" in body
        assert "Betalingskenmerk: INV-1" in body

    view = await duesflow.reminders(site, "INV-1")
    assert view is not None
    assert (view.state, view.levels_sent, view.next_level) == ("handed_off", [1, 2, 3], None)
    assert [s["outcome"] for s in view.sent] == ["sent", "sent", "sent"]
    # The ledger keeps the workflow's (virtual) time of each send: 14 days apart (plus the time a step takes).
    sent_at = [s["sent_at"] for s in view.sent]
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert all(dt.timedelta(days=14) <= gap < dt.timedelta(days=14, hours=2) for gap in gaps), gaps
    [board] = await duesflow.handed_off(site)
    assert (board["invoice"], board["member"], board["outstanding"]) == ("INV-1", "M1", Decimal("30.00"))

    events = [e["event"] for e in await duesflow.audit_trail(site, "Sales Invoice", "INV-1")]
    assert events.count("reminder_sent") == 3 and events.count("handed_off") == 1

    # Both histories replay with today's code (the invoice's, which starts the child, and the flow's).
    await replay_and_keep(
        temporal_client,
        {"sales-invoice-starting-reminders": invoice_wf, "reminders-handed-off": reminders_id(site, "INV-1")},
    )


async def test_payment_between_levels_ends_the_flow_and_duplicates_send_nothing_twice(
    temporal_client: Client,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    workers: Any,
    site: str,
    smtp_sink: MailSink,
) -> None:
    skipper, duesflow = skipping_client(temporal_client, settings, engine, cache, enabled=False)
    await association(duesflow, site)
    invoice_wf, doc = await overdue_invoice(duesflow, site, "INV-2", "C2", 25.0)
    flow = reminder_flow(temporal_client, site, "INV-2")

    # Duplicate deliveries: the ERP submits the invoice again, and the flow is poked twice; still one flow.
    assert (await duesflow.submit(doc, site=site, user=USER)).workflow_id == invoice_wf
    await flow.signal(ReminderWorkflow.invoice_changed, "payment")
    await flow.signal(ReminderWorkflow.invoice_changed, "payment")

    # Ten virtual days: level 1 (due at day 6 from now) goes out, level 2 (day 20) not yet.
    assert await skipper.fast_forward(flow, dt.timedelta(days=10))
    status = await flow.query(ReminderWorkflow.status)
    assert status is not None and (status.state, status.levels_sent, status.next_level) == ("reminding", 1, 2)
    assert len(mails(smtp_sink, site, "INV-2", 1)) == 1

    paid = b.payment("PAY-2", "C2", 25.0, [("INV-2", 25.0)], posting_date=str(TODAY))
    assert (await duesflow.submit(paid, site=site, user=USER)).status == "accepted"
    # Level 2 is 10 virtual days away on a clock no longer skipping: only the payment's signal ends the flow now.
    result = await asyncio.wait_for(flow.result(), timeout=60)
    assert (result.state, result.levels_sent) == ("settled", 1)
    assert mails(smtp_sink, site, "INV-2", 2) == []
    assert len(mails(smtp_sink, site, "INV-2", 1)) == 1
    view = await duesflow.reminders(site, "INV-2")
    assert view is not None and (view.state, view.levels_sent, view.next_due) == ("settled", [1], None)
    # The payment's step 1 closed the case (one audit record); the flow ended on its signal.
    events = [e["event"] for e in await duesflow.audit_trail(site, "Sales Invoice", "INV-2")]
    assert events.count("reminders_ended_settled") == 1
    await replay_and_keep(
        temporal_client,
        {"payment-signalling-reminders": f"{site}:Payment Entry:PAY-2", "reminders-settled": flow.id},
    )


async def test_partial_payment_keeps_the_flow_and_the_mail_shows_what_is_left(
    temporal_client: Client,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    workers: Any,
    site: str,
    smtp_sink: MailSink,
) -> None:
    skipper, duesflow = skipping_client(temporal_client, settings, engine, cache, enabled=False)
    await association(duesflow, site)
    await overdue_invoice(duesflow, site, "INV-3", "C1", 40.0)
    flow = reminder_flow(temporal_client, site, "INV-3")
    part = b.payment("PAY-3", "C1", 15.0, [("INV-3", 15.0)], posting_date=str(TODAY))
    await duesflow.wait((await duesflow.submit(part, site=site, user=USER)).workflow_id)

    assert await skipper.fast_forward(flow, dt.timedelta(days=10))
    [mail] = mails(smtp_sink, site, "INV-3", 1)
    assert "€ 25,00" in mail.get_content()
    assert (await flow.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_credit_note_and_cancellation_end_their_flows(
    duesflow: DuesflowClient, temporal_client: Client, workers: Any, site: str
) -> None:
    await association(duesflow, site)
    old = TODAY - dt.timedelta(days=90)
    for name in ("INV-4", "INV-5"):
        doc = b.invoice(name, "C1", 30.0, posting_date=str(old), due_date=str(old), member_name="M1")
        await duesflow.wait((await duesflow.submit(doc, site=site, user=USER)).workflow_id)

    credit = b.invoice(
        "INV-4-RET",
        "C1",
        -30.0,
        posting_date=str(TODAY),
        due_date=str(TODAY),
        member_name="M1",
        is_return=1,
        return_against="INV-4",
    )
    assert (await duesflow.submit(credit, site=site, user=USER)).status == "accepted"
    cancel = b.invoice("INV-5", "C1", 30.0, posting_date=str(old), due_date=str(old), member_name="M1", docstatus=2)
    assert (await duesflow.submit(cancel, site=site, user=USER)).status == "accepted"

    assert (await reminder_flow(temporal_client, site, "INV-4").result()).state == "credited"
    assert (await reminder_flow(temporal_client, site, "INV-5").result()).state == "cancelled"


async def test_small_invoices_and_credit_notes_get_no_reminder_flow(
    duesflow: DuesflowClient, temporal_client: Client, workers: Any, site: str
) -> None:
    await association(duesflow, site)
    small = b.invoice("INV-6", "C1", 9.0, member_name="M1")
    await duesflow.wait((await duesflow.submit(small, site=site, user=USER)).workflow_id)
    with pytest.raises(RPCError, match="not found"):
        await temporal_client.get_workflow_handle(reminders_id(site, "INV-6")).describe()
    assert await duesflow.reminders(site, "INV-6") is None


async def test_a_worker_restart_between_levels_sends_each_level_once(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str, smtp_sink: MailSink
) -> None:
    """The flow runs on its own task queues here, so its worker can be stopped and a new one started while the
    session's workers stay up: the new worker rebuilds the flow from its history and sends level 2 only."""
    run = uuid.uuid4().hex[:6]
    own = settings.model_copy(update={"task_queue": f"restart-{run}"})
    skipper, duesflow = skipping_client(temporal_client, own, engine, cache, enabled=False)

    async def serve_until(stop: asyncio.Event) -> None:
        with worker_module.ActivityPools.create(own) as pools:
            await worker_module.serve(
                worker_module.build_workers(temporal_client, own, engine, cache, pools), stop, "t"
            )

    first_stop = asyncio.Event()
    first = asyncio.create_task(serve_until(first_stop))
    await association(duesflow, site)
    await overdue_invoice(duesflow, site, "INV-R", "C1", 30.0)
    flow = reminder_flow(temporal_client, site, "INV-R")
    assert await skipper.fast_forward(flow, dt.timedelta(days=10))
    assert len(mails(smtp_sink, site, "INV-R", 1)) == 1
    first_stop.set()
    await first

    # A new worker (no cached state: it replays the flow's history from the server) takes over.
    second_stop = asyncio.Event()
    second = asyncio.create_task(serve_until(second_stop))
    try:
        assert await skipper.fast_forward(flow, dt.timedelta(days=14))
        status = await flow.query(ReminderWorkflow.status)
        assert status is not None and (status.levels_sent, status.next_level) == (2, 3)
    finally:
        second_stop.set()
        await second
    assert len(mails(smtp_sink, site, "INV-R", 1)) == 1
    assert len(mails(smtp_sink, site, "INV-R", 2)) == 1


async def test_an_operator_cancelling_the_flow_closes_its_case(
    duesflow: DuesflowClient, temporal_client: Client, workers: Any, site: str
) -> None:
    await association(duesflow, site)
    doc = b.invoice("INV-C", "C1", 30.0, member_name="M1")
    await duesflow.wait((await duesflow.submit(doc, site=site, user=USER)).workflow_id)
    flow = reminder_flow(temporal_client, site, "INV-C")
    opened = await eventually(lambda: duesflow.reminders(site, "INV-C"), lambda v: v is not None)
    assert opened is not None, "the flow never opened its case"
    await flow.cancel()  # what `temporal workflow cancel` does
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(flow.result(), timeout=60)
    assert (await flow.describe()).status == WorkflowExecutionStatus.CANCELED
    view = await duesflow.reminders(site, "INV-C")
    assert view is not None and (view.state, view.next_due) == ("stopped", None)
