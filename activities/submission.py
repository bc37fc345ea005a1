"""Step 1: validate, persist and audit in one transaction; the verdict goes straight back to the ERP.

Runs as a local activity in the workflow's first task. It is idempotent: a retry finds the verdict it already
recorded (the audit record's dedupe key is the workflow id) and returns it unchanged.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Connection, Engine, Row
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.step import append_traced
from domain import audit_keys
from domain.balances import outstanding_of
from domain.contracts import PaymentEntry, SalesInvoice
from domain.ids import workflow_id
from domain.messages import SubmissionInput
from domain.payments import is_member_payment
from domain.reminders import reminders_ended_by
from domain.validation import (
    InvoiceBalance,
    InvoiceContext,
    PaymentContext,
    invoices_to_wait_for,
    validate_payment_entry,
    validate_sales_invoice,
)
from domain.verdicts import FieldError, Verdict
from ledger import audit
from ledger.db import advisory_xact_lock
from ledger.documents import (
    customer_members,
    invoice_exists,
    mandates_of,
    mark_cancelled,
    referenced_invoices,
    save_invoice,
    save_payment,
    stored_document,
)
from ledger.reminders import close_settled, reminders_ended_entry


class SubmissionActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def validate_and_record(self, inp: SubmissionInput) -> Verdict:
        info = activity.info()
        key = audit_keys.verdict(info.workflow_id)
        with self._engine.begin() as conn:
            # A retry can start while a slow first attempt still runs: the second waits here and then finds the
            # first one's verdict, so the workflow never sees a verdict other than the recorded one.
            advisory_xact_lock(conn, key)
            earlier = audit.find(conn, key)
            if earlier is not None:
                return Verdict.model_validate(earlier["details"]["verdict"])
            doc = inp.document
            cancellation = doc.docstatus == 2
            if cancellation:
                verdict = _cancellation_verdict(conn, inp.site, doc)
            elif isinstance(doc, PaymentEntry):
                waited = dt.datetime.now(dt.UTC) - info.scheduled_time
                verdict = _payment_verdict(conn, inp.site, doc, waited)
            else:
                verdict = _invoice_verdict(conn, inp.site, doc)
            verdict = verdict.model_copy(update={"workflow_id": info.workflow_id})
            for invoice in verdict.ends_reminders:
                append_traced(conn, reminders_ended_entry(inp.site, inp.user, invoice, "settled"))
            if verdict.accepted and cancellation:
                mark_cancelled(conn, inp.site, doc.doctype, doc.name)
            elif verdict.accepted and isinstance(doc, PaymentEntry):
                save_payment(conn, inp.site, doc)
            elif verdict.accepted:
                save_invoice(conn, inp.site, doc)
            amount = doc.paid_amount if isinstance(doc, PaymentEntry) else doc.grand_total
            audit.append(
                conn,
                audit.AuditEntry(
                    actor=inp.user,
                    site=inp.site,
                    doctype=doc.doctype,
                    name=doc.name,
                    event=("cancelled" if cancellation else "submitted") if verdict.accepted else "rejected",
                    step="validate",
                    severity="info" if verdict.accepted else "warning",
                    amount=amount,
                    mode_of_payment=doc.mode_of_payment if isinstance(doc, PaymentEntry) else None,
                    outcome=verdict.status,
                    details={"verdict": verdict.model_dump(mode="json")},
                    workflow_id=info.workflow_id,
                    run_id=info.workflow_run_id,
                    dedupe_key=key,
                ),
            )
        return verdict


def _payment_verdict(conn: Connection, site: str, doc: PaymentEntry, waited: dt.timedelta) -> Verdict:
    if not doc.runs_member_pipeline:
        # Accepted and audited, but no member pipeline (bug B9 rejected internal transfers; docs/business-rules.md §2).
        return Verdict(status="accepted", runs_pipeline=False)
    known_members = customer_members(conn, site, doc.party)
    known, members = known_members is not None, known_members or ()
    names = [r.reference_name for r in doc.references if r.reference_doctype == "Sales Invoice" and r.reference_name]
    referenced = referenced_invoices(conn, site, names, exclude_payment=doc.name, lock=doc.is_member_payment)
    ctx = PaymentContext(
        customer_known=known,
        customer_members=members,
        invoices={r.name: _balance(r) for r in referenced},
        mandates=mandates_of(conn, site, members) if doc.is_sepa else (),
    )
    verdict = _verdict(validate_payment_entry(doc, ctx), members)
    if verdict.errors and all(e.code == "unknown_invoice" for e in verdict.errors):
        unknown = [n for n in names if n not in ctx.invoices]
        # The invoice's step 1 recorded its verdict under this key: a rejected invoice will never come.
        recorded = {n: audit.find(conn, audit_keys.verdict(workflow_id(site, "Sales Invoice", n))) for n in unknown}
        rejected = {n for n, r in recorded.items() if r is not None and r["details"]["verdict"]["status"] == "rejected"}
        if waiting := invoices_to_wait_for(unknown, rejected, waited):
            # Duesflow is behind, the payment is not wrong: no verdict yet (nothing is written, the transaction
            # rolls back); step 1 tries again on its retry policy, and the ERP's verdict stays pending meanwhile.
            raise ApplicationError(
                f"waiting for invoice {', '.join(waiting)} to reach duesflow", type="WaitingForInvoice"
            )
    if verdict.accepted and doc.is_member_payment:
        allocated: dict[str, Decimal] = {}
        for ref in doc.references:
            if ref.reference_doctype == "Sales Invoice" and ref.reference_name:
                allocated[ref.reference_name] = allocated.get(ref.reference_name, Decimal(0)) + ref.allocated_amount
        verdict.ends_reminders = close_settled(conn, site, reminders_ended_by(allocated, ctx.invoices))
    return verdict


def _balance(invoice: Row) -> InvoiceBalance:
    """A referenced invoice for validation: what it owes is computed from the ledger's sums (bug B7)."""
    return InvoiceBalance(
        name=invoice.name,
        customer=invoice.customer,
        docstatus=invoice.docstatus,
        outstanding=outstanding_of(invoice.grand_total, invoice.paid, invoice.credited),
        member=invoice.member,
        reminding=invoice.reminding,
    )


