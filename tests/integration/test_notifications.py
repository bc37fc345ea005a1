"""The notify step on real PostgreSQL and Redis (run in Temporal's ActivityEnvironment, no server): a retried or
replayed attempt neither stores nor publishes a second time; a Redis outage loses nothing."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import redis
from sqlalchemy import Engine, func, select
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from domain.notifications import Notice, channel
from ledger.cache import database_number
from ledger.schema import notifications

USER = "penningmeester@example.nl"


def notice(site: str) -> Notice:
    return Notice(
        site=site,
        user=USER,
        user_key="u-test",
        doctype="Payment Entry",
        name="PAY-1",
        kind="completed",
        message="Payment Entry PAY-1: all 2 steps done",
    )


def stored(engine: Engine, site: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(notifications.c.site == site)).scalar_one()


def received(pubsub: redis.client.PubSub, within: float = 1.0) -> list[dict[str, Any]]:
    """Every message that arrives within ``within`` seconds (get_message returns None for the skipped
    subscription confirmation, so one call is not enough)."""
    deadline = time.monotonic() + within
    messages = []
    while (left := deadline - time.monotonic()) > 0:
        if (message := pubsub.get_message(timeout=left)) is not None:
            messages.append(message)
    return messages


def test_a_retried_notify_stores_and_publishes_once(engine: Engine, redis_client: redis.Redis, site: str) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel("default", database_number(redis_client), site, "u-test"))
    try:
        step = NotificationActivities(engine, redis_client, deployment="default")
        env = ActivityEnvironment()
        assert env.run(step.notify, notice(site)) is True
        assert env.run(step.notify, notice(site)) is False  # same workflow run: the retry finds the row
        messages = received(pubsub)
        assert len(messages) == 1 and b"PAY-1" in messages[0]["data"]
    finally:
        pubsub.close()
    assert stored(engine, site) == 1


def test_redis_down_still_stores_the_notification(engine: Engine, site: str) -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert (
        ActivityEnvironment().run(
            NotificationActivities(engine, unreachable, deployment="default").notify, notice(site)
        )
        is True
    )
    assert stored(engine, site) == 1


def test_deployments_sharing_a_redis_do_not_hear_each_other(
    engine: Engine, redis_client: redis.Redis, site: str
) -> None:
    """Pub/sub ignores the database number: a deployment on another database, or another deployment name on the
    same one, publishing for the same site and user must not reach this deployment's subscribers."""
    other_db = redis.Redis(
        connection_pool=redis.ConnectionPool(
            **{**redis_client.connection_pool.connection_kwargs, "db": database_number(redis_client) + 1}
        )
    )
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel("prod", database_number(redis_client), site, "u-test"))
    try:
        env = ActivityEnvironment()
        for client, deployment, name in [
            (other_db, "prod", "PAY-OTHER-DB"),
            (redis_client, "staging", "PAY-STAGING"),
            (redis_client, "prod", "PAY-PROD"),
        ]:
            mine = notice(site).model_copy(update={"name": name})
            env.info = dataclasses.replace(env.info, workflow_run_id=name)  # one stored row per run
            assert env.run(NotificationActivities(engine, client, deployment=deployment).notify, mine) is True
        messages = received(pubsub)
        assert [b"PAY-PROD" in m["data"] for m in messages] == [True]
    finally:
        pubsub.close()
        other_db.close()
