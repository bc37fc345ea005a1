"""Real Temporal dev server on free ports: start, persist, restart, reuse, search attributes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from infra.embedded import free_port
from infra.temporal_server import DevServer, ensure_search_attributes, find_temporal_cli, start_dev_server

ATTRS = {"DuesflowSite": "Keyword", "DuesflowAmount": "Int"}
SITE = SearchAttributeKey.for_keyword("DuesflowSite")


async def _custom_attrs(client: Client, namespace: str) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(listed.custom_attributes)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    # One in-memory server for the tests that do not need their own lifecycle (keeps the suite fast).
    server = start_dev_server(
        db_file=None,
        port=free_port(),
        ui_port=free_port(),
        search_attributes=ATTRS,
        log_file=tmp_path_factory.mktemp("temporal") / "server.log",
    )
    yield server
    server.stop()


def test_find_temporal_cli_is_executable() -> None:
    cli = find_temporal_cli()
    assert os.access(cli, os.X_OK)


@pytest.mark.asyncio
async def test_workflow_and_search_attributes_survive_restart(tmp_path: Path) -> None:
    kwargs = dict(
        db_file=tmp_path / "temporal.db",
        port=free_port(),
        ui_port=free_port(),
        namespace="duesflow",
        search_attributes=ATTRS,
        log_file=tmp_path / "server.log",
    )
    server = start_dev_server(**kwargs)
    try:
        assert server.owns_process
        assert server.ui_url == f"http://127.0.0.1:{kwargs['ui_port']}"
        client = await Client.connect(server.address, namespace="duesflow")
        assert await _custom_attrs(client, "duesflow") == {"DuesflowSite": 2, "DuesflowAmount": 3}
        # No worker needed: a started workflow is durable server state we can look up after a restart.
        await client.start_workflow(
            "CollectDues",
            id="wf-restart",
            task_queue="nobody-polls",
            search_attributes=TypedSearchAttributes([SearchAttributePair(SITE, "site-a")]),
        )
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode is not None

    server = start_dev_server(**kwargs)
    try:
        client = await Client.connect(server.address, namespace="duesflow")
        description = await client.get_workflow_handle("wf-restart").describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.typed_search_attributes.get(SITE) == "site-a"
        assert await _custom_attrs(client, "duesflow") == {"DuesflowSite": 2, "DuesflowAmount": 3}
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_second_start_reuses_running_server(shared_server: DevServer) -> None:
    port = int(shared_server.address.rsplit(":", 1)[1])
    reused = start_dev_server(
        db_file=None, port=port, ui_port=free_port(), search_attributes={"DuesflowBatch": "Keyword"}
    )
    assert not reused.owns_process
    assert reused.address == shared_server.address
    reused.stop()  # must not touch the server it does not own

    client = await Client.connect(shared_server.address)
    attrs = await _custom_attrs(client, "default")
    assert {"DuesflowSite", "DuesflowAmount", "DuesflowBatch"} <= attrs.keys()


@pytest.mark.asyncio
async def test_ensure_search_attributes_is_idempotent(shared_server: DevServer) -> None:
    client = await Client.connect(shared_server.address)
    name = f"DuesflowTmp{uuid.uuid4().hex[:8]}"
    await ensure_search_attributes(client, "default", {name: "Bool"})
    await ensure_search_attributes(client, "default", {name: "Bool", **ATTRS})
    assert (await _custom_attrs(client, "default"))[name] == 5  # INDEXED_VALUE_TYPE_BOOL

    with pytest.raises(ValueError, match="already exists"):
        await ensure_search_attributes(client, "default", {name: "Int"})
    with pytest.raises(ValueError, match="unknown search attribute types"):
        await ensure_search_attributes(client, "default", {"Bad": "Float"})
