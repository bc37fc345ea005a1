"""duesflow worker process: one engine, one Redis client, one Temporal client; a worker per role.

One task queue, two roles: the workflow role polls its workflow tasks and runs step 1 (a local activity), so the
ERP-facing verdict never waits behind background work; the background role polls its activity tasks, the retrying
steps. Run both (the default) or one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version as installed_version
from typing import Any, Literal

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.analytics import AnalyticsActivities
from activities.audit import AuditActivities
from activities.failures import ScrubFailures
from activities.history import HistoryActivities
from activities.mailer import SmtpMailer
from activities.notifications import NotificationActivities
from activities.reminders import ReminderActivities
from activities.sepa import SepaActivities
from activities.submission import SubmissionActivities
from activities.upkeep import UpkeepActivities
from config.settings import ConfigError, Settings, load_settings, unknown_variables
from deployment.connection import connect_temporal
from deployment.schedules import ensure_schedules
from domain.errors import ServiceUnavailable
from ledger.cache import ReadCache
from ledger.db import is_unavailable, make_engine, unavailable
from workflows.payment_entry import PaymentEntryWorkflow
from workflows.reminders import ReminderWorkflow
from workflows.retry_scaling import RetryScaling
from workflows.sales_invoice import SalesInvoiceWorkflow
from workflows.upkeep import UpkeepWorkflow

log = logging.getLogger("duesflow.worker")

Role = Literal["all", "workflows", "background"]
GRACEFUL_SHUTDOWN = timedelta(seconds=15)
WORKFLOWS = [PaymentEntryWorkflow, SalesInvoiceWorkflow, ReminderWorkflow, UpkeepWorkflow]


async def connect(settings: Settings) -> Client:
    """The worker's Temporal client; ``TemporalUnavailable`` names the address when the frontend does not answer."""
    return await connect_temporal(
        settings, runtime=metrics_runtime(settings.metrics_address) if settings.metrics_address else None
    )


def check_ledger(engine: Engine, database_url: str) -> None:
    """Fail at start, naming host:port, when the ledger does not answer (once running, a lost database only makes
    steps retry)."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise unavailable(exc, database_url) from None
        raise


def metrics_runtime(address: str) -> Runtime:
    """The SDK's own metrics (task latencies, poll results, activity failures, sticky cache) on a Prometheus
    endpoint: http://ADDRESS/metrics."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def background_metrics_address(address: str | None) -> str | None:
    """With ``--role all`` the background role runs in a child process: it serves its metrics on the next port."""
    if address is None:
        return None
    host, port = address.rsplit(":", 1)
    return f"{host}:{int(port) + 1}"


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
    mailer = SmtpMailer(settings)
    reminders = ReminderActivities(engine, mailer, settings.association_name)
    upkeep = UpkeepActivities(engine, mailer, settings.association_name, settings.reminder_language)
    return queue_workers(
        client,
        settings,
        pools,
        role,
        workflows=WORKFLOWS,
        step1=[SubmissionActivities(engine).validate_and_record],
        background=[
            HistoryActivities(engine).rebuild_member_history,
            SepaActivities(engine, settings.sepa_retry_offsets_days).update_mandate,
            AnalyticsActivities(engine).record_payment_facts,
            AuditActivities(engine).record_step_failure,
            AuditActivities(engine).record_cancellation,
            NotificationActivities(engine, cache.client, deployment=settings.deployment).notify,
            reminders.open_dunning_case,
            reminders.check_invoice,
            reminders.send_reminder,
            reminders.hand_off,
            reminders.stop_dunning_case,
            upkeep.run_mandate_lifecycle,
            upkeep.roll_up_analytics,
            upkeep.apply_audit_retention,
        ],
    )


def queue_workers(
    client: Client,
    settings: Settings,
    pools: ActivityPools,
    role: Role,
    *,
    workflows: Sequence[type],
    step1: Sequence[Callable[..., Any]],
    background: Sequence[Callable[..., Any]],
) -> list[Worker]:
    """The two roles on the task queue with their limits (the benchmark's engine floor reuses it).

    Both roles run every activity through ``ScrubFailures`` (activities/failures.py): step 1 as a local activity in
    the workflow role, the background steps in the background role."""
    workers = []
    scrubbing = ScrubFailures()
    if role in ("all", "workflows"):
        scaling = [RetryScaling(settings.retry_interval_scale)] if settings.retry_interval_scale != 1.0 else []
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue,
                workflows=workflows,
                activities=step1,
                # Step 1 only, as a local activity: background steps are the background role's.
                no_remote_activities=True,
                interceptors=[scrubbing, *scaling],
                activity_executor=pools.step1,
                max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
                max_concurrent_local_activities=settings.max_concurrent_activities,
            )
        )
    if role in ("all", "background"):
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue,
                activities=background,
                interceptors=[scrubbing],
                activity_executor=pools.background,
                max_concurrent_activities=settings.max_concurrent_activities,
                # A stop lets running steps finish (a reminder between the SMTP server's acceptance and its commit
                # would otherwise be interrupted, and sent again by the retry).
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
        )
    return workers


