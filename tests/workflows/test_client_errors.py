"""The client's connection and failures on the real dev server: Temporal is connected once, by the first call that
needs it; a job without a result is duesflow's JobCancelled / JobFailed, never the SDK's exception; the SDK's own log
lines go to Python logging, never to the caller's standard output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

import starter.client as client_module
from config.settings import Settings
from domain.messages import SubmissionInput
from domain.parsing import parse_submission
from ledger.cache import ReadCache
from starter import DuesflowClient, JobCancelled, JobFailed, NotFound
from tests import builders as b
from tests.polling import eventually
from workflows.sales_invoice import SalesInvoiceWorkflow

USER = "treasurer@example.nl"


def on_session_server(settings: Settings, temporal_client: Client) -> Settings:
    return settings.model_copy(update={"temporal_address": temporal_client.service_client.config.target_host})


async def test_temporal_is_connected_once_by_the_first_calls_that_need_it(
    settings: Settings, temporal_client: Client, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()
    real = client_module.connect_temporal

    async def counted(config: Settings, runtime: Any = None) -> Client:
        connects.append(config.temporal_address)
        entered.set()
        await release.wait()  # the first connect is still under way while the other calls come in
        return await real(config, runtime)

    monkeypatch.setattr(client_module, "connect_temporal", counted)
    client = await DuesflowClient.connect(on_session_server(settings, temporal_client))
    try:
        assert connects == []  # making the client contacts nothing
        with pytest.raises(RuntimeError, match="not connected to Temporal yet"):
            _ = client.temporal
        assert await client.unread_count(site, USER) == 0  # a ledger call connects nothing either
        calls = [asyncio.create_task(client.jobs(site, USER)) for _ in range(10)]
        await entered.wait()
        for _ in range(10):  # let every other call reach the connection lock (asyncio runs ready tasks in order)
            await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*calls) == [[]] * 10
        assert connects == [temporal_client.service_client.config.target_host]
        await client.job_statistics(site, USER)
        assert len(connects) == 1
    finally:
        await client.close()


@pytest.mark.usefixtures("workers")
async def test_wait_on_a_job_without_a_result_raises_duesflows_own_errors(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache, site: str
) -> None:
    orphan = settings.model_copy(update={"task_queue": f"nobody-listens-{uuid.uuid4().hex[:6]}"})
    client = DuesflowClient(temporal_client, orphan, engine, cache)

    pending = await client.submit(b.invoice("INV-1", "C1", 15.0), site=site, user=USER, timeout=0.5)
    assert pending.status == "pending" and pending.workflow_id
    await temporal_client.get_workflow_handle(pending.workflow_id).terminate(reason="retired by an operator")
    with pytest.raises(JobCancelled, match="terminated: retired by an operator") as cancelled:
        await client.wait(pending.workflow_id)
    assert cancelled.value.workflow_id == pending.workflow_id
    with pytest.raises(JobCancelled, match="terminated"):  # no worker can replay it to tell its steps
        await client.progress(pending.workflow_id)

    # A workflow that times out (nobody ran it within its execution timeout) failed as a whole.
    parsed = parse_submission(b.invoice("INV-2", "C1", 15.0), currency=settings.currency)
    wid = f"{site}:Sales Invoice:INV-2"
    await temporal_client.start_workflow(
        SalesInvoiceWorkflow.run,
        SubmissionInput(site=site, user=USER, document=parsed),
        id=wid,
        task_queue=orphan.task_queue,
        execution_timeout=timedelta(seconds=1),
    )
    with pytest.raises(JobFailed, match="timed out"):
        await client.wait(wid)

    with pytest.raises(NotFound, match="no job"):
        await client.wait(f"{site}:Sales Invoice:NEVER-SUBMITTED")
    with pytest.raises(NotFound, match="no job"):
        await client.progress(f"{site}:Sales Invoice:NEVER-SUBMITTED")


class TcpProxy:
    """A TCP proxy in front of the dev server that can stop answering (existing connections dropped, new ones
    refused) and come back on the same port."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None


async def test_the_sdks_log_lines_go_to_logging_not_to_stdout(
    settings: Settings,
    temporal_client: Client,
    site: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When Temporal stops answering, the SDK retries a call and logs "gRPC call … retried 5 times". The SDK's
    default runtime prints such lines on the process's standard output (a Frappe worker's); duesflow's client hands
    them to Python logging (``duesflow.temporal``), and the call goes on once the server is back."""
    caplog.set_level(logging.WARNING, logger="duesflow.temporal")
    proxy = TcpProxy(temporal_client.service_client.config.target_host)
    await proxy.start()
    client = await DuesflowClient.connect(settings.model_copy(update={"temporal_address": proxy.address}))
    try:
        assert await client.jobs(site, USER) == []  # connected, through the proxy
        await proxy.stop()
        call = asyncio.create_task(client.job_statistics(site, USER))
        retried = await eventually(
            lambda: asyncio.sleep(0, [r for r in caplog.records if "retried" in r.getMessage()]), bool, timeout=15
        )
        assert retried, "the SDK's retry warning did not reach Python logging"
        assert all(r.name == "duesflow.temporal" and r.levelno == logging.WARNING for r in retried)
        await proxy.start()  # the server is back: the call's next retry goes through
        assert (await call).total == 0
    finally:
        await proxy.stop()
        await client.close()
    out, err = capfd.readouterr()
    assert "retried" not in out and proxy.address not in out
    assert "retried" not in err


@pytest.mark.usefixtures("workers")
async def test_with_temporal_gone_a_recorded_document_still_gets_its_verdict(
    settings: Settings, temporal_client: Client, duesflow: DuesflowClient, site: str
) -> None:
    """Temporal stopped answering after step 1 had recorded the document: the ERP must hear the recorded verdict
    (from the ledger), not an exception that fails a submit duesflow holds. A document step 1 never saw is
    ``TemporalUnavailable``: nothing was decided, and submitting it again later is safe."""
    from infra.embedded import free_port
    from starter import TemporalUnavailable

    await duesflow.load_reference_data([b.customer("C1"), b.member("M1", "C1")], site=site)
    invoice = b.invoice("INV-1", "C1", 15.0, member_name="M1")
    first = await duesflow.submit(invoice, site=site, user=USER)
    assert first.status == "accepted"
    gone = await DuesflowClient.connect(settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"}))
    try:
        again = await gone.submit(invoice, site=site, user=USER, timeout=1)
        assert (again.status, again.workflow_id) == ("accepted", first.workflow_id)
        with pytest.raises(TemporalUnavailable, match=r"Temporal at 127\.0\.0\.1:"):
            await gone.submit(b.invoice("INV-2", "C1", 15.0, member_name="M1"), site=site, user=USER, timeout=1)
    finally:
        await gone.close()
