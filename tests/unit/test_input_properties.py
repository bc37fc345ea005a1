"""Property-based tests (Hypothesis) of the input boundary: ERPNext documents with one field replaced by anything
JSON can carry. Every outcome is a parsed document that the ledger can store and the pipelines can process, or a
rejection naming fields; never another exception."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from domain.contracts import FIRST_DAY, LAST_DAY, TEXT_LIMIT, PaymentEntry, SalesInvoice
from domain.parsing import parse_reference, parse_submission
from domain.verdicts import DocumentRejected
from starter.reference_data import parse_all
from tests.conftest import FIXTURES, load_fixture

TODAY = dt.date(2025, 4, 15)
SUBMITTABLE = [load_fixture(p.name) for p in sorted(FIXTURES.glob("*.json")) if p.name != "reference_data.json"]
_REFERENCE = load_fixture("reference_data.json")
REFERENCE = [*_REFERENCE["customers"], *_REFERENCE["members"], *_REFERENCE["sepa_mandates"]]

# What a hostile or broken ERP payload can hold: control characters and NUL included, huge and odd numbers,
# far-off dates, nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),
    st.sampled_from(["9999-12-31", "0001-01-01", "2025-02-30", "1e26", "-0", "NaN", "1_000", "X:cancel", "%3A"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner))


def _mutated(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    doc = json.loads(json.dumps(base))
    target = doc
    rows = [k for k in ("items", "references") if isinstance(doc.get(k), list) and doc[k]]
    if rows and data.draw(st.booleans(), label="in a row"):
        target = doc[data.draw(st.sampled_from(rows), label="rows")][0]
    field = data.draw(st.sampled_from([*target.keys(), "doctype", "name", "unknown_field"]), label="field")
    target[field] = data.draw(values, label="value")
    return doc


def _storable(value: Any) -> None:
    """What the ledger and the workflows need of an accepted value."""
    if isinstance(value, str):
        assert "\x00" not in value and len(value) <= TEXT_LIMIT
    elif isinstance(value, dt.date):
        assert FIRST_DAY <= value <= LAST_DAY
    elif isinstance(value, Decimal):
        assert value.is_finite() and abs(value) < Decimal("10000000000")


def _walk(model: Any) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                _walk(item)
            else:
                _storable(item)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(SUBMITTABLE), data=st.data())
def test_a_mutated_submission_is_parsed_storable_or_rejected_by_field(
    base: dict[str, Any], data: st.DataObject
) -> None:
    doc = _mutated(base, data)
    try:
        parsed = parse_submission(doc, currency="EUR")
    except DocumentRejected as exc:
        assert exc.errors and all(e.field and e.code and e.message for e in exc.errors)
        return
    assert isinstance(parsed, PaymentEntry | SalesInvoice)
    _walk(parsed)
    # It travels as JSON in the workflow input and comes back the same.
    assert type(parsed).model_validate_json(parsed.model_dump_json()) == parsed


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from(REFERENCE), data=st.data())
def test_a_mutated_reference_document_is_parsed_storable_or_rejected_by_field(
    base: dict[str, Any], data: st.DataObject
) -> None:
    doc = _mutated(base, data)
    try:
        parsed = parse_reference(doc, currency="EUR", today=TODAY)
    except DocumentRejected as exc:
        assert exc.errors and all(e.field and e.code and e.message for e in exc.errors)
        return
    _walk(parsed)


@settings(max_examples=100, deadline=None)
@given(docs=values)
def test_reference_data_of_any_shape_is_rejected_by_field_or_parsed(docs: Any) -> None:
    try:
        parse_all(docs, currency="EUR", today=TODAY)
    except DocumentRejected as exc:
        assert exc.errors and all(e.field for e in exc.errors)
