"""Real embedded PostgreSQL/Redis: start them in temp dirs and round-trip data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from infra.embedded import start_postgres, start_redis


def _query(url: str, *statements: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows: list[tuple] = []
            for statement in statements:
                result = conn.execute(text(statement))
                rows = [tuple(r) for r in result] if result.returns_rows else rows
            return rows
    finally:
        engine.dispose()


def test_postgres_round_trip_and_data_survives_restart(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    pg = start_postgres(pgdata)
    try:
        assert pg.url.startswith("postgresql+psycopg://")
        assert _query(pg.url, "select 1") == [(1,)]
        _query(pg.url, "create table dues (member text, cents int)", "insert into dues values ('ada', 1250)")
    finally:
        pg.stop()
    pg.stop()  # idempotent
    assert not (pgdata / "postmaster.pid").exists(), "postgres should really be stopped"

    pg = start_postgres(pgdata)
    try:
        assert _query(pg.url, "select member, cents from dues") == [("ada", 1250)]
    finally:
        pg.stop()


def test_redis_reachable_over_tcp_from_another_process(tmp_path: Path) -> None:
    service = start_redis(tmp_path / "redis")
    try:
        assert service.url.startswith("redis://127.0.0.1:")
        assert not service.url.startswith("redis://127.0.0.1:6379/")
        script = "import redis, sys; redis.Redis.from_url(sys.argv[1]).set('dues', 'paid')"
        child = subprocess.run(
            [sys.executable, "-c", script, service.url],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert child.returncode == 0, child.stderr
        client = redis.Redis.from_url(service.url)
        assert client.get("dues") == b"paid"
        assert client.config_get("save") == {"save": ""}
        client.close()
    finally:
        service.stop()
    service.stop()  # idempotent

    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(service.url, socket_connect_timeout=1).ping()


def test_redis_starts_from_a_relative_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's default data dir is relative (.duesflow): redis-server changes into its --dir before it opens
    its log file, so a relative path must not reach it."""
    monkeypatch.chdir(tmp_path)
    service = start_redis(Path(".duesflow") / "redis")
    try:
        assert redis.Redis.from_url(service.url).ping()
        assert (tmp_path / ".duesflow" / "redis" / "redis.log").exists()
    finally:
        service.stop()