def _cancellation_verdict(conn: Connection, site: str, doc: PaymentEntry | SalesInvoice) -> Verdict:
    """The ERP cancelled a document: it must be one the ledger holds; its effects are then undone by the same
    background steps, which read the document's state from the ledger."""
    stored = stored_document(conn, site, doc.doctype, doc.name)
    if stored is None:
        return _verdict(
            [FieldError(field="name", code="unknown_document", message=f"{doc.name} is not in the ledger")], ()
        )
    if doc.doctype == "Payment Entry" and not is_member_payment(stored.payment_type, stored.party_type):
        return Verdict(status="accepted", runs_pipeline=False)
    members = customer_members(conn, site, stored.customer) or ()
    if stored.member and stored.member not in members:
        members = (*members, stored.member)
    return _verdict([], members)


def _invoice_verdict(conn: Connection, site: str, doc: SalesInvoice) -> Verdict:
    known_members = customer_members(conn, site, doc.customer)
    known = known_members is not None
    ctx = InvoiceContext(
        customer_known=known,
        return_against_known=not doc.return_against or invoice_exists(conn, site, doc.return_against),
    )
    members = known_members or ()
    if doc.member and doc.member not in members:
        # An invoice may name a member outside the customer's list; its history must still be rebuilt.
        members = (*members, doc.member)
    return _verdict(validate_sales_invoice(doc, ctx), members)


def _verdict(errors: list[FieldError], members: tuple[str, ...]) -> Verdict:
    if errors:
        return Verdict(status="rejected", errors=errors)
    return Verdict(status="accepted", members=list(members))
