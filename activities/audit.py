"""Audit of steps that ended in failure and of cancelled submissions (successes are audited inside the step's own
transaction)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.step import append_traced
from domain import audit_keys
from domain.messages import Cancellation, StepFailure
from ledger import audit


class AuditActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def record_step_failure(self, failure: StepFailure) -> None:
        with self._engine.begin() as conn:
            append_traced(
                conn,
                audit.AuditEntry(
                    actor=failure.actor,
                    site=failure.site,
                    doctype=failure.doctype,
                    name=failure.name,
                    event="step_failed",
                    step=failure.step,
                    severity="error",
                    outcome=failure.error_type,
                    details={"message": failure.message, "attempts": failure.attempts},
                    dedupe_key=audit_keys.step_failed(activity.info().workflow_id, failure.step),
                ),
            )

    @activity.defn
    def record_cancellation(self, cancellation: Cancellation) -> None:
        info = activity.info()
        with self._engine.begin() as conn:
            append_traced(
                conn,
                audit.AuditEntry(
                    actor=cancellation.actor,
                    site=cancellation.site,
                    doctype=cancellation.doctype,
                    name=cancellation.name,
                    event="cancelled",
                    severity="warning",
                    outcome="cancelled",
                    details={"steps_done": cancellation.steps_done, "steps_stopped": cancellation.steps_stopped},
                    dedupe_key=audit_keys.run_event(info.workflow_id, info.workflow_run_id, "cancelled"),
                ),
            )
