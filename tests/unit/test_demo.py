"""Unit tests for the deterministic demo association generator (``infra.demo``): the whole association, then the
pure rules of its modules (periods, collection days, bank accounts, names)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
import schwifty

from infra.demo import DemoAssociation, generate
from infra.demo.draws import Draws
from infra.demo.ibans import account_number, eleven_test_check_digit
from infra.demo.invoices import dues_periods
from infra.demo.model import Window
from infra.demo.names import ascii_fold, customer_name, email_candidates, email_local_parts, numbered
from infra.demo.parameters import PLANS
from infra.demo.payments import next_day_of_month

TODAY = dt.date(2025, 8, 15)


@pytest.fixture(scope="module")
def small() -> DemoAssociation:
    return generate(today=TODAY)


@pytest.fixture(scope="module")
def large() -> DemoAssociation:
    return generate(members=200, months=12, seed=11, today=TODAY)


@pytest.fixture(scope="module", params=["small", "large"])
def assoc(request: pytest.FixtureRequest) -> DemoAssociation:
    return request.getfixturevalue(request.param)


def _money(value: Any) -> Decimal:
    assert isinstance(value, float), value
    decimal = Decimal(str(value))
    assert decimal == decimal.quantize(Decimal("0.01")), value
    return decimal


def _mandate_by_customer(assoc: DemoAssociation) -> dict[str, dict[str, Any]]:
    member_customer = {m["name"]: m["customer"] for m in assoc.members}
    return {member_customer[mandate["member"]]: mandate for mandate in assoc.mandates}


# ---- determinism ---------------------------------------------------------------------------------------------------


def test_same_arguments_give_identical_output() -> None:
    first = generate(members=60, months=8, seed=3, today=TODAY)
    second = generate(members=60, months=8, seed=3, today=TODAY)
    assert json.dumps(first.reference_data() + first.documents()) == json.dumps(
        second.reference_data() + second.documents()
    )
    assert first == second


def test_other_seed_gives_other_output() -> None:
    assert generate(seed=1, today=TODAY).documents() != generate(seed=2, today=TODAY).documents()


def test_output_is_json_serialisable(small: DemoAssociation) -> None:
    json.dumps({"site": small.site, "reference": small.reference_data(), "documents": small.documents()})


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        generate(members=0, today=TODAY)
    with pytest.raises(ValueError):
        generate(months=0, today=TODAY)


# ---- shape and counts ----------------------------------------------------------------------------------------------


def test_counts_and_accessors(assoc: DemoAssociation) -> None:
    assert assoc.site
    assert assoc.reference_data() == assoc.customers + assoc.members + assoc.mandates
    documents = assoc.documents()
    assert len(documents) == len(assoc.invoices) + len(assoc.payments)
    assert {d["doctype"] for d in assoc.customers} == {"Customer"}
    assert {d["doctype"] for d in assoc.members} == {"Member"}
    assert {d["doctype"] for d in assoc.mandates} == {"SEPA Mandate"}
    assert {d["doctype"] for d in assoc.invoices} == {"Sales Invoice"}
    assert {d["doctype"] for d in assoc.payments} == {"Payment Entry"}
    assert all(d["docstatus"] == 1 for d in documents)


def test_member_count_is_exact() -> None:
    for count in (1, 2, 7, 40, 123):
        assert len(generate(members=count, today=TODAY).members) == count


def test_names_unique(assoc: DemoAssociation) -> None:
    for docs in (assoc.customers, assoc.members, assoc.mandates, assoc.invoices, assoc.payments):
        names = [d["name"] for d in docs]
        assert len(names) == len(set(names))
    child_names = [row["name"] for inv in assoc.invoices for row in inv["items"]]
    child_names += [row["name"] for pay in assoc.payments for row in pay["references"]]
    assert len(child_names) == len(set(child_names))
    for field, docs in (("mandate_id", assoc.mandates), ("email", assoc.members), ("iban", assoc.mandates)):
        values = [d[field] for d in docs]
        assert len(values) == len(set(values)), field


def test_name_formats(assoc: DemoAssociation) -> None:
    assert all(re.fullmatch(r"Assoc-Member-\d{4}-\d{2}-\d{4}", m["name"]) for m in assoc.members)
    assert all(re.fullmatch(r"MANDATE-\d{2}-\d{2}-\d{4}", m["mandate_id"]) for m in assoc.mandates)
    assert all(re.fullmatch(r"ACC-SINV-\d{4}-\d{5}", i["name"]) for i in assoc.invoices)
    assert all(re.fullmatch(r"ACC-PAY-\d{4}-\d{5}", p["name"]) for p in assoc.payments)
    assert all(m["email"].endswith("@example.nl") for m in assoc.members)
    for invoice in assoc.invoices:
        if invoice["membership"] is not None:
            assert re.fullmatch(r"MEMB-\d{2}-\d{2}-\d{4}", invoice["membership"])


def test_customers_and_families(large: DemoAssociation) -> None:
    members_of: defaultdict[str, list[str]] = defaultdict(list)
    for member in large.members:
        members_of[member["customer"]].append(member["name"])
    customer_names = {c["name"] for c in large.customers}
    assert set(members_of) == customer_names
    assert all(1 <= len(names) <= 2 for names in members_of.values())
    families = [c for c, names in members_of.items() if len(names) == 2]
    assert 0.03 <= len(families) / len(large.customers) <= 0.20
    for customer in large.customers:
        assert customer["member"] in members_of[customer["name"]]
    member_customer = {m["name"]: m["customer"] for m in large.members}
    mandates_per_customer = Counter(member_customer[mandate["member"]] for mandate in large.mandates)
    assert set(mandates_per_customer.values()) == {1}  # at most one mandate per customer, also for families
    family_mandates = [c for c in families if c in mandates_per_customer]
    assert family_mandates, "expected at least one family paying by mandate"


# ---- ratios --------------------------------------------------------------------------------------------------------


def test_mandate_ratio(large: DemoAssociation) -> None:
    with_mandate = _mandate_by_customer(large)
    covered = sum(1 for m in large.members if m["customer"] in with_mandate)
    assert abs(covered / len(large.members) - 0.75) <= 0.10
    # a family shares one mandate (held by its first member), so there are somewhat fewer mandates than covered members
    assert 0.60 <= len(large.mandates) / len(large.members) <= covered / len(large.members)


def test_unreconciled_ratio(large: DemoAssociation) -> None:
    unreconciled = [p for p in large.payments if not p["references"]]
    assert abs(len(unreconciled) / len(large.members) - 0.30) <= 0.10
    for payment in unreconciled:
        assert payment["mode_of_payment"] == "Bank Transfer"
        assert payment["reference_no"].startswith("GIFT-")
        assert Decimal(25) <= _money(payment["paid_amount"]) <= Decimal(150)
        assert _money(payment["total_allocated_amount"]) == 0
        assert _money(payment["unallocated_amount"]) == _money(payment["paid_amount"])


def test_payment_behaviour_mix(large: DemoAssociation) -> None:
    allocations: defaultdict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for payment in large.payments:
        for ref in payment["references"]:
            allocations[ref["reference_name"]].append((payment["posting_date"], _money(ref["allocated_amount"])))
    matured = [inv for inv in large.invoices if inv["due_date"] < TODAY.isoformat()]
    on_time = late = unpaid = partial = 0
    for invoice in matured:
        rows = allocations[invoice["name"]]
        if not rows:
            unpaid += 1
        elif sum(amount for _, amount in rows) < _money(invoice["grand_total"]):
            partial += 1
        elif max(day for day, _ in rows) <= invoice["due_date"]:
            on_time += 1
        else:
            late += 1
    assert 0.55 <= on_time / len(matured) <= 0.95
    assert late > 0 and unpaid > 0 and partial > 0


# ---- amounts, plans and invoices -----------------------------------------------------------------------------------


def test_invoices(assoc: DemoAssociation) -> None:
    member_names = {m["name"]: m for m in assoc.members}
    dues = {"Membership Dues - Monthly": 15, "Membership Dues - Quarterly": 9, "Membership Dues - Annual": 30}
    for invoice in assoc.invoices:
        member = member_names[invoice["member"]]
        assert invoice["customer"] == member["customer"]
        total = _money(invoice["grand_total"])
        assert _money(invoice["outstanding_amount"]) == total == _money(invoice["rounded_total"])
        assert invoice["status"] == "Unpaid" and invoice["currency"] == "EUR" and invoice["is_return"] == 0
        posting = dt.date.fromisoformat(invoice["posting_date"])
        assert dt.date.fromisoformat(invoice["due_date"]) == posting + dt.timedelta(days=30)
        assert posting >= dt.date.fromisoformat(member["member_since"])
        [item] = invoice["items"]
        assert _money(item["amount"]) == total and item["parent"] == invoice["name"]
        if invoice["membership"] is None:  # extra contribution
            assert invoice["custom_coverage_start_date"] is None and invoice["custom_coverage_end_date"] is None
            assert Decimal(25) <= total <= Decimal(150) and total % Decimal("0.5") == 0
        else:
            assert total == dues[item["item_code"]]
            start = invoice["custom_coverage_start_date"]
            assert start == invoice["posting_date"] <= invoice["custom_coverage_end_date"]
    assert any(inv["membership"] is None for inv in assoc.invoices)


def test_invoices_span_the_window() -> None:
    assoc = generate(members=80, months=6, today=TODAY)
    postings = sorted(inv["posting_date"] for inv in assoc.invoices)
    assert postings[0] > "2025-02-15" and postings[-1] <= TODAY.isoformat()
    months = {posting[:7] for posting in postings}
    assert {"2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"} <= months
    assert months <= {"2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"}


def test_each_member_has_one_dues_plan(assoc: DemoAssociation) -> None:
    plans: defaultdict[str, set[str]] = defaultdict(set)
    for invoice in assoc.invoices:
        if invoice["membership"] is not None:
            plans[invoice["member"]].add(invoice["items"][0]["item_code"])
    assert all(len(codes) == 1 for codes in plans.values())


# ---- mandates and IBANs --------------------------------------------------------------------------------------------


def test_ibans_valid(assoc: DemoAssociation) -> None:
    bics = {"ABNA": "ABNANL2A", "INGB": "INGBNL2A", "RABO": "RABONL2U"}
    ibans = [(m["iban"], m["bic"]) for m in assoc.mandates]
    ibans += [(m["iban"], m["bic"]) for m in assoc.members if m["iban"] is not None]
    assert ibans
    for iban, bic in ibans:
        parsed = schwifty.IBAN(iban)  # raises on an invalid checksum
        assert parsed.validate()
        assert parsed.country_code == "NL"
        assert bics[parsed.bank_code] == bic == str(parsed.bic)


def test_mandates(assoc: DemoAssociation) -> None:
    members = {m["name"]: m for m in assoc.members}
    for mandate in assoc.mandates:
        holder = members[mandate["member"]]
        assert mandate["status"] == "Active" and mandate["is_active"] == 1
        assert mandate["maximum_amount"] == 150.0
        assert mandate["iban"] == holder["iban"] and mandate["bic"] == holder["bic"]
        assert holder["member_since"] <= mandate["sign_date"] <= TODAY.isoformat()
        assert mandate["member_name"] == holder["full_name"]


def test_payment_modes(assoc: DemoAssociation) -> None:
    mandates = _mandate_by_customer(assoc)
    method = {m["customer"]: m["payment_method"] for m in assoc.members}
    for payment in assoc.payments:
        assert payment["payment_type"] == "Receive" and payment["party_type"] == "Customer"
        assert payment["reference_date"] == payment["posting_date"]
        if payment["mode_of_payment"] == "SEPA Direct Debit":
            mandate = mandates[payment["party"]]
            assert method[payment["party"]] == "SEPA Direct Debit"
            assert mandate["sign_date"] <= payment["posting_date"]
            assert re.fullmatch(r"BATCH-\d{2}-\d{2}-\d{4}", payment["custom_sepa_batch"])
            assert payment["reference_no"] == payment["custom_sepa_batch"]
            for ref in payment["references"]:
                assert _money(ref["allocated_amount"]) <= Decimal(str(mandate["maximum_amount"]))
        else:
            assert payment["mode_of_payment"] == "Bank Transfer"
            assert payment["custom_sepa_batch"] is None
            if payment["references"]:  # allocated bank transfers come from members without direct debit
                assert not (payment["party"] in mandates and method[payment["party"]] == "SEPA Direct Debit")
    assert {p["mode_of_payment"] for p in assoc.payments} == {"SEPA Direct Debit", "Bank Transfer"}


# ---- ledger consistency --------------------------------------------------------------------------------------------


def test_allocations_never_exceed_outstanding(assoc: DemoAssociation) -> None:
    outstanding: dict[str, Decimal] = {}
    invoices = {inv["name"]: inv for inv in assoc.invoices}
    customers = {c["name"] for c in assoc.customers}
    for doc in assoc.documents():
        if doc["doctype"] == "Sales Invoice":
            outstanding[doc["name"]] = _money(doc["outstanding_amount"])
            continue
        assert doc["party"] in customers
        paid = _money(doc["paid_amount"])
        assert paid > 0 and _money(doc["received_amount"]) == paid
        allocated_total = Decimal(0)
        for ref in doc["references"]:
            assert ref["reference_doctype"] == "Sales Invoice"
            name = ref["reference_name"]
            assert name in outstanding, f"{doc['name']} references {name} before it was submitted"
            invoice = invoices[name]
            assert invoice["customer"] == doc["party"]
            assert invoice["posting_date"] <= doc["posting_date"]
            allocated = _money(ref["allocated_amount"])
            assert _money(ref["outstanding_amount"]) == outstanding[name]
            assert _money(ref["total_amount"]) == _money(invoice["grand_total"])
            assert 0 < allocated <= outstanding[name]
            outstanding[name] -= allocated
            allocated_total += allocated
        assert allocated_total <= paid
        assert _money(doc["total_allocated_amount"]) == allocated_total
        if doc["references"]:
            assert allocated_total == paid
    assert all(value >= 0 for value in outstanding.values())


def test_documents_order(assoc: DemoAssociation) -> None:
    documents = assoc.documents()
    keys = [(d["posting_date"], 0 if d["doctype"] == "Sales Invoice" else 1) for d in documents]
    assert keys == sorted(keys)
    position = {d["name"]: index for index, d in enumerate(documents)}
    for payment in assoc.payments:
        for ref in payment["references"]:
            assert position[ref["reference_name"]] < position[payment["name"]]


def test_names_follow_submission_order(assoc: DemoAssociation) -> None:
    for docs in (assoc.invoices, assoc.payments):
        ordered = sorted(docs, key=lambda d: (d["posting_date"], d["creation"]))
        assert [d["name"] for d in ordered] == sorted(d["name"] for d in docs)


# ---- dates ---------------------------------------------------------------------------------------------------------


def test_no_date_after_today(assoc: DemoAssociation) -> None:
    today = TODAY.isoformat()
    for doc in assoc.reference_data() + assoc.documents():
        assert doc["creation"][:10] <= today and doc["modified"][:10] <= today
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}", doc["creation"])
        for field in ("posting_date", "reference_date", "sign_date", "member_since"):
            if doc.get(field) is not None:
                assert doc[field] <= today, (doc["name"], field)
                dt.date.fromisoformat(doc[field])


def test_today_on_month_boundaries() -> None:
    for today in (dt.date(2025, 1, 1), dt.date(2024, 2, 29), dt.date(2025, 12, 31)):
        assoc = generate(members=30, months=3, today=today)
        assert all(doc["posting_date"] <= today.isoformat() for doc in assoc.documents())
        assert assoc.invoices and assoc.payments


# ---- module rules --------------------------------------------------------------------------------------------------

MONTHLY, QUARTERLY, ANNUAL = PLANS
D = dt.date


def test_window_excludes_its_start_and_includes_today() -> None:
    window = Window(start=D(2025, 2, 15), today=D(2025, 8, 15))
    assert D(2025, 2, 15) not in window and D(2025, 8, 16) not in window
    assert D(2025, 2, 16) in window and D(2025, 8, 15) in window
    assert window.first_day == D(2025, 2, 16)


def test_monthly_dues_per_calendar_month() -> None:
    window = Window(start=D(2025, 5, 15), today=D(2025, 8, 15))
    assert dues_periods(MONTHLY, D(2020, 1, 10), window) == [
        (D(2025, 6, 1), D(2025, 6, 1), D(2025, 6, 30)),
        (D(2025, 7, 1), D(2025, 7, 1), D(2025, 7, 31)),
        (D(2025, 8, 1), D(2025, 8, 1), D(2025, 8, 31)),
    ]


def test_quarterly_dues_of_a_joiner_start_on_the_joining_day() -> None:
    window = Window(start=D(2025, 2, 15), today=D(2025, 8, 15))
    assert dues_periods(QUARTERLY, D(2025, 5, 20), window) == [
        (D(2025, 5, 20), D(2025, 5, 20), D(2025, 6, 30)),
        (D(2025, 7, 1), D(2025, 7, 1), D(2025, 9, 30)),
    ]


def test_annual_dues_on_the_anniversary() -> None:
    window = Window(start=D(2024, 8, 15), today=D(2025, 8, 15))
    assert dues_periods(ANNUAL, D(2023, 5, 10), window) == [(D(2025, 5, 10), D(2025, 5, 10), D(2026, 5, 9))]
    assert dues_periods(ANNUAL, D(2023, 9, 1), window) == [(D(2024, 9, 1), D(2024, 9, 1), D(2025, 8, 31))]


@pytest.mark.parametrize(
    ("after", "days", "expected"),
    [
        (D(2025, 1, 6), (6, 21), D(2025, 1, 6)),
        (D(2025, 1, 7), (6, 21), D(2025, 1, 21)),
        (D(2025, 1, 22), (6, 21), D(2025, 2, 6)),
        (D(2025, 12, 22), (6, 21), D(2026, 1, 6)),
        (D(2025, 2, 26), (30,), D(2025, 2, 28)),  # clamped to the month's last day
        (D(2025, 3, 1), (25,), D(2025, 3, 25)),
    ],
)
def test_next_day_of_month(after: dt.date, days: tuple[int, ...], expected: dt.date) -> None:
    assert next_day_of_month(after, days) == expected


def test_eleven_test_check_digit() -> None:
    assert eleven_test_check_digit([0, 4, 1, 7, 1, 6, 4, 3, 0]) == 0  # ABNA 0417164300
    assert eleven_test_check_digit([0] * 8 + [6]) is None  # the check would have to be 10


@pytest.mark.parametrize("bank_code", ["ABNA", "RABO", "INGB"])
def test_account_numbers(bank_code: str) -> None:
    rng = random.Random(5)
    for _ in range(50):
        account = account_number(rng, bank_code)
        assert len(account) == 10 and account.isdigit()
        if bank_code == "INGB":
            assert 100_000 <= int(account) <= 9_999_999
        else:
            assert sum(int(d) * (10 - i) for i, d in enumerate(account)) % 11 == 0


def test_customer_names() -> None:
    assert customer_name("Jan", "de Vries", family=False) == "Jan de Vries"
    assert customer_name("Jan", "de Vries", family=True) == "Familie De Vries"
    assert numbered("Jan Bos", set()) == "Jan Bos"
    assert numbered("Jan Bos", {"Jan Bos", "Jan Bos - 1"}) == "Jan Bos - 2"


def test_email_addresses() -> None:
    assert ascii_fold("El Amrani") == "elamrani"
    assert ascii_fold("Çelik-Öz") == "celikoz"
    assert email_local_parts("Jan", "de Vries") == ("jan.devries", "j.devries", "jandevries", "jdevries")
    assert list(itertools.islice(email_candidates("jbos"), 3)) == [
        "jbos@example.nl",
        "jbos2@example.nl",
        "jbos3@example.nl",
    ]


def test_draws_hand_out_each_value_once() -> None:
    draws = Draws(seed=1)
    assert draws.first_free(["a", "b"]) == "a"
    assert draws.first_free(["a", "b"]) == "b"
    assert draws.unique(iter(["b", "c"]).__next__) == "c"
    hashes = {draws.hash() for _ in range(100)}
    assert len(hashes) == 100 and all(re.fullmatch(r"[0-9a-f]{10}", h) for h in hashes)
