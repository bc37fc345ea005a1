"""The stack a benchmark run owns: its database, a Temporal dev server (or a running frontend), both engines' worker
processes, the connections to PostgreSQL and Redis, and duesflow's client.

``Stack.open`` brings them up in that order; ``Stack.close`` takes down whatever came up, whatever happened in
between.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from temporalio.client import Client

from bench.cpu import CpuMeter
from bench.database import BenchDatabase
from bench.dev_server import start_server
from bench.workers import EngineWorkers
from config.settings import Settings
from deployment.converter import data_converter
from deployment.encryption import KeyRing, format_keys
from infra.temporal_server import DevServer, ensure_search_attributes
from ledger.cache import ReadCache
from ledger.db import make_engine
from starter.client import DuesflowClient
from workflows import search_attributes as sa


@dataclass
class StackOptions:
    database_url: str | None  # use this database instead of creating one
    admin_database_url: str
    keep_database: bool
    temporal_address: str | None  # use this frontend instead of starting a dev server
    namespace: str
    temporal_db: str  # own dev server: "memory" or "file"
    split_roles: bool
    redis_url: str
    verdict_timeout: float
    retry_interval_scale: float
    db_pool_size: int


class Stack:
    temporal: Client
    address: str
    settings: Settings
    floor_settings: Settings
    cache: ReadCache
    duesflow: DuesflowClient
    meter: CpuMeter

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="duesflow-bench-"))
        self.run_id = uuid.uuid4().hex[:8]
        self.site = f"bench-{self.run_id}.duesflow.local"  # the association's site; floor runs get sites of their own
        # Payloads are encrypted as in production, under a key of the run's own (both engines, client and workers).
        self.keyring = KeyRing({f"bench-{self.run_id}": os.urandom(32)}, f"bench-{self.run_id}")
        self.database = BenchDatabase(
            options.admin_database_url,
            given_url=options.database_url,
            run_id=self.run_id,
            keep=options.keep_database,
        )
        self.server: DevServer | None = None
        self.workers: EngineWorkers | None = None
        self._engine: Engine | None = None
        self.redis: redis.Redis | None = None

    async def open(self) -> None:
        database_url = await self.database.open()
        print(f"database: {make_url(database_url).render_as_string(hide_password=True)}", flush=True)
        await self._open_temporal()
        self.settings, self.floor_settings = self._settings(database_url)
        workers = await self._start_workers()
        self._engine = make_engine(database_url, pool_size=self.options.db_pool_size)
        self.redis = redis.Redis.from_url(self.options.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.cache = ReadCache(self.redis)
        self.duesflow = DuesflowClient(self.temporal, self.settings, self._engine, self.cache)
        self.meter = CpuMeter.for_stack(self.server, workers.by_engine)

    async def _open_temporal(self) -> None:
        o = self.options
        if o.temporal_address:
            self.address = o.temporal_address
        else:
            self.server = await asyncio.to_thread(
                start_server, self.workdir, persistent=o.temporal_db == "file", search_attributes=sa.REGISTRATION
            )
            self.address = self.server.address
        self.temporal = await Client.connect(
            self.address, namespace=o.namespace, data_converter=data_converter(self.keyring)
        )
        if o.temporal_address:
            await ensure_search_attributes(self.temporal, o.namespace, sa.REGISTRATION)
        print(
            f"temporal: {self.address} ({'own dev server, ' + o.temporal_db if self.server else 'external'})",
            flush=True,
        )

    def _settings(self, database_url: str) -> tuple[Settings, Settings]:
        """duesflow's and the floor's: the same, on task queues of their own."""
        o = self.options
        common: dict[str, Any] = {
            "temporal_address": self.address,
            "temporal_namespace": o.namespace,
            "database_url": database_url,
            "redis_url": o.redis_url,
            "verdict_timeout_seconds": o.verdict_timeout,
            "retry_interval_scale": o.retry_interval_scale,
            # A benchmark run must not be joined by a daily upkeep job.
            "upkeep_schedules": False,
            "encryption_keys": SecretStr(format_keys(self.keyring.keys)),
            "encryption_key_file": None,
            "encryption_primary_key": self.keyring.primary,
        }
        duesflow = Settings(**common, task_queue=f"bench-{self.run_id}")
        floor = Settings(**common, task_queue=f"bench-{self.run_id}-floor")
        return duesflow, floor

    async def _start_workers(self) -> EngineWorkers:
        """Workers in their own processes, with the same settings (concurrency limits, thread pool, DB pool)."""
        settings = {"duesflow": self.settings, "floor": self.floor_settings}
        self.workers = EngineWorkers(settings, self.workdir, split_roles=self.options.split_roles)
        await self.workers.start()
        print(
            f"workers: duesflow (python -m worker) and floor (python -m bench.floor_worker), roles "
            f"{'+'.join(self.workers.roles)}, "
            f"max_concurrent_workflow_tasks={self.settings.max_concurrent_workflow_tasks}, "
            f"max_concurrent_activities={self.settings.max_concurrent_activities}",
            flush=True,
        )
        return self.workers

    @property
    def engine(self) -> Engine:
        """The run's SQLAlchemy engine on its database (once ``open`` got that far)."""
        assert self._engine is not None, "the stack is not open"
        return self._engine

    def describe_temporal(self) -> str:
        return "own dev server (" + self.options.temporal_db + ")" if self.server else f"external {self.address}"

    def print_worker_logs(self) -> None:
        if self.workers is not None:
            self.workers.print_log_tails()

    async def close(self, *, failed: bool) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self.redis is not None:
            try:
                keys = list(self.redis.scan_iter(f"duesflow:{self.site}:*"))
                if keys:
                    self.redis.delete(*keys)
            except redis.RedisError:
                pass
        if self._engine is not None:
            self._engine.dispose()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
        await self.database.close()
        if failed:
            print(f"logs kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
