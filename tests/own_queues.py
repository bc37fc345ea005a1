"""Workers of a test's own: task queues no other test polls, and the production wiring (worker.build_workers) per
role, so a test can keep the background role stopped, then start it (pause, cancel, priorities)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

import worker as worker_module
from config.settings import Settings
from ledger.cache import ReadCache


def own_queues(settings: Settings, prefix: str, **extra: Any) -> Settings:
    run = uuid.uuid4().hex[:6]
    update = {"task_queue": f"{prefix}-{run}", **extra}
    return settings.model_copy(update=update)


async def serve(
    client: Client, settings: Settings, engine: Engine, cache: ReadCache, role: worker_module.Role, stop: asyncio.Event
) -> None:
    """Serve ``role`` on the settings' queues until ``stop`` is set."""
    with worker_module.ActivityPools.create(settings) as pools:
        built = worker_module.build_workers(client, settings, engine, cache, pools, role)
        await worker_module.serve(built, stop, role)
