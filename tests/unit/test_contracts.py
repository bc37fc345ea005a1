"""Unit tests of pure logic: ERPNext contracts, parsing, bank-account checks and workflow ids.

No database, no network, no Temporal: only ``domain.contracts``, ``domain.parsing``, ``domain.banking`` and
``domain.ids`` on in-memory dicts (the ERPNext fixtures plus variations built here).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from domain.contracts import Customer, Member, PaymentEntry, SalesInvoice, SepaMandate
from domain.ids import check_site, workflow_id
from domain.parsing import parse_reference, parse_submission
from domain.verdicts import DocumentRejected, FieldError
from tests.conftest import FIXTURES, load_fixture

TODAY = dt.date(2025, 4, 15)
SUBMITTABLE_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json") if p.name != "reference_data.json")
SEPA_PAYMENT = "payment_entry_ACC-PAY-2025-00201.json"
INVOICE = "sales_invoice_ACC-SINV-2025-00101.json"
CREDIT_NOTE = "sales_invoice_ACC-SINV-RET-2025-00003.json"


def _reference_docs() -> list[dict[str, Any]]:
    data = load_fixture("reference_data.json")
    return [*data["customers"], *data["members"], *data["sepa_mandates"]]


def _mandate(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load_fixture("reference_data.json")["sepa_mandates"][0])
    raw.update(changes)
    return raw


def _rejected(raw: object, *, today: dt.date | None = None) -> list[FieldError]:
    """Parse ``raw`` (a reference document when ``today`` is given) and return the errors it was rejected with."""
    with pytest.raises(DocumentRejected) as info:
        if today is None:
            parse_submission(raw, currency="EUR")
        else:
            parse_reference(raw, currency="EUR", today=today)
    return info.value.errors


def _codes(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in errors}


def _two_places(value: Decimal) -> bool:
    return isinstance(value, Decimal) and value.as_tuple().exponent == -2


# ---- every fixture parses ------------------------------------------------------------------------------------------


def test_the_fixture_set_is_not_empty() -> None:
    assert len(SUBMITTABLE_FIXTURES) >= 10
    assert SEPA_PAYMENT in SUBMITTABLE_FIXTURES and CREDIT_NOTE in SUBMITTABLE_FIXTURES


@pytest.mark.parametrize("name", SUBMITTABLE_FIXTURES)
def test_every_submittable_fixture_parses(name: str) -> None:
    raw = load_fixture(name)
    doc = parse_submission(raw, currency="EUR")
    expected = PaymentEntry if raw["doctype"] == "Payment Entry" else SalesInvoice
    assert type(doc) is expected
    assert doc.name == raw["name"]
    assert doc.docstatus == 1


@pytest.mark.parametrize("raw", _reference_docs(), ids=lambda d: f"{d['doctype']}:{d['name']}")
def test_every_reference_fixture_parses(raw: dict[str, Any]) -> None:
    doc = parse_reference(raw, currency="EUR", today=TODAY)
    expected = {"Customer": Customer, "Member": Member, "SEPA Mandate": SepaMandate}[raw["doctype"]]
    assert type(doc) is expected
    assert doc.name == raw["name"]


# ---- amounts: Decimal with exactly 2 places, no float noise --------------------------------------------------------


def test_fixture_amounts_become_two_place_decimals() -> None:
    payment = parse_submission(load_fixture(SEPA_PAYMENT), currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert str(payment.paid_amount) == "15.00"
    assert str(payment.received_amount) == "15.00"
    assert str(payment.references[0].allocated_amount) == "15.00"
    assert str(payment.references[0].outstanding_amount) == "15.00"
    assert str(payment.references[0].total_amount) == "15.00"

    invoice = parse_submission(load_fixture(INVOICE), currency="EUR")
    assert isinstance(invoice, SalesInvoice)
    for amount in (invoice.grand_total, invoice.rounded_total, invoice.outstanding_amount):
        assert amount is not None and _two_places(amount) and amount == Decimal("15.00")
    assert _two_places(invoice.items[0].rate) and _two_places(invoice.items[0].amount)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (15.0, "15.00"),
        (15, "15.00"),
        (19.99, "19.99"),
        (0.1 + 0.2, "0.30"),  # 0.30000000000000004 as a float
        (1.1 * 3, "3.30"),  # 3.3000000000000003 as a float
        (2.675, "2.68"),  # binary 2.67499999…: rounding must use the JSON text, not the float's bits
        (0.005, "0.01"),  # half-up, not banker's rounding
        ("12.5", "12.50"),
        (" 7 ", "7.00"),
        (-30.0, "-30.00"),
    ],
)
def test_money_is_quantized_without_float_noise(value: object, expected: str) -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["paid_amount"] = value
    payment = parse_submission(raw, currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert isinstance(payment.paid_amount, Decimal)
    assert str(payment.paid_amount) == expected


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", True, [15], {"amount": 15}, 1e10, "1e12"])
def test_bad_money_is_rejected_naming_the_field(value: object) -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["paid_amount"] = value
    errors = _rejected(raw)
    assert [e.field for e in errors] == ["paid_amount"]


def test_largest_ledger_amount_is_accepted() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["paid_amount"] = "9999999999.99"
    payment = parse_submission(raw, currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert payment.paid_amount == Decimal("9999999999.99")


def test_amount_that_rounds_past_the_ledger_limit_is_rejected() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["paid_amount"] = 9999999999.995
    errors = _rejected(raw)
    assert [e.field for e in errors] == ["paid_amount"]


# ---- tolerant of extra fields, strict on the ones used -------------------------------------------------------------


def test_extra_fields_are_ignored() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["some_custom_field"] = {"nested": [1, 2, 3]}
    raw["references"][0]["another_extra"] = "x"
    payment = parse_submission(raw, currency="EUR")
    dumped = payment.model_dump()
    assert "some_custom_field" not in dumped
    assert "another_extra" not in dumped["references"][0]
    # and the many ERPNext fields already in the fixture (company, owner, paid_from, …) are dropped too
    assert "company" not in dumped and "owner" not in dumped


def test_bad_posting_date_names_the_field() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["posting_date"] = "2025-13-01"
    errors = _rejected(raw)
    assert [e.field for e in errors] == ["posting_date"]
    assert errors[0].code.startswith("invalid_")
    assert errors[0].message


def test_bad_invoice_due_date_names_the_field() -> None:
    raw = load_fixture(INVOICE)
    raw["due_date"] = "not a date"
    assert [e.field for e in _rejected(raw)] == ["due_date"]


def test_bad_allocated_amount_names_the_reference_row() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["references"][0]["allocated_amount"] = "abc"
    errors = _rejected(raw)
    assert [e.field for e in errors] == ["references.0.allocated_amount"]
    assert "number" in errors[0].message


def test_every_bad_field_is_reported_at_once() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["posting_date"] = "yesterday"
    raw["paid_amount"] = "lots"
    assert {e.field for e in _rejected(raw)} == {"posting_date", "paid_amount"}


def test_missing_required_field_has_code_missing() -> None:
    raw = load_fixture(INVOICE)
    del raw["grand_total"]
    assert _codes(_rejected(raw)) == {("grand_total", "missing")}


def test_unknown_payment_type_is_rejected() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["payment_type"] = "Refund"
    assert [e.field for e in _rejected(raw)] == ["payment_type"]


def test_blank_name_is_rejected() -> None:
    raw = load_fixture(INVOICE)
    raw["name"] = "   "
    assert [e.field for e in _rejected(raw)] == ["name"]


def test_blank_optional_strings_and_dates_become_none() -> None:
    raw = load_fixture(INVOICE)
    raw["due_date"] = ""
    raw["membership"] = "  "
    raw["outstanding_amount"] = ""
    invoice = parse_submission(raw, currency="EUR")
    assert isinstance(invoice, SalesInvoice)
    assert invoice.due_date is None and invoice.membership is None and invoice.outstanding_amount is None


# ---- currency, docstatus, doctype, shape ---------------------------------------------------------------------------


def test_sales_invoice_in_usd_is_rejected() -> None:
    raw = load_fixture(INVOICE)
    raw["currency"] = "USD"
    errors = _rejected(raw)
    assert _codes(errors) == {("currency", "unsupported_currency")}
    assert "USD" in errors[0].message


@pytest.mark.parametrize("field", ["paid_to_account_currency", "paid_from_account_currency"])
def test_payment_entry_in_another_currency_is_rejected(field: str) -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw[field] = "GBP"
    assert _codes(_rejected(raw)) == {(field, "unsupported_currency")}


def test_ledger_currency_is_a_parameter() -> None:
    raw = load_fixture(INVOICE)
    raw["currency"] = "USD"
    assert parse_submission(raw, currency="USD").name == raw["name"]
    with pytest.raises(DocumentRejected):
        parse_submission(load_fixture(INVOICE), currency="USD")  # the EUR fixture is foreign to a USD ledger


def test_customer_with_foreign_default_currency_is_rejected() -> None:
    raw = copy.deepcopy(load_fixture("reference_data.json")["customers"][0])
    raw["default_currency"] = "USD"
    assert _codes(_rejected(raw, today=TODAY)) == {("default_currency", "unsupported_currency")}


def test_drafts_are_rejected() -> None:
    for name in (SEPA_PAYMENT, INVOICE):
        raw = load_fixture(name)
        raw["docstatus"] = 0
        assert _codes(_rejected(raw)) == {("docstatus", "not_submitted")}


def test_cancelled_documents_are_accepted_for_their_cancellation() -> None:
    for name in (SEPA_PAYMENT, INVOICE):
        raw = load_fixture(name)
        raw["docstatus"] = 2
        assert parse_submission(raw, currency="EUR").docstatus == 2


def test_missing_docstatus_counts_as_draft() -> None:
    raw = load_fixture(INVOICE)
    del raw["docstatus"]
    assert _codes(_rejected(raw)) == {("docstatus", "not_submitted")}


@pytest.mark.parametrize("doctype", ["Journal Entry", "Customer", "", None])
def test_unknown_doctype_is_rejected_for_submission(doctype: str | None) -> None:
    raw = load_fixture(INVOICE)
    raw["doctype"] = doctype
    assert _codes(_rejected(raw)) == {("doctype", "unsupported_doctype")}


def test_missing_doctype_is_rejected() -> None:
    raw = load_fixture(INVOICE)
    del raw["doctype"]
    assert _codes(_rejected(raw)) == {("doctype", "unsupported_doctype")}


def test_submittable_doctype_is_not_a_reference_document() -> None:
    assert _codes(_rejected(load_fixture(INVOICE), today=TODAY)) == {("doctype", "unsupported_doctype")}


@pytest.mark.parametrize("raw", [None, "Sales Invoice", 42, [load_fixture(INVOICE)]])
def test_non_object_is_rejected(raw: object) -> None:
    assert _codes(_rejected(raw)) == {("document", "not_an_object")}
    assert _codes(_rejected(raw, today=TODAY)) == {("document", "not_an_object")}


# ---- custom field mapping ------------------------------------------------------------------------------------------


def test_custom_coverage_fields_map_to_coverage_start_and_end() -> None:
    invoice = parse_submission(load_fixture("sales_invoice_ACC-SINV-2025-00102.json"), currency="EUR")
    assert isinstance(invoice, SalesInvoice)
    assert invoice.coverage_start == dt.date(2025, 1, 1)
    assert invoice.coverage_end == dt.date(2025, 12, 31)


def test_null_coverage_stays_none() -> None:
    invoice = parse_submission(load_fixture(CREDIT_NOTE), currency="EUR")
    assert isinstance(invoice, SalesInvoice)
    assert invoice.coverage_start is None and invoice.coverage_end is None
    assert invoice.is_return is True and invoice.return_against == "ACC-SINV-2025-00102"
    assert invoice.grand_total == Decimal("-30.00")


def test_custom_sepa_batch_maps_to_sepa_batch() -> None:
    payment = parse_submission(load_fixture(SEPA_PAYMENT), currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert payment.sepa_batch == "BATCH-25-04-0001"
    assert payment.is_sepa and payment.is_member_payment


def test_custom_return_reason_maps_to_return_reason() -> None:
    raw = load_fixture(SEPA_PAYMENT)
    raw["mode_of_payment"] = "SEPA Direct Debit Return"
    raw["custom_return_reason"] = "AM04"
    payment = parse_submission(raw, currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert payment.return_reason == "AM04"
    assert payment.is_sepa  # "SEPA Direct Debit Return" counts as SEPA (docs/business-rules.md §4)


def test_internal_transfer_is_not_a_member_payment() -> None:
    payment = parse_submission(load_fixture("payment_entry_ACC-PAY-2025-00204.json"), currency="EUR")
    assert isinstance(payment, PaymentEntry)
    assert payment.party is None and not payment.is_member_payment and not payment.is_sepa


# ---- Temporal carries models as model_dump(mode="json") -> model_validate ------------------------------------------


@pytest.mark.parametrize("name", SUBMITTABLE_FIXTURES)
def test_submission_round_trips_through_json(name: str) -> None:
    doc = parse_submission(load_fixture(name), currency="EUR")
    payload = json.loads(json.dumps(doc.model_dump(mode="json")))
    again = type(doc).model_validate(payload)
    assert again == doc
    assert again.model_dump() == doc.model_dump()


def test_money_travels_as_a_string_in_json() -> None:
    doc = parse_submission(load_fixture(SEPA_PAYMENT), currency="EUR")
    payload = doc.model_dump(mode="json")
    assert payload["paid_amount"] == "15.00"
    assert payload["references"][0]["allocated_amount"] == "15.00"
    assert payload["sepa_batch"] == "BATCH-25-04-0001"


@pytest.mark.parametrize("raw", _reference_docs(), ids=lambda d: f"{d['doctype']}:{d['name']}")
def test_reference_round_trips_through_json(raw: dict[str, Any]) -> None:
    doc = parse_reference(raw, currency="EUR", today=TODAY)
    payload = json.loads(json.dumps(doc.model_dump(mode="json")))
    assert type(doc).model_validate(payload) == doc


# ---- reference documents: IBAN, BIC, mandate dates -----------------------------------------------------------------


def test_valid_mandate_parses_with_money_maximum() -> None:
    mandate = parse_reference(_mandate(), currency="EUR", today=TODAY)
    assert isinstance(mandate, SepaMandate)
    assert str(mandate.maximum_amount) == "150.00"
    assert mandate.expiry_date is None


@pytest.mark.parametrize("iban", ["NL91ABNA0417164300", "NL20INGB0001234567", "NL44RABO0123456789"])
def test_checksum_valid_ibans_are_accepted(iban: str) -> None:
    assert parse_reference(_mandate(iban=iban, bic=None), currency="EUR", today=TODAY).iban == iban


@pytest.mark.parametrize(
    ("iban", "bic"),
    [
        ("NL91 ABNA 0417 1643 00", "ABNANL2A"),  # the printed form ERPNext accepts
        ("nl91abna0417164300", "abnanl2a"),
        (" NL91\tABNA 0417164300 ", " ABNA NL2A "),
    ],
)
def test_iban_and_bic_are_kept_compact_and_upper_case(iban: str, bic: str) -> None:
    mandate = parse_reference(_mandate(iban=iban, bic=bic), currency="EUR", today=TODAY)
    assert isinstance(mandate, SepaMandate)
    assert (mandate.iban, mandate.bic) == ("NL91ABNA0417164300", "ABNANL2A")


def test_blank_bic_is_none() -> None:
    assert parse_reference(_mandate(bic="  "), currency="EUR", today=TODAY).bic is None


def test_iban_longer_than_any_country_uses_is_rejected_by_field() -> None:
    assert {e.field for e in _rejected(_mandate(iban="NL91" + "1" * 40), today=TODAY)} == {"iban"}


@pytest.mark.parametrize("iban", ["NL00ABNA0417164300", "NL91ABNA041716430", "XX91ABNA0417164300", "not an iban"])
def test_invalid_iban_is_rejected(iban: str) -> None:
    assert _codes(_rejected(_mandate(iban=iban), today=TODAY)) == {("iban", "invalid_iban")}


def test_invalid_bic_is_rejected() -> None:
    assert _codes(_rejected(_mandate(bic="XX"), today=TODAY)) == {("bic", "invalid_bic")}


def test_sign_date_in_the_future_is_rejected() -> None:
    tomorrow = TODAY + dt.timedelta(days=1)
    assert _codes(_rejected(_mandate(sign_date=tomorrow.isoformat()), today=TODAY)) == {("sign_date", "in_future")}


def test_sign_date_today_is_accepted() -> None:
    mandate = parse_reference(_mandate(sign_date=TODAY.isoformat()), currency="EUR", today=TODAY)
    assert isinstance(mandate, SepaMandate) and mandate.sign_date == TODAY


def test_expiry_before_sign_date_is_rejected() -> None:
    raw = _mandate(sign_date="2024-11-15", expiry_date="2024-11-14")
    assert [e.field for e in _rejected(raw, today=TODAY)] == ["expiry_date"]


def test_expiry_on_sign_date_is_accepted() -> None:
    raw = _mandate(sign_date="2024-11-15", expiry_date="2024-11-15")
    mandate = parse_reference(raw, currency="EUR", today=TODAY)
    assert isinstance(mandate, SepaMandate) and mandate.expiry_date == dt.date(2024, 11, 15)


def test_all_mandate_problems_are_reported_together() -> None:
    raw = _mandate(iban="NL00ABNA0417164300", sign_date="2025-05-01", expiry_date="2025-04-30")
    assert {e.field for e in _rejected(raw, today=TODAY)} == {"iban", "sign_date", "expiry_date"}


def test_unknown_member_status_is_rejected() -> None:
    raw = copy.deepcopy(load_fixture("reference_data.json")["members"][0])
    raw["status"] = "Sleeping"
    assert [e.field for e in _rejected(raw, today=TODAY)] == ["status"]


# ---- workflow ids (domain/ids.py) ----------------------------------------------------------------------------------


def test_workflow_id_is_site_doctype_name() -> None:
    assert (
        workflow_id("leden.groenevereniging.nl", "Payment Entry", "ACC-PAY-2025-00088-1")
        == "leden.groenevereniging.nl:Payment Entry:ACC-PAY-2025-00088-1"
    )


def test_amended_document_gets_its_own_workflow_id() -> None:
    site = "leden.example.nl"
    assert workflow_id(site, "Payment Entry", "ACC-PAY-2025-00088") != workflow_id(
        site, "Payment Entry", "ACC-PAY-2025-00088-1"
    )


def test_a_colon_in_a_name_cannot_take_another_documents_workflow_id() -> None:
    """An invoice named ``X:cancel`` is not X's cancellation; ``Y:reminders`` is not Y's reminder flow."""
    from workflows.reminders import reminders_id

    site = "leden.example.nl"
    assert workflow_id(site, "Sales Invoice", "X:cancel") != workflow_id(site, "Sales Invoice", "X", cancellation=True)
    assert workflow_id(site, "Sales Invoice", "Y:reminders") != reminders_id(site, "Y")
    assert workflow_id(site, "Sales Invoice", "X%3Acancel") != workflow_id(site, "Sales Invoice", "X:cancel")
    ids = {workflow_id(site, "Sales Invoice", n) for n in ["A:B", "A%3AB", "A%253AB", "A%B", "A%25B"]}
    assert len(ids) == 5


@pytest.mark.parametrize("site", ["leden.example.nl", "localhost", "a", "site-1.test", "x" * 140])
def test_check_site_accepts_site_names(site: str) -> None:
    assert check_site(site) == site


@pytest.mark.parametrize("site", ["", "a:b", ".leading-dot", "-leading-dash", "with space", "x" * 141, None])
def test_check_site_rejects_bad_names(site: str | None) -> None:
    with pytest.raises(ValueError, match="site"):
        check_site(site)  # type: ignore[arg-type]


def test_workflow_id_rejects_bad_site() -> None:
    with pytest.raises(ValueError):
        workflow_id("a:b", "Sales Invoice", "ACC-SINV-2025-00101")


def test_check_site_rejects_trailing_newline() -> None:
    with pytest.raises(ValueError):
        check_site("leden.example.nl\n")


# ---- hostile input: rejected by field, never a crash, never accepted into a state that cannot be processed ----------


def _member(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load_fixture("reference_data.json")["members"][0])
    raw.update(changes)
    return raw


@pytest.mark.parametrize("amount", [1e26, "1e26", 10**30, "9" * 40, "1e1000", -1e26])
def test_amounts_far_beyond_the_ledger_are_rejected_not_crashed(amount: object) -> None:
    raw = load_fixture(INVOICE)
    raw["grand_total"] = amount
    assert _codes(_rejected(raw)) == {("grand_total", "invalid_value_error")}


@pytest.mark.parametrize("doctype", [{"a": 1}, ["Sales Invoice"], 7, None])
def test_a_doctype_that_is_not_a_string_is_rejected_by_field(doctype: object) -> None:
    raw = load_fixture(INVOICE)
    raw["doctype"] = doctype
    assert _codes(_rejected(raw)) == {("doctype", "unsupported_doctype")}


@pytest.mark.parametrize("field", ["name", "customer", "member"])
def test_a_nul_character_is_rejected_by_field(field: str) -> None:
    raw = load_fixture(INVOICE)
    raw[field] = "ACC\x00X"
    errors = _rejected(raw)
    assert [e.field for e in errors] == [field] and "NUL" in errors[0].message


def test_a_nul_character_in_a_reference_document_is_rejected_by_field() -> None:
    assert [e.field for e in _rejected(_member(full_name="Jan\x00Bakker"), today=TODAY)] == ["full_name"]


def test_text_longer_than_an_erp_field_is_rejected_by_field() -> None:
    raw = load_fixture(INVOICE)
    raw["customer"] = "x" * 10_000_000
    assert _codes(_rejected(raw)) == {("customer", "invalid_string_too_long")}


def test_more_rows_than_any_real_document_are_rejected() -> None:
    raw = load_fixture(INVOICE)
    raw["items"] = raw["items"][:1] * 100_000
    assert _codes(_rejected(raw)) == {("items", "invalid_too_long")}


@pytest.mark.parametrize(("field", "value"), [("due_date", "9999-12-31"), ("posting_date", "0001-01-01")])
def test_dates_no_dues_ledger_can_meet_are_rejected(field: str, value: str) -> None:
    raw = load_fixture(INVOICE)
    raw[field] = value
    errors = _rejected(raw)
    assert [e.field for e in errors] == [field] and "between 1900-01-01 and 2199-12-31" in errors[0].message


@pytest.mark.parametrize("email", ["jan@example.nl\r\nBcc: all@example.nl", "jan@example.nl\n", "two@a.nl, b@c.nl"])
def test_a_member_email_that_is_not_one_address_is_rejected(email: str) -> None:
    errors = _rejected(_member(email=email.replace("jan@example.nl\n", "jan@exa\nmple.nl")), today=TODAY)
    assert [e.field for e in errors] == ["email"]


def test_a_plain_member_email_is_accepted() -> None:
    member = parse_reference(_member(email=" jan.bakker@example.nl "), currency="EUR", today=TODAY)
    assert isinstance(member, Member) and member.email == "jan.bakker@example.nl"


@pytest.mark.parametrize("docs", [None, "Customer", {"doctype": "Customer", "name": "C"}])
def test_reference_data_that_is_not_a_list_is_rejected_by_field(docs: Any) -> None:
    from starter.reference_data import parse_all

    with pytest.raises(DocumentRejected) as info:
        parse_all(docs, currency="EUR", today=TODAY)
    assert _codes(info.value.errors) == {("docs", "not_a_list")}
