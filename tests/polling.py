"""Waiting for what settles asynchronously (visibility after a workflow closes, batch jobs, resets): poll with a
deadline, never sleep for luck. The caller still asserts on the value returned."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 20.0) -> T:
    """The first value ``ok`` accepts, or the last one read when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if ok(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)
