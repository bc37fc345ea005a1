"""Worker process for the engine floor: ``python -m bench.floor_worker`` (configured like ``python -m worker``).

Reads the same ``DUESFLOW_*`` settings as duesflow's worker (address, task queues, concurrency limits) and runs the
same two workers with the same limits and thread pools (``worker.queue_workers``), but for ``FloorWorkflow`` and
its no-op activities.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bench.floor import FloorWorkflow
from bench.floor_support import BACKGROUND_ACTIVITIES, floor_validate
from config.settings import ConfigError, Settings, load_settings
from worker import ActivityPools, Role, connect, queue_workers, serve

log = logging.getLogger("duesflow.bench.floor_worker")


async def run(settings: Settings, stop: asyncio.Event, role: Role = "all") -> None:
    client = await connect(settings)
    with ActivityPools.create(settings) as pools:
        workers = queue_workers(
            client,
            settings,
            pools,
            role,
            workflows=[FloorWorkflow],
            step1=[floor_validate],
            background=BACKGROUND_ACTIVITIES,
        )
        await serve(workers, stop, f"floor, {role}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_worker", description=__doc__)
    parser.add_argument("--role", choices=["all", "workflows", "background"], default="all")
    parser.add_argument("--single-process", action="store_true", help="accepted for symmetry with duesflow-worker")
    parser.add_argument("--nice", type=int, default=0, choices=range(20), help="lower CPU priority by N")
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)
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
        await run(settings, stop, args.role)

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
