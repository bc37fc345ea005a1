"""One worker pair per test module, on a task queue of its own, serving the real workflows with stub activities.
Only the Temporal dev server is needed (the session's ``temporal_client``): no PostgreSQL, Redis or SMTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from tests.orchestration.stubs import Harness, Stubs, own_task_queue, running_workers


@pytest.fixture(scope="module")
async def harness(request: pytest.FixtureRequest, temporal_client: Client) -> AsyncIterator[Harness]:
    stubs = Stubs()
    async with running_workers(temporal_client, own_task_queue(request.module.__name__), stubs) as settings:
        yield Harness(temporal_client, settings, stubs)
