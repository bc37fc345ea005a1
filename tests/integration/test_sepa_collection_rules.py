"""The SEPA step's decisions on the real PostgreSQL: which mandate a collection uses, and the business rules that
refuse a collection or a return. The refusals are raised by the step (``activities/sepa.py`` applying
``domain/sepa.py`` and ``domain/sepa_returns.py``), end it as a non-retryable BusinessRuleViolation and write
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from temporalio.exceptions import ApplicationError

from activities.analytics import AnalyticsActivities
from activities.sepa import SepaActivities
from domain.messages import StepInput
from ledger.schema import audit_records, collection_retries, mandate_usages, mandates
from starter.reference_data import load_reference_data
from tests import builders as b
from tests.integration.test_activities import env_for, record

USER = "treasurer@example.nl"


def _load(engine: Engine, site: str, *docs: dict[str, Any]) -> None:
    load_reference_data(
        engine,
        [b.customer("C1"), b.member("M1", "C1"), b.member("M2", "C1"), *docs],
        site=site,
        currency="EUR",
        today=dt.date.today(),
    )


def _run(engine: Engine, site: str, payment: str, activity: Any = None) -> Any:
    inp = StepInput(site=site, actor=USER, doctype="Payment Entry", name=payment)
    return env_for(f"{site}:Payment Entry:{payment}").run(activity or SepaActivities(engine).update_mandate, inp)


def _refused(engine: Engine, site: str, payment: str, activity: Any = None) -> tuple[str, str]:
    with pytest.raises(ApplicationError) as err:
        _run(engine, site, payment, activity)
    assert err.value.non_retryable and err.value.type == "BusinessRuleViolation"
    return err.value.details[0]["code"], err.value.message


def _usages(engine: Engine, site: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(mandate_usages.c.mandate_id, mandate_usages.c.invoice, mandate_usages.c.sequence_type)
            .where(mandate_usages.c.site == site)
            .order_by(mandate_usages.c.invoice)
        ).all()
    return [tuple(r) for r in rows]


def _collect(engine: Engine, site: str, name: str, invoice: str, amount: float = 15.0) -> None:
    doc = b.payment(name, "C1", amount, [(invoice, amount)], mode="SEPA Direct Debit", posting_date="2025-04-02")
    assert record(engine, site, doc).accepted


def test_a_collection_uses_the_invoices_own_members_mandate(engine: Engine, site: str) -> None:
    _load(engine, site, b.mandate("MD-1", "M1", sign_date="2025-01-01"), b.mandate("MD-2", "M2"))
    assert record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M2")).accepted
    _collect(engine, site, "PAY-1", "INV-1")
    _run(engine, site, "PAY-1")
    assert _usages(engine, site) == [("MD-2", "INV-1", "FRST")]


def test_a_family_collects_on_another_members_mandate_active_and_newest_first(engine: Engine, site: str) -> None:
    _load(
        engine,
        site,
        b.mandate("MD-OLD", "M1", sign_date="2024-01-01"),
        b.mandate("MD-NEW", "M1", sign_date="2025-01-01"),
        b.mandate("MD-SUSPENDED", "M1", sign_date="2025-02-01", status="Suspended"),
    )
    assert record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M2")).accepted
    assert record(engine, site, b.invoice("INV-2", "C1", 15.0)).accepted
    doc = b.payment("PAY-1", "C1", 30.0, [("INV-1", 15.0), ("INV-2", 15.0)], mode="SEPA Direct Debit")
    assert record(engine, site, doc).accepted
    first = _run(engine, site, "PAY-1")
    # The first collection moved the mandate to RCUR: the second allocation is a recurring one.
    assert _usages(engine, site) == [("MD-NEW", "INV-1", "FRST"), ("MD-NEW", "INV-2", "RCUR")]
    assert (first.changed, first.detail) == (True, "2 usages collected, 0 already recorded")
    again = _run(engine, site, "PAY-1")
    assert (again.changed, again.detail) == (False, "0 usages collected, 2 already recorded")


def test_a_collection_over_the_mandate_maximum_is_refused_and_writes_nothing(engine: Engine, site: str) -> None:
    _load(engine, site, b.mandate("MD-1", "M1"))  # maximum 150
    assert record(engine, site, b.invoice("INV-1", "C1", 200.0, member_name="M1")).accepted
    _collect(engine, site, "PAY-1", "INV-1", 200.0)
    assert _refused(engine, site, "PAY-1") == ("exceeds_mandate_maximum", "200.00 exceeds the mandate maximum 150.00")
    assert _usages(engine, site) == []


def test_a_collection_without_any_mandate_is_refused(engine: Engine, site: str) -> None:
    _load(engine, site, b.mandate("MD-1", "M1"))
    assert record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M1")).accepted
    _collect(engine, site, "PAY-1", "INV-1")
    with engine.begin() as conn:  # the mandate is gone between step 1 and the SEPA step
        conn.execute(delete(mandates).where(mandates.c.site == site))
    assert _refused(engine, site, "PAY-1") == ("no_mandate", "no SEPA mandate is on record for the member")


def test_a_return_without_its_reason_code_is_refused_and_decides_nothing(engine: Engine, site: str) -> None:
    _load(engine, site, b.mandate("MD-1", "M1"))
    assert record(engine, site, b.invoice("INV-1", "C1", 15.0, member_name="M1")).accepted
    _collect(engine, site, "PAY-1", "INV-1")
    _run(engine, site, "PAY-1")
    doc = b.payment("RET-1", "C1", 15.0, [("INV-1", 15.0)], mode="SEPA Direct Debit Return", payment_type="Pay")
    assert record(engine, site, doc).accepted
    assert _refused(engine, site, "RET-1") == (
        "missing_return_reason",
        "a SEPA return needs its reason code (e.g. AM04)",
    )
    with engine.connect() as conn:
        assert conn.execute(select(collection_retries).where(collection_retries.c.site == site)).all() == []


@pytest.mark.parametrize("step", ["sepa", "analytics"])
def test_a_payment_the_ledger_does_not_hold_is_refused(engine: Engine, site: str, step: str) -> None:
    activity = (
        SepaActivities(engine).update_mandate if step == "sepa" else AnalyticsActivities(engine).record_payment_facts
    )
    assert _refused(engine, site, "PAY-GHOST", activity) == (
        "unknown_payment",
        "payment PAY-GHOST is not in the ledger",
    )
    with engine.connect() as conn:
        assert conn.execute(select(audit_records).where(audit_records.c.site == site)).all() == []


def test_a_return_passes_over_a_collection_a_concurrent_return_marks_first(engine: Engine, site: str) -> None:
    """The chosen collection is locked; when a concurrent return marked it Returned meanwhile, the next best is
    chosen (as the choice made after that return committed would be)."""
    from concurrent.futures import ThreadPoolExecutor
    from decimal import Decimal

    from activities.sepa import _answered_collection

    _load(engine, site, b.mandate("MD-1", "M1"))
    assert record(engine, site, b.invoice("INV-1", "C1", 20.0, member_name="M1")).accepted
    for name, day in (("PAY-1", "2025-04-02"), ("PAY-2", "2025-04-09")):
        doc = b.payment(name, "C1", 10.0, [("INV-1", 10.0)], mode="SEPA Direct Debit", posting_date=day)
        assert record(engine, site, doc).accepted
        _run(engine, site, name)
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                select(mandate_usages.c.payment_entry, mandate_usages.c.id).where(mandate_usages.c.site == site)
            ).all()
        )

    def answer() -> int | None:
        with engine.begin() as conn:
            usage = _answered_collection(conn, site, "INV-1", Decimal("10.00"))
            return usage.id if usage else None

    with engine.connect() as other, ThreadPoolExecutor(1) as pool:
        other.execute(
            mandate_usages.update().where(mandate_usages.c.id == ids["PAY-2"]).values(status="Returned")
        )  # the newest collection, row-locked by a return that has not committed yet
        answered = pool.submit(answer)
        with pytest.raises(TimeoutError):
            answered.result(timeout=0.5)  # waits for the other return's lock
        other.commit()
        assert answered.result(timeout=10) == ids["PAY-1"]
