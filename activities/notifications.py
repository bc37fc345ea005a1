"""The notify step: store the user's notification, then tell live UIs on Redis pub/sub."""

from __future__ import annotations

import redis
from sqlalchemy import Engine
from temporalio import activity

from domain.notifications import Notice, channel
from ledger import notifications
from ledger.cache import database_number


class NotificationActivities:
    def __init__(self, engine: Engine, redis_client: redis.Redis, *, deployment: str) -> None:
        self._engine = engine
        self._redis = redis_client
        self._deployment = deployment
        self._db = database_number(redis_client)

    @activity.defn
    def notify(self, notice: Notice) -> bool:
        """Returns whether this attempt stored it. Published only by the attempt that stored it, after the
        commit: a retry neither stores nor publishes twice. A publish that fails is logged, not retried: the row
        is there, and a UI re-reads the list when it (re)connects."""
        info = activity.info()
        with self._engine.begin() as conn:
            stored = notifications.record(conn, notice, info.workflow_id, info.workflow_run_id)
        if stored is None:
            return False
        try:
            self._redis.publish(
                channel(self._deployment, self._db, notice.site, notice.user_key), stored.model_dump_json()
            )
        except redis.RedisError as exc:
            # activity.logger adds the workflow id, the activity type and the attempt; only the error's class.
            activity.logger.warning("notification %d stored, live publish failed: %s", stored.id, type(exc).__name__)
        return True
