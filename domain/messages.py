"""The one input model per workflow/activity call, and what they return (all cross Temporal as JSON)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.contracts import PaymentEntry, SalesInvoice
from domain.reminders import ReminderPolicy
from domain.verdicts import Verdict

Document = Annotated[PaymentEntry | SalesInvoice, Field(discriminator="doctype")]


class SubmissionInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str
    user: str
    document: Document
    # Absent from inputs recorded before reminders existed: the default keeps them readable.
    reminder_policy: ReminderPolicy = ReminderPolicy()
    # Pseudonym of ``user`` (domain.users.user_key) for search attributes and notification channels.
    user_key: str = ""
    # Backfills and imports: every background step runs at BULK priority, behind live submissions.
    bulk: bool = False


class StepInput(BaseModel):
    """What a background step needs to find its work in the ledger: the document, and maybe one member."""

    model_config = ConfigDict(frozen=True)

    site: str
    actor: str
    doctype: str
    name: str
    member: str | None = None


class StepResult(BaseModel):
    step: str
    attempt: int
    changed: bool
    detail: str = ""


class StepFailure(BaseModel):
    site: str
    actor: str
    doctype: str
    name: str
    step: str
    error_type: str
    message: str
    attempts: int


StepStatus = Literal["pending", "running", "done", "failed", "skipped", "cancelled"]


class Cancellation(BaseModel):
    """What the workflow audits when it is cancelled: which steps had finished and which were stopped."""

    site: str
    actor: str
    doctype: str
    name: str
    steps_done: list[str]
    steps_stopped: list[str]


class StepProgress(BaseModel):
    name: str
    status: StepStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    detail: str = ""


class Progress(BaseModel):
    workflow_id: str
    verdict: Verdict | None = None
    steps: list[StepProgress] = Field(default_factory=list)


class PipelineResult(BaseModel):
    verdict: Verdict
    steps: list[StepProgress] = Field(default_factory=list)