async def run(
    settings: Settings,
    role: Role = "all",
    stop: asyncio.Event | None = None,
    *,
    on_connected: Callable[[], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when run as a program), then shut down cleanly.

    Raises ``LedgerUnavailable`` / ``TemporalUnavailable`` at start when the ledger or Temporal does not answer;
    ``on_connected`` is called once both did."""
    stop = stop or asyncio.Event()
    # One connection per activity thread of the roles served, so no thread waits for a connection.
    threads = settings.max_concurrent_activities * (2 if role == "all" else 1)
    engine = make_engine(settings.database_url, pool_size=threads)
    try:
        await asyncio.to_thread(check_ledger, engine, settings.database_url)
        cache = ReadCache(redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1))
        client = await connect(settings)
        if on_connected is not None:
            on_connected()
        if role in ("all", "workflows") and settings.upkeep_schedules:
            log.info("upkeep schedules: %s", await ensure_schedules(client, settings))
        with ActivityPools.create(settings) as pools:
            await serve(build_workers(client, settings, engine, cache, pools, role), stop, role)
    finally:
        engine.dispose()


async def serve(workers: list[Worker], stop: asyncio.Event, label: str) -> None:
    """Run the workers until ``stop`` is set or one of them fails; shut all of them down either way."""
    tasks = [asyncio.create_task(w.run()) for w in workers]
    log.info("worker running (%s) on task queue %s", label, ", ".join(sorted({w.task_queue for w in workers})))
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    await asyncio.gather(*(w.shutdown() for w in workers))
    for task in tasks:
        if task in done and task.exception():
            raise task.exception()  # type: ignore[misc]
    log.info("worker stopped")


BACKGROUND_NICENESS = 10
# Marks the background child of ``--role all`` and names its parent's pid: it shares its parent's environment and
# leaves the warnings about it to the parent, and it stops when the parent is gone (a kill -9 of the parent must not
# leave a background worker polling on its own, outside any supervisor).
CHILD_FLAG = "--background-child"


def spawn_background(argv_python: str = sys.executable, metrics_address: str | None = None) -> subprocess.Popen[bytes]:
    """The background role in its own process, at a lower CPU priority.

    Sync activities hold the GIL while they compute (a long history's projection); in the workflow process they
    would starve the event loop that answers verdicts. A separate, niced process keeps step 1 fast while the
    background catches up.
    """
    env = dict(os.environ)
    if (child_metrics := background_metrics_address(metrics_address)) is not None:
        env["DUESFLOW_METRICS_ADDRESS"] = child_metrics
    return subprocess.Popen(
        [
            argv_python,
            "-m",
            "worker",
            "--role",
            "background",
            "--nice",
            str(BACKGROUND_NICENESS),
            CHILD_FLAG,
            str(os.getpid()),
        ],
        env=env,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="duesflow-worker",
        description="Run duesflow's Temporal workers. Configuration comes from DUESFLOW_* environment variables.",
    )
    parser.add_argument(
        "--role",
        choices=["all", "workflows", "background"],
        default="all",
        help="which role to serve (default: all: the workflow role in this process and the background "
        "role in a child process at lower CPU priority). Stopping the background role pauses background steps "
        "without losing them; verdicts keep working.",
    )
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="with --role all, serve both roles in this one process (simpler to debug, slower verdicts under load)",
    )
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by N (0-19)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version('duesflow')}")
    parser.add_argument(CHILD_FLAG, type=int, metavar="PARENT_PID", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 <= args.nice <= 19:
        parser.error(f"--nice must be between 0 and 19, got {args.nice}")
    if args.nice:
        os.nice(args.nice)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for line in [] if args.background_child is not None else unknown_variables(os.environ):
        log.warning(line)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    split = args.role == "all" and not args.single_process
    child: subprocess.Popen[bytes] | None = None

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher: asyncio.Task[None] | None = None
        if args.background_child is not None:
            watcher = loop.create_task(_stop_when_orphaned(args.background_child, stop))

        def start_background() -> None:
            # Only once this process reached the ledger and Temporal: an unreachable service is reported once.
            nonlocal child, watcher
            child = spawn_background(metrics_address=settings.metrics_address)
            # A background process that dies takes the whole worker down, so a supervisor restarts both.
            watcher = loop.create_task(_watch(child, stop))

        await run(settings, "workflows" if split else args.role, stop, on_connected=start_background if split else None)
        if watcher is not None:
            watcher.cancel()

    try:
        asyncio.run(_main())
    except ServiceUnavailable as exc:  # the ledger or Temporal did not answer at start: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # found while connecting: TEMPORAL_* variables, a profile, the encryption keys
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
    # Killed by our own SIGTERM before it had installed its handler (still starting) is a clean stop too.
    if child is not None and child.wait() not in (0, -signal.SIGTERM):
        log.error("background worker exited with %s", child.returncode)
        return 1
    return 0


async def _watch(child: subprocess.Popen[bytes], stop: asyncio.Event) -> None:
    while child.poll() is None and not stop.is_set():
        await asyncio.sleep(0.5)
    stop.set()


async def _stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    """The background child's half of the pair: when its parent dies (even by SIGKILL, which runs no handler), the
    child is re-parented and stops gracefully, so a supervisor restarting the worker never finds a stray one."""
    while os.getppid() == parent and not stop.is_set():
        await asyncio.sleep(0.5)
    if not stop.is_set():
        log.warning("the worker process %d that started this background worker is gone: stopping", parent)
        stop.set()


def cli() -> None:
    """Process entry point. After a clean shutdown it leaves with os._exit: the SDK's native threads can still be
    alive during interpreter finalization and abort it ("Fatal Python error: PyGILState_Release", a known
    temporalio issue), which would turn a clean stop into exit code -6."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    cli()
