"""Builders of ERPNext-shaped documents for tests (the same shape as tests/fixtures/erpnext)."""

from __future__ import annotations

from typing import Any


def customer(name: str) -> dict[str, Any]:
    return {"doctype": "Customer", "name": name, "customer_name": name, "docstatus": 0, "default_currency": "EUR"}


def member(name: str, customer_name: str, payment_method: str = "Bank Transfer") -> dict[str, Any]:
    return {
        "doctype": "Member",
        "name": name,
        "full_name": f"Test {name}",
        "email": f"{name.lower()}@example.nl",
        "status": "Active",
        "customer": customer_name,
        "payment_method": payment_method,
    }


def mandate(mandate_id: str, member_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "doctype": "SEPA Mandate",
        "name": mandate_id.lower(),
        "mandate_id": mandate_id,
        "member": member_name,
        "account_holder_name": "Test Holder",
        "iban": "NL91ABNA0417164300",
        "bic": "ABNANL2A",
        "sign_date": "2024-11-15",
        "status": "Active",
        "frequency": "Monthly",
        "maximum_amount": 150.0,
        **extra,
    }


def invoice(
    name: str,
    customer_name: str,
    amount: float,
    *,
    posting_date: str = "2025-03-01",
    due_date: str | None = "2025-03-31",
    member_name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "doctype": "Sales Invoice",
        "name": name,
        "docstatus": 1,
        "customer": customer_name,
        "member": member_name,
        "membership": None,
        "posting_date": posting_date,
        "due_date": due_date,
        "currency": "EUR",
        "is_return": 0,
        "return_against": None,
        "grand_total": amount,
        "rounded_total": amount,
        "outstanding_amount": amount,
        "status": "Unpaid",
        "items": [{"idx": 1, "item_code": "Dues", "item_name": "Dues", "qty": 1.0, "rate": amount, "amount": amount}],
        **extra,
    }


def payment(
    name: str,
    party: str,
    amount: float,
    allocations: list[tuple[str, float]] = (),  # type: ignore[assignment]
    *,
    mode: str = "Bank Transfer",
    posting_date: str = "2025-04-02",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "doctype": "Payment Entry",
        "name": name,
        "docstatus": 1,
        "payment_type": "Receive",
        "party_type": "Customer",
        "party": party,
        "posting_date": posting_date,
        "mode_of_payment": mode,
        "paid_amount": amount,
        "received_amount": amount,
        "paid_from_account_currency": "EUR",
        "paid_to_account_currency": "EUR",
        "reference_no": f"REF-{name}",
        "references": [
            {"reference_doctype": "Sales Invoice", "reference_name": inv, "allocated_amount": alloc}
            for inv, alloc in allocations
        ],
        **extra,
    }
