"""What step 1 answers the ERP: accepted, rejected with field-level errors, or pending."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VerdictStatus = Literal["accepted", "rejected", "pending"]


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str = Field(description="dotted path of the offending field, e.g. references.0.allocated_amount")
    code: str = Field(description="stable machine-readable code, e.g. unknown_customer")
    message: str = Field(description="sentence a treasurer can act on")


class Verdict(BaseModel):
    status: VerdictStatus
    errors: list[FieldError] = Field(default_factory=list)
    workflow_id: str | None = None
    # Members of the document's customer, so the workflow knows whose history to rebuild without I/O.
    members: list[str] = Field(default_factory=list)
    # False for documents that are accepted and audited but start no member pipeline (bug B9, docs/business-rules.md).
    runs_pipeline: bool = True
    # Invoices this payment settles whose reminder flow is running: the workflow tells those flows to end.
    ends_reminders: list[str] = Field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class DocumentRejected(ValueError):
    """A document broke the contract: nothing was written. Carries the field-level errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
