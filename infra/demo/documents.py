"""The generated records as ERPNext ``doc.as_dict()`` documents: Customer, Member, SEPA Mandate, Sales Invoice and
Payment Entry (the last two submitted, with their child rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infra.demo.model import Allocation, Customer, Invoice, Member, Payment
from infra.demo.parameters import (
    BANK_ACCOUNT,
    COMPANY,
    COST_CENTER,
    DUES_INCOME_ACCOUNT,
    EXTRA_INCOME_ACCOUNT,
    MAXIMUM_MANDATE_AMOUNT,
    RECEIVABLE_ACCOUNT,
)

Doc = dict[str, Any]


def stamp(moment: dt.datetime) -> str:
    """Frappe's datetime format, with microseconds."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def amount(cents: int) -> float:
    return round(cents / 100, 2)


def _base(doctype: str, name: str, created: dt.datetime, owner: str, docstatus: int) -> Doc:
    return {
        "doctype": doctype,
        "name": name,
        "owner": owner,
        "creation": stamp(created),
        "modified": stamp(created),
        "modified_by": owner,
        "docstatus": docstatus,
        "idx": 0,
    }


def customer_doc(customer: Customer, treasurer: str) -> Doc:
    return {
        **_base("Customer", customer.name, customer.created, treasurer, 0),
        "customer_name": customer.name,
        "customer_type": "Individual",
        "customer_group": "Leden",
        "territory": "Netherlands",
        "member": customer.members[0].name,
        "default_currency": "EUR",
    }


def member_doc(member: Member, treasurer: str) -> Doc:
    customer = member.customer
    mandate = customer.mandate
    return {
        **_base("Member", member.name, member.created, treasurer, 0),
        "first_name": member.first_name,
        "last_name": member.last_name,
        "full_name": member.full_name,
        "email": member.email,
        "status": "Active",
        "customer": customer.name,
        "payment_method": customer.payment_method,
        "iban": mandate.iban if mandate else None,
        "bic": mandate.bic if mandate else None,
        "member_since": member.since.isoformat(),
    }


def mandate_doc(customer: Customer, treasurer: str) -> Doc:
    mandate = customer.mandate
    assert mandate is not None
    holder = customer.members[0]
    return {
        **_base("SEPA Mandate", mandate.hash_name, mandate.created, treasurer, 0),
        "mandate_id": mandate.mandate_id,
        "member": holder.name,
        "member_name": holder.full_name,
        "account_holder_name": mandate.holder,
        "iban": mandate.iban,
        "bic": mandate.bic,
        "bank_name": mandate.bank_name,
        "sign_date": mandate.sign_date.isoformat(),
        "expiry_date": None,
        "status": "Active",
        "is_active": 1,
        "mandate_type": "RCUR",
        "scheme": "SEPA",
        "frequency": holder.plan.frequency if not customer.family else "Variable",
        "maximum_amount": MAXIMUM_MANDATE_AMOUNT,
        "used_for_memberships": 1,
        "used_for_donations": mandate.used_for_donations,
    }


def invoice_doc(invoice: Invoice) -> Doc:
    member, customer = invoice.member, invoice.member.customer
    total = amount(invoice.cents)
    coverage = invoice.coverage
    return {
        **_base("Sales Invoice", invoice.name, invoice.created, invoice.owner, 1),
        "naming_series": "ACC-SINV-.YYYY.-",
        "company": COMPANY,
        "customer": customer.name,
        "customer_name": customer.name,
        "member": member.name,
        "membership": member.membership if invoice.is_dues else None,
        "is_membership_invoice": int(invoice.is_dues),
        "posting_date": invoice.posting.isoformat(),
        "posting_time": invoice.created.strftime("%H:%M:%S"),
        "due_date": invoice.due.isoformat(),
        "currency": "EUR",
        "conversion_rate": 1.0,
        "debit_to": RECEIVABLE_ACCOUNT,
        "is_return": 0,
        "return_against": None,
        "total": total,
        "net_total": total,
        "grand_total": total,
        "rounded_total": total,
        "disable_rounded_total": 1,
        "outstanding_amount": total,
        "paid_amount": 0.0,
        "status": "Unpaid",
        "custom_coverage_start_date": coverage[0].isoformat() if coverage else None,
        "custom_coverage_end_date": coverage[1].isoformat() if coverage else None,
        "items": [_invoice_item(invoice)],
        "taxes": [],
    }


def _invoice_item(invoice: Invoice) -> Doc:
    return {
        "doctype": "Sales Invoice Item",
        "name": invoice.hash_name,
        "parent": invoice.name,
        "parentfield": "items",
        "parenttype": "Sales Invoice",
        "idx": 1,
        "docstatus": 1,
        "item_code": invoice.item_code,
        "item_name": invoice.item_code,
        "qty": 1.0,
        "uom": "Nos",
        "rate": amount(invoice.cents),
        "amount": amount(invoice.cents),
        "income_account": DUES_INCOME_ACCOUNT if invoice.is_dues else EXTRA_INCOME_ACCOUNT,
        "cost_center": COST_CENTER,
    }


def payment_doc(payment: Payment, treasurer: str) -> Doc:
    allocated = sum(allocation.cents for allocation in payment.allocations)
    paid = amount(payment.cents)
    return {
        **_base("Payment Entry", payment.name, payment.created, treasurer, 1),
        "naming_series": "ACC-PAY-.YYYY.-",
        "payment_type": "Receive",
        "company": COMPANY,
        "posting_date": payment.posting.isoformat(),
        "mode_of_payment": payment.mode,
        "party_type": "Customer",
        "party": payment.customer.name,
        "party_name": payment.customer.name,
        "paid_from": RECEIVABLE_ACCOUNT,
        "paid_to": BANK_ACCOUNT,
        "paid_from_account_currency": "EUR",
        "paid_to_account_currency": "EUR",
        "paid_amount": paid,
        "received_amount": paid,
        "source_exchange_rate": 1.0,
        "target_exchange_rate": 1.0,
        "total_allocated_amount": amount(allocated),
        "unallocated_amount": amount(payment.cents - allocated),
        "difference_amount": 0.0,
        "reference_no": payment.reference_no,
        "reference_date": payment.posting.isoformat(),
        "custom_sepa_batch": payment.batch,
        "status": "Submitted",
        "references": [_reference_row(payment, index, a) for index, a in enumerate(payment.allocations, start=1)],
    }


def _reference_row(payment: Payment, index: int, allocation: Allocation) -> Doc:
    return {
        "doctype": "Payment Entry Reference",
        "name": allocation.hash_name,
        "parent": payment.name,
        "parentfield": "references",
        "parenttype": "Payment Entry",
        "idx": index,
        "docstatus": 1,
        "reference_doctype": "Sales Invoice",
        "reference_name": allocation.invoice.name,
        "total_amount": amount(allocation.invoice.cents),
        "outstanding_amount": amount(allocation.outstanding_before),
        "allocated_amount": amount(allocation.cents),
        "due_date": allocation.invoice.due.isoformat(),
    }
