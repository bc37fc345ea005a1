"""Redis read cache for member history and summary (docs/business-rules.md §3).

Reads fall back to the database when Redis is unreachable, never fail. Entries are never invalidated: their keys
carry the member's history version, which every rebuild bumps in its own transaction, so from the rebuild's commit
on readers ask for new keys and old entries just expire. Deleting entries instead can fail (Redis away at that
moment) and served the state from before the rebuild until the TTL; deleting them before the commit cached the old
rows again (predecessor bug B16, docs/business-rules.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import redis
from pydantic import TypeAdapter

log = logging.getLogger(__name__)

T = TypeVar("T")

# docs/business-rules.md §3: financial data 180 s (history and summary are financial); member data 900 s and
# reports 1800 s apply to reads that are not cached yet.
TTL_FINANCIAL = 180


def history_key(site: str, member: str, version: int) -> str:
    return f"duesflow:{site}:history:{member}:v{version}"


def summary_key(site: str, member: str, version: int) -> str:
    return f"duesflow:{site}:summary:{member}:v{version}"


def database_number(client: redis.Redis) -> int:
    """The database number a Redis client was opened on."""
    return int(client.connection_pool.connection_kwargs.get("db", 0))


class ReadCache:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @property
    def client(self) -> redis.Redis:
        """The Redis connection, for the notify step's pub/sub (one connection pool per process)."""
        return self._redis

    @property
    def database(self) -> int:
        """The database number this cache uses; pub/sub channel names carry it, since pub/sub itself ignores it."""
        return database_number(self._redis)

    def get_or_load(self, key: str, ttl: int, adapter: TypeAdapter[T], load: Callable[[], T]) -> T:
        try:
            cached = self._redis.get(key)
        except redis.RedisError as exc:
            log.warning("cache unavailable, reading the ledger: %s", type(exc).__name__)
            return load()
        if cached is not None:
            return adapter.validate_json(cached)
        value = load()
        try:
            self._redis.set(key, adapter.dump_json(value), ex=ttl)
        except redis.RedisError as exc:
            log.warning("cache unavailable, not storing: %s", type(exc).__name__)
        return value
