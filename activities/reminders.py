"""Step 5: the reminder flow's effects. Each call locks the invoice's dunning case, so two attempts of one step (a
retry overlapping a slow first attempt) serialise, and the second finds what the first did."""

from __future__ import annotations

import smtplib

from sqlalchemy import Connection, Engine, Row
from temporalio import activity

from activities.mailer import SmtpMailer
from activities.step import append_traced
from domain import audit_keys
from domain.balances import InvoiceStanding
from domain.contracts import is_email
from domain.errors import BusinessRuleViolation
from domain.reminder_mail import ReminderContent, message_id, render
from domain.reminders import (
    FINAL_LEVEL,
    OPEN_STATES,
    CaseState,
    Outcome,
    ReminderCall,
    ReminderOutcome,
    closing_reason,
    days_overdue,
)
from ledger import audit
from ledger import reminders as ledger


class ReminderActivities:
    def __init__(self, engine: Engine, mailer: SmtpMailer, association: str) -> None:
        self._engine = engine
        self._mailer = mailer
        self._association = association

    @activity.defn
    def open_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        """Record the case (state scheduled, level 1 due at ``next_due``); a re-run finds the levels already sent."""
        assert call.next_due is not None
        with self._engine.begin() as conn:
            case = ledger.open_case(
                conn, call.site, call.invoice, call.member, call.next_due, activity.info().workflow_id
            )
            return _ended(conn, call, case) or _outcome("open", case)

    @activity.defn
    def check_invoice(self, call: ReminderCall) -> ReminderOutcome:
        """Called when a payment, credit note or cancellation touched the invoice: close the case if it is done."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            return _ended(conn, call, case) or _outcome("open", case)

    @activity.defn
    def send_reminder(self, call: ReminderCall) -> ReminderOutcome:
        """Send level ``call.level`` once. The message row and the case update commit after the SMTP server has
        accepted the mail; a retry of this call finds the row and sends nothing."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            earlier = ledger.sent_message(conn, call.site, call.invoice, call.level)
            if earlier is not None:
                return _outcome("already_sent", case).model_copy(update={"message_id": earlier.message_id})
            standing = _standing(conn, call)
            ended = _ended(conn, call, case, standing)
            if ended:
                return ended
            person = ledger.contact(conn, call.site, call.member)
            content = ReminderContent(
                level=call.level,
                member_name=person.full_name if person else call.member,
                invoice=call.invoice,
                amount=standing.outstanding,
                due_date=standing.due_date,
                on_date=call.at.date(),
                payment_reference=call.invoice,
                association=self._association,
                # The final notice's deadline is when the flow hands the invoice off: one reminder interval on.
                deadline=call.next_due.date() if call.level == FINAL_LEVEL and call.next_due else None,
            )
            mail = render(content, call.language)
            mid = message_id(call.site, call.invoice, call.level, self._mailer.sender_domain)
            outcome = "no_address"
            # An address stored before imports checked it (a CR/LF, two addresses) can never be sent to: it counts as
            # none, recorded and audited, instead of failing every attempt of the flow.
            address = person.email if person is not None and person.email and is_email(person.email) else None
            if address is not None:
                try:
                    self._mailer.send(
                        self._mailer.compose(to=address, subject=mail.subject, body=mail.body, message_id=mid)
                    )
                    outcome = "sent"
                except smtplib.SMTPRecipientsRefused:
                    # A permanent refusal of this address: retrying will not help; the board sees it in the audit.
                    outcome = "refused"
            ledger.record_message(
                conn,
                site=call.site,
                invoice=call.invoice,
                level=call.level,
                member=call.member,
                recipient=address,
                language=call.language,
                subject=mail.subject,
                message_id=mid,
                outcome=outcome,
                amount=standing.outstanding,
                days_overdue=days_overdue(standing.due_date, call.at.date()),
                sent_at=call.at,
            )
            ledger.update_case(
                conn,
                call.site,
                call.invoice,
                "reminding",
                levels_sent=call.level,
                next_level=call.level + 1,
                next_due=call.next_due,
            )
            _audit(conn, call, f"reminder_{outcome}", "info" if outcome == "sent" else "warning", level=call.level)
            return ReminderOutcome(outcome=outcome, state="reminding", levels_sent=call.level, message_id=mid)

    @activity.defn
    def hand_off(self, call: ReminderCall) -> ReminderOutcome:
        """After the final notice went unanswered: flag the invoice for the board (suspension or collection)."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            ended = _ended(conn, call, case)
            if ended:
                return ended
            ledger.update_case(conn, call.site, call.invoice, "handed_off")
            _audit(conn, call, "handed_off", "warning", levels_sent=case.levels_sent)
            return ReminderOutcome(outcome="handed_off", state="handed_off", levels_sent=case.levels_sent)

    @activity.defn
    def stop_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        """An operator cancelled the flow: the case is closed as stopped, so no read shows it still reminding."""
        with self._engine.begin() as conn:
            case = ledger.lock_case(conn, call.site, call.invoice)
            if case is None:  # cancelled before its case was opened: nothing to close
                return ReminderOutcome(outcome="closed", state="stopped")
            if case.state not in OPEN_STATES:
                return _outcome("closed", case)
            _close(conn, call, "stopped")
            return ReminderOutcome(outcome="closed", state="stopped", levels_sent=case.levels_sent)


def _outcome(outcome: Outcome, case: Row) -> ReminderOutcome:
    return ReminderOutcome(outcome=outcome, state=case.state, levels_sent=case.levels_sent)


def _ended(
    conn: Connection, call: ReminderCall, case: Row, standing: InvoiceStanding | None = None
) -> ReminderOutcome | None:
    """The outcome "closed" when the case has ended, or ends now because the invoice is settled, credited or
    cancelled (closed and audited here); None while the invoice is still owed."""
    if case.state not in OPEN_STATES:
        return _outcome("closed", case)
    standing = standing or _standing(conn, call)
    reason = closing_reason(docstatus=standing.docstatus, outstanding=standing.outstanding, credited=standing.credited)
    if reason is None:
        return None
    _close(conn, call, reason)
    return ReminderOutcome(outcome="closed", state=reason, levels_sent=case.levels_sent)


def _close(conn: Connection, call: ReminderCall, state: CaseState) -> None:
    ledger.update_case(conn, call.site, call.invoice, state)
    append_traced(conn, ledger.reminders_ended_entry(call.site, call.actor, call.invoice, state))


def _locked_case(conn: Connection, call: ReminderCall) -> Row:
    case = ledger.lock_case(conn, call.site, call.invoice)
    if case is None:
        raise BusinessRuleViolation("unknown_dunning_case", f"no reminder case for invoice {call.invoice}")
    return case


def _standing(conn: Connection, call: ReminderCall) -> InvoiceStanding:
    standing = ledger.invoice_standing(conn, call.site, call.invoice)
    if standing is None:
        raise BusinessRuleViolation("unknown_invoice", f"invoice {call.invoice} is not in the ledger")
    return standing


def _audit(conn: Connection, call: ReminderCall, event: str, severity: str, **details: object) -> None:
    append_traced(
        conn,
        audit.AuditEntry(
            actor=call.actor,
            site=call.site,
            doctype="Sales Invoice",
            name=call.invoice,
            event=event,
            step=f"reminder:{call.level}" if call.level else "reminders",
            severity=severity,
            outcome=event,
            details={**details, "member": call.member},
            dedupe_key=audit_keys.document_event(call.site, "Sales Invoice", call.invoice, event, call.level),
        ),
    )
