"""What every background step shares: the audit of its outcome and the payment a payment's step works on. (What a
failed attempt becomes in Temporal is ``activities/failures.py``'s, applied by the worker to every activity.)"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection, Row
from temporalio import activity

from domain import audit_keys
from domain.errors import BusinessRuleViolation
from domain.messages import StepInput
from ledger import audit
from ledger.documents import lock_payment


def append_traced(conn: Connection, entry: audit.AuditEntry) -> bool:
    """Append an audit record that names the workflow run and the attempt that wrote it."""
    info = activity.info()
    return audit.append(
        conn,
        dataclasses.replace(
            entry,
            details={**entry.details, "attempt": info.attempt},
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
        ),
    )


def audit_step_completed(conn: Connection, step: str, inp: StepInput, outcome: str, **details: Any) -> None:
    """Written in the step's own transaction: the effect and its audit record commit together or not at all."""
    append_traced(
        conn,
        audit.AuditEntry(
            actor=inp.actor,
            site=inp.site,
            doctype=inp.doctype,
            name=inp.name,
            event="step_completed",
            step=step,
            outcome=outcome,
            details=details,
            dedupe_key=audit_keys.step_completed(activity.info().workflow_id, step),
        ),
    )


def locked_payment(conn: Connection, site: str, name: str) -> Row:
    """The payment row, locked for the step's transaction (a submission's and a cancellation's steps for one payment
    serialise on it, so whichever runs last sees the final state). A payment the ledger does not hold breaks a
    business rule: step 1 recorded every payment whose steps run."""
    payment = lock_payment(conn, site, name)
    if payment is None:
        raise BusinessRuleViolation("unknown_payment", f"payment {name} is not in the ledger")
    return payment
