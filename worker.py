"""duesflow worker process: one engine, one Redis client, one Temporal client; workers per task queue.

The workflow queue carries workflow tasks and step 1 (a local activity), so the ERP-facing verdict never waits
behind background work; the background queue carries the retrying steps. Run both (the default) or one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import redis
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.analytics import AnalyticsActivities
from activities.audit import AuditActivities
from activities.history import HistoryActivities
from activities.sepa import SepaActivities
from activities.submission import SubmissionActivities
from domain.settings import ConfigError, Settings, load_settings
from ledger.cache import ReadCache
from ledger.db import make_engine
from workflows.payment_entry import PaymentEntryWorkflow
from workflows.sales_invoice import SalesInvoiceWorkflow

log = logging.getLogger("duesflow.worker")

Role = Literal["all", "workflows", "background"]
WORKFLOWS = [PaymentEntryWorkflow, SalesInvoiceWorkflow]


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter
    )


@dataclass
class ActivityPools:
    """Separate thread pools: step 1 (local activities, the user is waiting) never queues behind background
    steps for a thread, whatever the backlog on the background queue."""

    step1: ThreadPoolExecutor
    background: ThreadPoolExecutor

    @classmethod
    def create(cls, settings: Settings) -> ActivityPools:
        return cls(
            ThreadPoolExecutor(settings.max_concurrent_activities, thread_name_prefix="duesflow-step1"),
            ThreadPoolExecutor(settings.max_concurrent_activities, thread_name_prefix="duesflow-background"),
        )

    def __enter__(self) -> ActivityPools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.step1.shutdown(wait=True)
        self.background.shutdown(wait=True)


def build_workers(
    client: Client,
    settings: Settings,
    engine: Engine,
    cache: ReadCache,
    pools: ActivityPools,
    role: Role = "all",
) -> list[Worker]:
    workers = []
    if role in ("all", "workflows"):
        workers.append(
            Worker(
                client,
                task_queue=settings.workflow_task_queue,
                workflows=WORKFLOWS,
                activities=[SubmissionActivities(engine).validate_and_record],
                activity_executor=pools.step1,
                max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
                max_concurrent_local_activities=settings.max_concurrent_activities,
            )
        )
    if role in ("all", "background"):
        workers.append(
            Worker(
                client,
                task_queue=settings.background_task_queue,
                activities=[
                    HistoryActivities(engine, cache).rebuild_member_history,
                    SepaActivities(engine).update_mandate,
                    AnalyticsActivities(engine).record_payment_facts,
                    AuditActivities(engine).record_step_failure,
                ],
                activity_executor=pools.background,
                max_concurrent_activities=settings.max_concurrent_activities,
            )
        )
    return workers


async def run(settings: Settings, role: Role = "all", stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when run as a program), then shut down cleanly."""
    stop = stop or asyncio.Event()
    # One connection per activity thread of the roles served, so no thread waits for a connection.
    threads = settings.max_concurrent_activities * (2 if role == "all" else 1)
    engine = make_engine(settings.database_url, pool_size=threads)
    cache = ReadCache(redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1))
    client = await connect(settings)
    with ActivityPools.create(settings) as pools:
        workers = build_workers(client, settings, engine, cache, pools, role)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        log.info("worker running (%s) on %s", role, ", ".join(w.task_queue for w in workers))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*(w.shutdown() for w in workers))
        for task in tasks:
            if task in done and task.exception():
                raise task.exception()  # type: ignore[misc]
    engine.dispose()
    log.info("worker stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="duesflow-worker",
        description="Run duesflow's Temporal workers. Configuration comes from DUESFLOW_* environment variables.",
    )
    parser.add_argument(
        "--role",
        choices=["all", "workflows", "background"],
        default="all",
        help="which task queues to serve (default: all). Stopping the background role pauses background steps "
        "without losing them; verdicts keep working.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, args.role, stop)

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
