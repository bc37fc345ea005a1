"""The generator's one source of randomness, and the register of unique values it has handed out.

Every step draws from the same ``Draws`` in a fixed order, which is what makes the output depend on the seed alone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable

from infra.demo.parameters import ROUND_AMOUNTS


class Draws:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._used: set[str] = set()  # membership checks only, never iterated (hash order is not deterministic)

    def unique(self, make: Callable[[], str]) -> str:
        """The first value ``make`` draws that was not handed out before (at most 1000 tries)."""
        for _ in range(1000):
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("could not draw a unique value")  # pragma: no cover

    def first_free(self, candidates: Iterable[str]) -> str:
        """The first of ``candidates`` (drawn from nothing random) that was not handed out before."""
        for value in candidates:
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("no free value among the candidates")  # pragma: no cover

    def hash(self) -> str:
        """A Frappe-style random document name of 10 hex digits."""
        return self.unique(lambda: f"{self.rng.getrandbits(40):010x}")

    def time_on(self, day: dt.date, first_hour: int, last_hour: int) -> dt.datetime:
        seconds = self.rng.randrange((last_hour - first_hour) * 3600)
        return dt.datetime.combine(day, dt.time(first_hour)) + dt.timedelta(
            seconds=seconds, microseconds=self.rng.randrange(1_000_000)
        )

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    def contribution_cents(self) -> int:
        if self.rng.random() < 0.6:
            return self.rng.choice(ROUND_AMOUNTS) * 100
        return self.rng.randint(50, 300) * 50  # €25.00 … €150.00 in steps of €0.50
