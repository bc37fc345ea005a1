"""How a document's workflow is started: which workflow, its input, and the start options (id, conflict and reuse
policies, search attributes, summary, priority). The client's ``submit`` uses it, and so do the orchestration tests
and the benchmark's floor, so all start a submission the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from config.settings import Settings, reminder_policy, user_key_of
from deployment.converter import readable_summary
from domain.contracts import PaymentEntry, SalesInvoice
from domain.ids import workflow_id
from domain.messages import SubmissionInput
from domain.parsing import SUBMITTABLE
from domain.priorities import Level
from workflows import search_attributes as sa
from workflows.payment_entry import PaymentEntryWorkflow
from workflows.sales_invoice import SalesInvoiceWorkflow

# The workflow class that runs each doctype: the one named in domain/parsing.py's SUBMITTABLE (a workflow's Temporal
# type name is its class name).
_WORKFLOW_CLASSES = {cls.__name__: cls for cls in (PaymentEntryWorkflow, SalesInvoiceWorkflow)}
WORKFLOW_FOR = {doctype: _WORKFLOW_CLASSES[submittable.workflow] for doctype, submittable in SUBMITTABLE.items()}

# Every submission of a document asks for its verdict under this one update id. The server treats updates with the
# same id on a workflow as one: identical submissions racing each other share the first one's update (the same
# verdict, by construction) instead of each adding an update (a workflow takes at most 10 in flight; the rest were
# refused with RESOURCE_EXHAUSTED, which the SDK then backed off for a second or more).
VERDICT_UPDATE_ID = "verdict"


def summary_of(doc: PaymentEntry | SalesInvoice) -> str:
    """Web UI summary: doctype, name, amount and mode. Never the party (a person's name)."""
    prefix = "Cancel " if doc.docstatus == 2 else ""
    if isinstance(doc, PaymentEntry):
        mode = f" · {doc.mode_of_payment}" if doc.mode_of_payment else ""
        return f"{prefix}Payment Entry {doc.name} · €{doc.paid_amount}{mode}"
    kind = "Credit Note" if doc.is_return else "Sales Invoice"
    return f"{prefix}{kind} {doc.name} · €{doc.grand_total}" + (f" · due {doc.due_date}" if doc.due_date else "")


@dataclass(frozen=True)
class SubmissionStart:
    workflow: Any  # PaymentEntryWorkflow or SalesInvoiceWorkflow
    input: SubmissionInput
    options: dict[str, Any]  # keyword arguments of a workflow start

    @property
    def workflow_id(self) -> str:
        return str(self.options["id"])


def submission_start(
    settings: Settings, document: PaymentEntry | SalesInvoice, *, site: str, user: str, bulk: bool = False
) -> SubmissionStart:
    """A cancellation (docstatus 2) is its own workflow (docs/decisions/0012-cancellation-is-its-own-workflow.md)."""
    key = user_key_of(settings, user)
    wid = workflow_id(site, document.doctype, document.name, cancellation=document.docstatus == 2)
    inp = SubmissionInput(
        site=site,
        user=user,
        document=document,
        reminder_policy=reminder_policy(settings),
        user_key=key,
        bulk=bulk,
    )
    options: dict[str, Any] = {
        "id": wid,
        "task_queue": settings.task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        # A finished document stays finished: re-submitting must not run its effects again.
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(sa.SITE, site),
                SearchAttributePair(sa.DOCTYPE, document.doctype),
                SearchAttributePair(sa.DOCUMENT, document.name),
                SearchAttributePair(sa.STATE, "submitted"),
                SearchAttributePair(sa.USER, key),
            ]
        ),
        # Readable in the Web UI without a key (no personal data); every other payload is encrypted.
        "static_summary": readable_summary(summary_of(document)),
    }
    if bulk:
        # Behind live submissions on the workflow side too: step 1 of a treasurer's submission never waits for a
        # backfill's.
        options["priority"] = Priority(priority_key=int(Level.BULK))
    return SubmissionStart(WORKFLOW_FOR[document.doctype], inp, options)
