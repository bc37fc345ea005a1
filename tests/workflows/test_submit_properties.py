"""Property-based test (Hypothesis) of ``submit`` on the real stack: ERPNext documents with one field replaced by
anything JSON can carry. Every outcome is a verdict (rejections naming fields) or a documented exception; a document
rejected by the contract leaves nothing behind (no ledger row, no workflow); every workflow that starts finishes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from domain.errors import DuesflowError
from ledger.schema import audit_records
from starter.client import DuesflowClient
from tests.conftest import load_fixture
from tests.unit.test_input_properties import SUBMITTABLE, _mutated

USER = "treasurer@example.nl"
SITE = f"props-{uuid.uuid4().hex[:8]}.test"
pytestmark = pytest.mark.usefixtures("workers")


@pytest.fixture(scope="module")
async def invoices_known(duesflow: DuesflowClient) -> None:
    """The fixtures' customers and invoices, so the fixture payments have what they reference."""
    data = load_fixture("reference_data.json")
    await duesflow.load_reference_data([*data["customers"], *data["members"], *data["sepa_mandates"]], site=SITE)
    for doc in SUBMITTABLE:
        if doc["doctype"] == "Sales Invoice" and not doc.get("is_return"):
            await duesflow.submit(doc, site=SITE, user=USER)


def _rows_named(engine: Engine, name: object) -> int:
    if not isinstance(name, str):
        return 0
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(audit_records.c.site == SITE, audit_records.c.name == name)
        ).scalar_one()


@pytest.mark.usefixtures("invoices_known")
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(base=st.sampled_from(SUBMITTABLE), data=st.data())
async def test_any_mutated_submission_is_a_verdict_and_leaves_no_half_work(
    duesflow: DuesflowClient, engine: Engine, base: dict[str, Any], data: st.DataObject
) -> None:
    doc = _mutated({**base, "name": f"P-{uuid.uuid4().hex[:10]}"}, data)
    try:
        verdict = await duesflow.submit(doc, site=SITE, user=USER, timeout=10)
    except DuesflowError as exc:  # documented; nothing else may escape
        pytest.fail(f"no service was down, yet submit raised {exc!r}")
    if verdict.status == "rejected" and verdict.workflow_id is None:
        # The contract refused it: field errors, nothing written, nothing started.
        assert verdict.errors and all(e.field and e.code and e.message for e in verdict.errors)
        assert _rows_named(engine, doc.get("name")) == 0
        return
    assert verdict.workflow_id is not None
    if verdict.status == "pending":
        # Only a payment waiting for an invoice duesflow has not seen (a mutated reference) may still be deciding:
        # once that invoice is submitted, whatever its own verdict, the payment is decided too. Nothing else hangs.
        assert doc["doctype"] == "Payment Entry", verdict
        invoice = next(d for d in SUBMITTABLE if d["doctype"] == "Sales Invoice" and not d.get("is_return"))
        for ref in doc.get("references") or []:
            if isinstance(ref, dict) and ref.get("reference_doctype") == "Sales Invoice":
                await duesflow.submit({**invoice, "name": ref["reference_name"]}, site=SITE, user=USER)
    result = await asyncio.wait_for(duesflow.wait(verdict.workflow_id), timeout=120)
    if verdict.status == "pending":
        assert result.verdict.status in ("accepted", "rejected")
    else:
        assert result.verdict.status == verdict.status  # the verdict the ERP got is the one that stands
    assert all(s.status in ("done", "failed") for s in result.steps)
