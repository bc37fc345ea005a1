"""The daily upkeep jobs (run by Temporal Schedules): mandate lifecycle, analytics roll-up, audit retention.

Each reports what it changed; a second run of the same day changes nothing (and says so).
"""

from __future__ import annotations

import datetime as dt
import smtplib

from sqlalchemy import Connection, Engine
from temporalio import activity

from activities.mailer import SmtpMailer
from activities.step import append_traced
from domain import audit_keys
from domain.reminder_mail import Language, mandate_warning_id, render_mandate_expiry
from domain.upkeep import UpkeepInput, UpkeepReport, lifecycle_action, retention_cutoffs, rollup_before
from ledger import audit
from ledger.reminders import contact
from ledger.upkeep import claim_warning, expire_mandate, mandate_facts, purge_audit, roll_up_facts


class UpkeepActivities:
    def __init__(self, engine: Engine, mailer: SmtpMailer, association: str, language: Language = "nl") -> None:
        self._engine = engine
        self._mailer = mailer
        self._association = association
        self._language: Language = language

    @activity.defn
    def run_mandate_lifecycle(self, inp: UpkeepInput) -> UpkeepReport:
        """36 months without a presented collection → Expired; expiry date passed → Expired; one warning e-mail
        30 days before expiry. One transaction per mandate: a failure half-way keeps what was done."""
        on = _on_date(inp)
        changed = {"expired_passed": 0, "expired_dormant": 0, "warned": 0, "warning_undeliverable": 0}
        with self._engine.connect() as conn:
            facts = mandate_facts(conn, inp.site)
        for m in facts:
            action = lifecycle_action(m, on)
            if action is None:
                continue
            with self._engine.begin() as conn:
                if action in ("expire_passed", "expire_dormant"):
                    if expire_mandate(conn, m.site, m.mandate_id):
                        key = "expired_passed" if action == "expire_passed" else "expired_dormant"
                        changed[key] += 1
                        _audit(conn, m.site, m.mandate_id, "mandate_expired", action, on)
                    continue
                assert m.expiry_date is not None
                if not claim_warning(conn, m.site, m.mandate_id, m.expiry_date, on):
                    continue
                person = contact(conn, m.site, m.member)
                delivered = False
                if person is not None and person.email:
                    mail = render_mandate_expiry(
                        name=person.full_name,
                        mandate_id=m.mandate_id,
                        expiry=m.expiry_date,
                        association=self._association,
                        language=self._language,
                    )
                    mid = mandate_warning_id(m.site, m.mandate_id, m.expiry_date, self._mailer.sender_domain)
                    try:
                        self._mailer.send(
                            self._mailer.compose(to=person.email, subject=mail.subject, body=mail.body, message_id=mid)
                        )
                        delivered = True
                    except smtplib.SMTPRecipientsRefused:
                        delivered = False
                changed["warned" if delivered else "warning_undeliverable"] += 1
                _audit(conn, m.site, m.mandate_id, "mandate_expiry_warned", "sent" if delivered else "no_address", on)
            activity.heartbeat(m.mandate_id)
        return UpkeepReport(job=inp.job, on_date=on, site=inp.site, changed=changed)

    @activity.defn
    def roll_up_analytics(self, inp: UpkeepInput) -> UpkeepReport:
        """Detail facts older than the window move into monthly summaries, in one statement."""
        on = _on_date(inp)
        with self._engine.begin() as conn:
            facts, summaries = roll_up_facts(conn, rollup_before(on, inp.analytics_window_days), inp.site)
        return UpkeepReport(
            job=inp.job, on_date=on, site=inp.site, changed={"facts_rolled_up": facts, "summaries_updated": summaries}
        )

    @activity.defn
    def apply_audit_retention(self, inp: UpkeepInput) -> UpkeepReport:
        """Info 30 days, warning 90, error 365, critical 7 years."""
        on = _on_date(inp)
        with self._engine.begin() as conn:
            deleted = purge_audit(conn, retention_cutoffs(on), inp.site)
        return UpkeepReport(
            job=inp.job, on_date=on, site=inp.site, changed={f"deleted_{k}": v for k, v in deleted.items()}
        )


def _on_date(inp: UpkeepInput) -> dt.date:
    if inp.on_date is None:
        raise ValueError("on_date must be set by the workflow")
    return inp.on_date


def _audit(conn: Connection, site: str, mandate_id: str, event: str, outcome: str, on: dt.date) -> None:
    append_traced(
        conn,
        audit.AuditEntry(
            actor="duesflow",
            site=site,
            doctype="SEPA Mandate",
            name=mandate_id,
            event=event,
            step="mandate-lifecycle",
            severity="warning",
            outcome=outcome,
            details={"on_date": on.isoformat()},
            dedupe_key=audit_keys.document_event(site, "SEPA Mandate", mandate_id, event, on.isoformat()),
        ),
    )
