"""Turn raw ERPNext JSON into contracts, or into field-level errors that name what is wrong; the doctypes
duesflow runs pipelines for, and the workflow that runs each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.contracts import Customer, Member, PaymentEntry, SalesInvoice, SepaMandate
from domain.verdicts import DocumentRejected, FieldError


@dataclass(frozen=True)
class Submittable:
    """A doctype duesflow runs a pipeline for: its contract, and the workflow that runs it, by its Temporal type
    name (the domain imports no workflow class; the client and the worker hold the classes)."""

    contract: type[PaymentEntry | SalesInvoice]
    workflow: str


# The one map of doctype to workflow: the client starts, and the job API lists, the workflows named here.
SUBMITTABLE: dict[str, Submittable] = {
    "Payment Entry": Submittable(PaymentEntry, "PaymentEntryWorkflow"),
    "Sales Invoice": Submittable(SalesInvoice, "SalesInvoiceWorkflow"),
}
REFERENCE: dict[str, type[Customer | Member | SepaMandate]] = {
    "Customer": Customer,
    "Member": Member,
    "SEPA Mandate": SepaMandate,
}

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "document"
        code = "missing" if err["type"] == "missing" else f"invalid_{err['type']}"
        message = "is required" if err["type"] == "missing" else err["msg"]
        errors.append(FieldError(field=field, code=code, message=message))
    return errors


def _validate(model: type[M], raw: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise DocumentRejected(field_errors(exc)) from None


def _doctype_of(raw: object, allowed: Mapping[str, T]) -> T:
    if not isinstance(raw, Mapping):
        raise DocumentRejected(
            [FieldError(field="document", code="not_an_object", message="must be a JSON object (doc.as_dict())")]
        )
    doctype = raw.get("doctype")
    if not isinstance(doctype, str) or doctype not in allowed:
        raise DocumentRejected(
            [
                FieldError(
                    field="doctype",
                    code="unsupported_doctype",
                    message=f"must be one of {', '.join(sorted(allowed))}, got {doctype!r}",
                )
            ]
        )
    return allowed[doctype]


def _currency_errors(doc: PaymentEntry | SalesInvoice | Customer, currency: str) -> list[FieldError]:
    fields: dict[str, str | None]
    if isinstance(doc, PaymentEntry):
        fields = {
            "paid_from_account_currency": doc.paid_from_account_currency,
            "paid_to_account_currency": doc.paid_to_account_currency,
        }
    elif isinstance(doc, SalesInvoice):
        fields = {"currency": doc.currency}
    else:
        fields = {"default_currency": doc.default_currency}
    return [
        FieldError(
            field=name,
            code="unsupported_currency",
            message=f"is {value}, but this ledger keeps {currency} only",
        )
        for name, value in fields.items()
        if value is not None and value != currency
    ]


def parse_submission(raw: object, *, currency: str) -> PaymentEntry | SalesInvoice:
    """Parse a submitted (or cancelled) Payment Entry or Sales Invoice; raise ``DocumentRejected`` naming every
    bad field."""
    model = _doctype_of(raw, SUBMITTABLE).contract
    doc = _validate(model, raw)  # type: ignore[arg-type]
    errors = _currency_errors(doc, currency)
    if doc.docstatus == 0:
        errors.append(
            FieldError(
                field="docstatus",
                code="not_submitted",
                message="is 0 (draft); only submitted (1) and cancelled (2) documents are processed",
            )
        )
    if errors:
        raise DocumentRejected(errors)
    return doc


def parse_reference(raw: object, *, currency: str, today: dt.date) -> Customer | Member | SepaMandate:
    """Parse a Customer, Member or SEPA Mandate; IBAN and BIC are checked with schwifty."""
    from domain.banking import bank_account_errors

    model = _doctype_of(raw, REFERENCE)
    doc = _validate(model, raw)  # type: ignore[arg-type]
    errors: list[FieldError] = []
    if isinstance(doc, Customer):
        errors += _currency_errors(doc, currency)
    if isinstance(doc, SepaMandate):
        errors += bank_account_errors(doc, today=today)
    if errors:
        raise DocumentRejected(errors)
    return doc
