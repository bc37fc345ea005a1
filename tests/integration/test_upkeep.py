"""The upkeep jobs on the real PostgreSQL (and a real SMTP server on loopback for the expiry warning): each runs
twice on the same day, and the second run changes nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from temporalio.testing import ActivityEnvironment

from activities.analytics import AnalyticsActivities
from activities.mailer import SmtpMailer
from activities.upkeep import UpkeepActivities
from config.settings import Settings
from domain.messages import StepInput
from domain.reminder_mail import mandate_warning_id
from domain.upkeep import UpkeepInput
from infra.mail_sink import MailSink
from ledger import audit
from ledger.schema import audit_records, mandates, payment_facts
from starter.reads import LedgerReads
from starter.reference_data import load_reference_data
from tests import builders as b
from tests.integration.test_activities import record
from tests.integration.test_sepa_returns import bounce, collect

ON = dt.date(2026, 11, 23)


def run(job_method: Any, job: str, site: str, on: dt.date = ON, **extra: Any) -> dict[str, int]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"duesflow-upkeep-{job}")
    return env.run(job_method, UpkeepInput(job=job, on_date=on, site=site, **extra)).changed  # type: ignore[arg-type]


@pytest.fixture
def upkeep(engine: Engine, settings: Settings) -> UpkeepActivities:
    return UpkeepActivities(engine, SmtpMailer(settings), "Testvereniging", "en")


def statuses(engine: Engine, site: str) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(mandates.c.mandate_id, mandates.c.status).where(mandates.c.site == site)).all())


def test_mandate_lifecycle_expires_and_warns_once(
    engine: Engine, upkeep: UpkeepActivities, site: str, smtp_sink: MailSink
) -> None:
    docs: list[dict[str, Any]] = [b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit")]
    docs.append(b.mandate("MD-USED", "M1", sign_date="2022-01-10"))  # last presented 2024 (a return counts)
    for n, extra in enumerate(
        [
            {"sign_date": "2023-11-01"},  # never used, signed 36+ months ago → lapses
            {"sign_date": "2025-01-01", "expiry_date": "2026-11-20"},  # expiry passed
            {"sign_date": "2025-01-01", "expiry_date": "2026-12-10"},  # expires in 17 days → warn once
            {"sign_date": "2025-01-01", "expiry_date": "2027-06-30"},  # nothing yet
        ],
        start=2,
    ):
        docs += [b.customer(f"C{n}"), b.member(f"M{n}", f"C{n}", "SEPA Direct Debit")]
        docs.append(b.mandate(f"MD-{n}", f"M{n}", **extra))
    load_reference_data(engine, docs, site=site, currency="EUR", today=ON)
    assert record(engine, site, b.invoice("INV-1", "C1", 30.0, member_name="M1")).accepted
    collect(engine, site, "PAY-1", 30.0, "2024-06-03")
    bounce(engine, site, "RET-1", 30.0, "2024-06-06")

    first = run(upkeep.run_mandate_lifecycle, "mandate-lifecycle", site)
    assert first == {"expired_passed": 1, "expired_dormant": 1, "warned": 1, "warning_undeliverable": 0}
    assert statuses(engine, site) == {
        "MD-USED": "Active",
        "MD-2": "Expired",
        "MD-3": "Expired",
        "MD-4": "Active",
        "MD-5": "Active",
    }
    [mail] = smtp_sink.with_message_id(mandate_warning_id(site, "MD-4", dt.date(2026, 12, 10), "duesflow.local"))
    assert mail["Subject"] == "Your SEPA mandate expires soon" and "10 December 2026" in mail.get_content()

    again = run(upkeep.run_mandate_lifecycle, "mandate-lifecycle", site)
    next_day = run(upkeep.run_mandate_lifecycle, "mandate-lifecycle", site, ON + dt.timedelta(days=1))
    assert sum(again.values()) == sum(next_day.values()) == 0  # never the daily re-send of bug B15
    assert (
        len(smtp_sink.with_message_id(mandate_warning_id(site, "MD-4", dt.date(2026, 12, 10), "duesflow.local"))) == 1
    )
    # 36 months after the returned collection of June 2024, the used mandate lapses too.
    later = run(upkeep.run_mandate_lifecycle, "mandate-lifecycle", site, dt.date(2027, 6, 6))
    assert later["expired_dormant"] == 1 and statuses(engine, site)["MD-USED"] == "Expired"


def test_analytics_rollup_keeps_every_total_and_runs_once(
    engine: Engine, upkeep: UpkeepActivities, site: str, cache: Any
) -> None:
    load_reference_data(engine, [b.customer("C1"), b.member("M1", "C1")], site=site, currency="EUR", today=ON)
    days = {"PAY-1": "2026-01-15", "PAY-2": "2026-01-20", "PAY-3": "2026-02-10", "PAY-4": "2026-11-13"}
    for name, day in days.items():
        assert record(engine, site, b.payment(name, "C1", 25.0, posting_date=day)).accepted
        analytics(engine, site, name)
    reads = LedgerReads(engine, cache)
    before = (reads.member_totals(site, "M1"), reads.method_statistics(site))
    assert before[0]["count"] == 4 and before[0]["paid_to_date"] == Decimal("100.00")

    first = run(upkeep.roll_up_analytics, "analytics-rollup", site)
    assert first == {"facts_rolled_up": 3, "summaries_updated": 2}
    assert run(upkeep.roll_up_analytics, "analytics-rollup", site) == {"facts_rolled_up": 0, "summaries_updated": 0}
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).where(payment_facts.c.site == site)).scalar_one()
    assert left == 1
    assert (reads.member_totals(site, "M1"), reads.method_statistics(site)) == before

    # A payment cancelled after its fact was rolled up leaves its month's summary, once however often retried.
    cancelled = b.payment("PAY-1", "C1", 25.0, posting_date="2026-01-15", docstatus=2)
    assert record(engine, site, cancelled).accepted
    analytics(engine, site, "PAY-1", workflow=f"{site}:Payment Entry:PAY-1:cancel")
    analytics(engine, site, "PAY-1", workflow=f"{site}:Payment Entry:PAY-1:cancel", attempt=2)
    totals = reads.member_totals(site, "M1")
    assert (totals["count"], totals["paid_to_date"]) == (3, Decimal("75.00"))


def analytics(engine: Engine, site: str, payment: str, workflow: str | None = None, attempt: int = 1) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow or f"{site}:Payment Entry:{payment}", attempt=attempt)
    inp = StepInput(site=site, actor="t", doctype="Payment Entry", name=payment)
    env.run(AnalyticsActivities(engine).record_payment_facts, inp)


def test_audit_retention_by_severity(engine: Engine, upkeep: UpkeepActivities, site: str) -> None:
    ages = {"info": 31, "warning": 31, "error": 366, "critical": 366}
    with engine.begin() as conn:
        for severity, days in ages.items():
            for label, age in (("old", days), ("young", 1)):
                audit.append(
                    conn,
                    audit.AuditEntry(
                        actor="t",
                        site=site,
                        doctype="Payment Entry",
                        name=f"{severity}-{label}",
                        event="test",
                        severity=severity,
                        dedupe_key=f"{site}:{severity}:{label}",
                    ),
                )
                conn.execute(
                    update(audit_records)
                    .where(audit_records.c.dedupe_key == f"{site}:{severity}:{label}")
                    .values(at=dt.datetime.combine(ON, dt.time(12), tzinfo=dt.UTC) - dt.timedelta(days=age))
                )
    first = run(upkeep.apply_audit_retention, "audit-retention", site)
    assert first == {"deleted_critical": 0, "deleted_error": 1, "deleted_info": 1, "deleted_warning": 0}
    assert sum(run(upkeep.apply_audit_retention, "audit-retention", site).values()) == 0
    with engine.connect() as conn:
        kept = conn.execute(select(audit_records.c.name).where(audit_records.c.site == site)).scalars().all()
    assert sorted(kept) == [
        "critical-old",
        "critical-young",
        "error-young",
        "info-young",
        "warning-old",
        "warning-young",
    ]
