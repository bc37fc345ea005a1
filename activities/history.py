"""The history step: rebuild one member's payment history from the ledger (which also moves the read cache on)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine
from temporalio import activity

from activities.step import audit_step_completed
from domain.errors import BusinessRuleViolation
from domain.history import project_history
from domain.messages import StepInput, StepResult
from ledger.history import (
    UnknownMember,
    bump_history_version,
    history_facts,
    lock_member,
    member_customer,
    store_history,
)


class HistoryActivities:
    def __init__(self, engine: Engine, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._engine = engine
        self._today = today

    @activity.defn
    def rebuild_member_history(self, inp: StepInput) -> StepResult:
        if not inp.member:
            raise BusinessRuleViolation("missing_member", "the history step needs a member")
        step = f"history:{inp.member}"
        with self._engine.begin() as conn:
            lock_member(conn, inp.site, inp.member)
            try:
                customer = member_customer(conn, inp.site, inp.member)
            except UnknownMember:
                raise BusinessRuleViolation("unknown_member", f"member {inp.member} is not known") from None
            invoices, unreconciled = history_facts(conn, inp.site, customer) if customer else ([], [])
            rows = project_history(invoices, unreconciled, today=self._today())
            written = store_history(conn, inp.site, inp.member, rows)
            # Cached reads of this member are keyed by this version: they see the rebuild once it has committed.
            bump_history_version(conn, inp.site, inp.member)
            audit_step_completed(conn, step, inp, f"{len(rows)} rows", member=inp.member, rows_written=written)
        return StepResult(step=step, attempt=activity.info().attempt, changed=True, detail=f"{len(rows)} rows")
