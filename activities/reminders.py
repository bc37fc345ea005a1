"""Step 5: the reminder flow's effects. Each call locks the invoice's dunning case, so two attempts of one step (a
retry overlapping a slow first attempt) serialise, and the second finds what the first did."""

from __future__ import annotations

import smtplib

from sqlalchemy import Connection, Engine, Row
from temporalio import activity

from activities.mailer import SmtpMailer
from activities.step import failures_as_application_errors
from domain.errors import BusinessRuleViolation
from domain.reminder_mail import ReminderContent, message_id, render
from domain.reminders import ClosingReason, ReminderCall, ReminderOutcome, closing_reason, days_overdue
from ledger import audit
from ledger import reminders as ledger
from ledger.reminders import InvoiceStanding


class ReminderActivities:
    def __init__(self, engine: Engine, mailer: SmtpMailer, association: str) -> None:
        self._engine = engine
        self._mailer = mailer
        self._association = association

    @activity.defn
    @failures_as_application_errors
    def open_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        """Record the case (state scheduled, level 1 due at ``next_due``); a re-run finds the levels already sent."""
        assert call.next_due is not None
        with self._engine.begin() as conn:
            case = ledger.open_case(
                conn, call.site, call.invoice, call.member, call.next_due, activity.info().workflow_id
            )
            if case.state in ("scheduled", "reminding"):
                closed = self._close_if_done(conn, call)
                if closed:
                    return closed
            return ReminderOutcome(outcome="open", state=case.state, levels_sent=case.levels_sent)

    @activity.defn
    @failures_as_application_errors
    def check_invoice(self, call: ReminderCall) -> ReminderOutcome:
        """Called when a payment, credit note or cancellation touched the invoice: close the case if it is done."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            if case.state not in ("scheduled", "reminding"):
                return ReminderOutcome(outcome="closed", state=case.state, levels_sent=case.levels_sent)
            closed = self._close_if_done(conn, call)
            return closed or ReminderOutcome(outcome="open", state=case.state, levels_sent=case.levels_sent)

    @activity.defn
    @failures_as_application_errors
    def send_reminder(self, call: ReminderCall) -> ReminderOutcome:
        """Send level ``call.level`` once. The message row and the case update commit after the SMTP server has
        accepted the mail; a retry of this call finds the row and sends nothing."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            earlier = ledger.sent_message(conn, call.site, call.invoice, call.level)
            if earlier is not None:
                return ReminderOutcome(
                    outcome="already_sent",
                    state=case.state,
                    levels_sent=case.levels_sent,
                    message_id=earlier.message_id,
                )
            if case.state not in ("scheduled", "reminding"):
                return ReminderOutcome(outcome="closed", state=case.state, levels_sent=case.levels_sent)
            closed = self._close_if_done(conn, call)
            if closed:
                return closed
            standing = _standing(conn, call)
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
            )
            mail = render(content, call.language)
            mid = message_id(call.site, call.invoice, call.level, self._mailer.sender_domain)
            outcome = "no_address"
            if person is not None and person.email:
                try:
                    self._mailer.send(
                        self._mailer.compose(to=person.email, subject=mail.subject, body=mail.body, message_id=mid)
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
                recipient=person.email if person else None,
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
    @failures_as_application_errors
    def hand_off(self, call: ReminderCall) -> ReminderOutcome:
        """After the final notice went unanswered: flag the invoice for the board (suspension or collection)."""
        with self._engine.begin() as conn:
            case = _locked_case(conn, call)
            if case.state not in ("scheduled", "reminding"):
                return ReminderOutcome(outcome="closed", state=case.state, levels_sent=case.levels_sent)
            closed = self._close_if_done(conn, call)
            if closed:
                return closed
            ledger.update_case(conn, call.site, call.invoice, "handed_off")
            _audit(conn, call, "handed_off", "warning", levels_sent=case.levels_sent)
            return ReminderOutcome(outcome="handed_off", state="handed_off", levels_sent=case.levels_sent)

    @activity.defn
    @failures_as_application_errors
    def stop_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        """An operator cancelled the flow: the case is closed as stopped, so no read shows it still reminding."""
        with self._engine.begin() as conn:
            case = ledger.lock_case(conn, call.site, call.invoice)
            if case is None:  # cancelled before its case was opened: nothing to close
                return ReminderOutcome(outcome="closed", state="stopped")
            if case.state not in ("scheduled", "reminding"):
                return ReminderOutcome(outcome="closed", state=case.state, levels_sent=case.levels_sent)
            ledger.update_case(conn, call.site, call.invoice, "stopped")
            info = activity.info()
            audit.append(
                conn,
                ledger.reminders_ended_entry(
                    call.site, call.actor, call.invoice, "stopped", info.workflow_id, info.workflow_run_id
                ),
            )
            return ReminderOutcome(outcome="closed", state="stopped", levels_sent=case.levels_sent)

    def _close_if_done(self, conn: Connection, call: ReminderCall) -> ReminderOutcome | None:
        standing = _standing(conn, call)
        reason: ClosingReason | None = closing_reason(
            docstatus=standing.docstatus, outstanding=standing.outstanding, credited=standing.credited
        )
        if reason is None:
            return None
        ledger.update_case(conn, call.site, call.invoice, reason)
        info = activity.info()
        audit.append(
            conn,
            ledger.reminders_ended_entry(
                call.site, call.actor, call.invoice, reason, info.workflow_id, info.workflow_run_id
            ),
        )
        case = _locked_case(conn, call)
        return ReminderOutcome(outcome="closed", state=reason, levels_sent=case.levels_sent)


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
    info = activity.info()
    audit.append(
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
            details={**details, "member": call.member, "attempt": info.attempt},
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            dedupe_key=f"{call.site}:Sales Invoice:{call.invoice}:{event}:{call.level}",
        ),
    )
