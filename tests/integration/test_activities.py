"""Activities on the machine's real PostgreSQL and Redis, run through the SDK's ActivityEnvironment (which only
supplies activity.info()). Each effect is run twice, as a retry or replay would, and must not change the second time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select
from temporalio.exceptions import ApplicationError

from activities.analytics import AnalyticsActivities
from activities.history import HistoryActivities
from activities.sepa import SepaActivities
from activities.submission import SubmissionActivities
from domain.errors import NotFound
from domain.ids import workflow_id
from domain.messages import StepInput, SubmissionInput
from domain.parsing import parse_submission
from domain.reads import DailyTotal, Mandate, MemberSummary
from ledger.cache import ReadCache, history_key
from ledger.schema import audit_records, mandate_usages, member_history, payment_allocations, payment_facts, payments
from starter.reads import LedgerReads
from starter.reference_data import load_reference_data
from tests import builders as b
from tests.activity_env import WorkerEnvironment, activity_env

USER = "treasurer@example.nl"


def env_for(workflow_id: str, attempt: int = 1) -> WorkerEnvironment:
    return activity_env(workflow_id, attempt)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def record(engine: Engine, site: str, doc: dict[str, Any]) -> Any:
    parsed = parse_submission(doc, currency="EUR")
    inp = SubmissionInput(site=site, user=USER, document=parsed)
    wid = workflow_id(site, parsed.doctype, parsed.name, cancellation=parsed.docstatus == 2)
    return env_for(wid).run(SubmissionActivities(engine).validate_and_record, inp)


@pytest.fixture
def ledger(engine: Engine, site: str) -> Engine:
    """A member M1 of customer C1 with an active mandate, an invoice of 15 and a SEPA payment of it."""
    load_reference_data(
        engine,
        [b.customer("C1"), b.member("M1", "C1", "SEPA Direct Debit"), b.mandate("MD-1", "M1")],
        site=site,
        currency="EUR",
        today=dt.date.today(),
    )
    assert record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M1")).status == "accepted"
    pay = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    assert record(engine, site, pay).status == "accepted"
    return engine


def test_step1_twice_returns_the_recorded_verdict_and_writes_once(ledger: Engine, site: str) -> None:
    pay = b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit")
    again = record(ledger, site, pay)  # a retried local activity
    assert again.status == "accepted"
    assert count(ledger, payments, payments.c.site == site) == 1
    assert count(ledger, payment_allocations, payment_allocations.c.site == site) == 1
    assert count(ledger, audit_records, audit_records.c.site == site, audit_records.c.name == "PAY-1") == 1


def test_sepa_collection_twice_creates_one_usage(ledger: Engine, site: str, cache: ReadCache) -> None:
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name="PAY-1")
    env = env_for(f"{site}:Payment Entry:PAY-1")
    first = env.run(SepaActivities(ledger).update_mandate, inp)
    second = env_for(f"{site}:Payment Entry:PAY-1", attempt=2).run(SepaActivities(ledger).update_mandate, inp)
    assert (first.changed, second.changed) == (True, False)
    assert count(ledger, mandate_usages, mandate_usages.c.site == site) == 1
    reads = LedgerReads(ledger, cache)
    mandate = reads.mandate(site, "MD-1")
    assert isinstance(mandate, Mandate)
    assert mandate.sequence_state == "RCUR" and mandate.usages[0].sequence_type == "FRST"
    # The IBAN is not part of the read at all: its last 4 characters only.
    assert mandate.iban_last4 == "4300" and "iban" not in Mandate.model_fields and "iban" not in mandate
    assert "NL91ABNA0417164300" not in mandate.model_dump_json()
    assert mandate["sequence_state"] == "RCUR"  # code written against the earlier dict rows still reads
    assert count(ledger, audit_records, audit_records.c.site == site, audit_records.c.step == "sepa") == 1


def test_analytics_twice_counts_the_payment_once(ledger: Engine, site: str, cache: ReadCache) -> None:
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name="PAY-1")
    activity = AnalyticsActivities(ledger).record_payment_facts
    first = env_for(f"{site}:Payment Entry:PAY-1").run(activity, inp)
    second = env_for(f"{site}:Payment Entry:PAY-1", attempt=2).run(activity, inp)
    assert (first.changed, second.changed) == (True, False)
    assert count(ledger, payment_facts, payment_facts.c.site == site) == 1
    totals = LedgerReads(ledger, cache).daily_totals(site, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert [(type(t), t.count, str(t.total)) for t in totals] == [(DailyTotal, 1, "15.00")]


def test_history_rebuild_twice_gives_the_same_rows_and_moves_the_cache_on(
    ledger: Engine, site: str, cache: ReadCache, redis_client: redis.Redis
) -> None:
    reads = LedgerReads(ledger, cache)
    activity = HistoryActivities(ledger).rebuild_member_history
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name="PAY-1", member="M1")
    env_for(f"{site}:Payment Entry:PAY-1").run(activity, inp)
    first = reads.member_history(site, "M1")
    assert redis_client.exists(history_key(site, "M1", 1)) == 1  # the read filled the cache under version 1
    env_for(f"{site}:Payment Entry:PAY-1", attempt=2).run(activity, inp)
    assert reads.member_history(site, "M1") == first
    assert redis_client.exists(history_key(site, "M1", 2)) == 1  # read again under the rebuild's new version
    assert count(ledger, member_history, member_history.c.site == site) == 1
    assert [(r.invoice, r.payment_status) for r in first] == [("INV-1", "Paid")]


def test_a_read_after_a_rebuild_never_shows_the_state_from_before_it(
    engine: Engine, site: str, cache: ReadCache
) -> None:
    """The cache holds the history from before a payment (within its TTL). Once the payment's rebuild has committed,
    reads show the invoice paid: nothing had to be deleted from Redis for that, so Redis being away at that moment
    (which left a paid invoice Overdue until the TTL) cannot matter."""
    load_reference_data(
        engine, [b.customer("C1"), b.member("M1", "C1")], site=site, currency="EUR", today=dt.date.today()
    )
    record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M1", due_date="2025-01-31"))
    rebuild = HistoryActivities(engine).rebuild_member_history
    step = StepInput(site=site, actor=USER, doctype="Sales Invoice", name="INV-1", member="M1")
    env_for(f"{site}:Sales Invoice:INV-1").run(rebuild, step)
    reads = LedgerReads(engine, cache)
    assert [(r.invoice, r.payment_status) for r in reads.member_history(site, "M1")] == [("INV-1", "Overdue")]
    assert reads.member_summary(site, "M1").total_paid == 0
    record(engine, site, b.payment("PAY-1", "C1", 15.0, [("INV-1", 15.0)]))
    step = StepInput(site=site, actor=USER, doctype="Payment Entry", name="PAY-1", member="M1")
    env_for(f"{site}:Payment Entry:PAY-1").run(rebuild, step)
    assert [(r.invoice, r.payment_status) for r in reads.member_history(site, "M1")] == [("INV-1", "Paid")]
    assert reads.member_summary(site, "M1").total_paid == 15


def test_unknown_member_is_a_non_retryable_business_error(ledger: Engine, site: str, cache: ReadCache) -> None:
    inp = StepInput(site=site, actor=USER, doctype="Sales Invoice", name="INV-1", member="M-GHOST")
    with pytest.raises(ApplicationError) as err:
        env_for(f"{site}:Sales Invoice:INV-1").run(HistoryActivities(ledger).rebuild_member_history, inp)
    assert err.value.non_retryable and err.value.type == "BusinessRuleViolation"
    assert err.value.details[0]["code"] == "unknown_member"


def test_reads_fall_back_to_the_ledger_when_redis_is_down(ledger: Engine, site: str, cache: ReadCache) -> None:
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name="PAY-1", member="M1")
    env_for(f"{site}:Payment Entry:PAY-1").run(HistoryActivities(ledger).rebuild_member_history, inp)
    down = ReadCache(redis.Redis(port=1, socket_connect_timeout=0.2))  # nothing listens on port 1
    reads = LedgerReads(ledger, down)
    assert [r.invoice for r in reads.member_history(site, "M1")] == ["INV-1"]
    assert reads.member_summary(site, "M1").total_paid == 15


def test_member_summary_does_not_multiply_sums_across_payments(engine: Engine, site: str, cache: ReadCache) -> None:
    load_reference_data(
        engine, [b.customer("C1"), b.member("M1", "C1")], site=site, currency="EUR", today=dt.date.today()
    )
    record(engine, site, b.invoice("INV-1", "C1", 30.0))
    record(engine, site, b.invoice("INV-2", "C1", 30.0))
    record(engine, site, b.payment("PAY-1", "C1", 10.0, [("INV-1", 10.0)]))
    record(engine, site, b.payment("PAY-2", "C1", 10.0, [("INV-1", 10.0)]))
    record(engine, site, b.payment("PAY-3", "C1", 5.0, [("INV-2", 5.0)]))
    summary = LedgerReads(engine, cache).member_summary(site, "M1")
    assert isinstance(summary, MemberSummary)
    assert summary.total_invoices == 2 and summary.unpaid_invoices == 2
    assert (summary.total_invoiced, summary.total_paid, summary.total_outstanding) == (60, 25, 35)
    # From the cache, the same model.
    assert LedgerReads(engine, cache).member_summary(site, "M1") == summary


def test_reference_import_rejects_everything_when_one_document_is_bad(
    engine: Engine, site: str, cache: ReadCache
) -> None:
    from domain.verdicts import DocumentRejected

    bad = b.mandate("MD-X", "M1", iban="NL00ABNA0417164300")
    with pytest.raises(DocumentRejected) as err:
        load_reference_data(
            engine, [b.customer("C1"), b.member("M1", "C1"), bad], site=site, currency="EUR", today=dt.date.today()
        )
    assert [(e.field, e.code) for e in err.value.errors] == [("docs[2] (md-x).iban", "invalid_iban")]
    reads = LedgerReads(engine, cache)
    with pytest.raises(NotFound):
        reads.member_summary(site, "M1")  # nothing was written


def test_failure_messages_keep_row_values_out(engine: Engine, site: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from activities.failures import safe_message
    from ledger.schema import customers

    with engine.begin() as conn:
        conn.execute(customers.insert().values(site=site, name="Jan Bakker"))
    with pytest.raises(IntegrityError) as err, engine.begin() as conn:
        conn.execute(customers.insert().values(site=site, name="Jan Bakker"))
    assert "Jan Bakker" in str(err.value)  # what the database said …
    message = safe_message(err.value)
    assert "Jan Bakker" not in message  # … is not what reaches the Web UI
    assert message == "UniqueViolation (SQLSTATE 23505)"


def test_a_rebuild_writes_only_the_rows_that_changed(engine: Engine, site: str, cache: ReadCache) -> None:
    from ledger.history import history_facts, read_history, store_history

    load_reference_data(
        engine, [b.customer("C1"), b.member("M1", "C1")], site=site, currency="EUR", today=dt.date.today()
    )
    for i in range(1, 4):
        record(engine, site, b.invoice(f"INV-{i}", "C1", 15.0, posting_date=f"2025-0{i}-01"))
    activity = HistoryActivities(engine).rebuild_member_history
    inp = StepInput(site=site, actor=USER, doctype="Sales Invoice", name="INV-3", member="M1")
    env_for(f"{site}:Sales Invoice:INV-3").run(activity, inp)
    record(engine, site, b.payment("PAY-1", "C1", 15.0, [("INV-2", 15.0)]))
    with engine.begin() as conn:
        from domain.history import project_history

        rows = project_history(*history_facts(conn, site, "C1"), today=dt.date.today())
        assert store_history(conn, site, "M1", rows) == 1  # only INV-2's row changed
        assert read_history(conn, site, "M1") == rows
        assert store_history(conn, site, "M1", rows[:2]) == 0  # shorter: nothing rewritten, the tail deleted
        assert read_history(conn, site, "M1") == rows[:2]
