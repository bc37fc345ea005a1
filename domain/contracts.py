"""Pydantic contracts for ERPNext documents, exactly as ``doc.as_dict()`` produces them.

Extra fields are ignored (ERPNext sends dozens we do not need); dates arrive as ISO strings and amounts as JSON
numbers, which become 2-decimal ``Decimal`` here so no float ever reaches the ledger.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from domain.payments import is_member_payment
from domain.sepa_returns import is_sepa_return

CENT = Decimal("0.01")


def _to_money(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float | int | str | Decimal):
        return _decimal(value, CENT, limit=Decimal("10000000000"), column="NUMERIC(12,2)")
    raise ValueError("must be a number")


def _decimal(value: float | int | str | Decimal, step: Decimal, *, limit: Decimal, column: str) -> Decimal:
    text = str(value).strip()
    if "_" in text:  # Decimal() would read "1_000" as 1000
        raise ValueError("must be a number")
    try:
        # str() first: Decimal(0.1) would carry the float's binary noise into the ledger.
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if abs(number) >= limit:  # before rounding too: quantize() itself fails on numbers beyond its precision
        raise ValueError(f"is too large for the ledger ({column})")
    number = number.quantize(step, rounding=ROUND_HALF_UP)
    if abs(number) >= limit:  # after rounding: 9999999999.995 becomes 10000000000.00
        raise ValueError(f"is too large for the ledger ({column})")
    return number


def _to_quantity(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, float | int | str | Decimal):
        raise ValueError("must be a number")
    return _decimal(value, Decimal("0.001"), limit=Decimal("1000000000"), column="NUMERIC(12,3)")


# Serialised as a string so the amount survives JSON (Temporal payloads) without float rounding.
Money = Annotated[Decimal, BeforeValidator(_to_money), PlainSerializer(str, return_type=str, when_used="json")]
Quantity = Annotated[Decimal, BeforeValidator(_to_quantity), PlainSerializer(str, return_type=str, when_used="json")]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _storable(value: Any) -> Any:
    """PostgreSQL text cannot hold a NUL character: a value with one would pass here and fail in every step-1
    attempt afterwards. Rejected at the boundary, naming the field."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# ERPNext's Data and Link fields are VARCHAR(140); the ledger's columns follow. Longer text is not an ERP value.
TEXT_LIMIT = 140
Text = Annotated[str, Field(max_length=TEXT_LIMIT), AfterValidator(_storable)]
OptStr = Annotated[Text | None, BeforeValidator(_blank_to_none)]

# Dates a dues ledger can meet. Far-off dates (9999-12-31) pass a date parser but overflow every timer and date
# computation that adds days to them.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)


def _plausible(value: dt.date | None) -> dt.date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


ErpDate = Annotated[dt.date, AfterValidator(_plausible)]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank_to_none), AfterValidator(_plausible)]

# Rows per document: far above any real invoice or payment, far below what Temporal's payload limits allow.
MAX_ROWS = 500


EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def is_email(value: str) -> bool:
    """One address, no whitespace or control characters: a CR/LF would be a header injection in every reminder."""
    return EMAIL.fullmatch(value) is not None


def _email(value: str | None) -> str | None:
    if value is not None and not is_email(value):
        raise ValueError("must be one e-mail address such as name@example.nl")
    return value


OptEmail = Annotated[OptStr, AfterValidator(_email)]


def _compact_upper(value: Any) -> Any:
    """Bank identifiers in their electronic form: ERPNext accepts the printed form of an IBAN (groups of four with
    spaces, any case), and the ledger, the last-four-digits display and every comparison need one spelling."""
    return "".join(value.split()).upper() if isinstance(value, str) else value


# IBAN and BIC are stored compact and upper-case; whether they are valid is banking.py's question.
BankId = Annotated[str, BeforeValidator(_compact_upper), Field(min_length=1, max_length=34)]
OptBankId = Annotated[str | None, BeforeValidator(_blank_to_none), BeforeValidator(_compact_upper)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=TEXT_LIMIT), AfterValidator(_storable)]


class ErpDocument(BaseModel):
    """Common base: tolerant of ERPNext's extra fields, strict about the ones we use."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    doctype: str
    name: NonEmpty
    docstatus: Literal[0, 1, 2] = 0


class Customer(ErpDocument):
    doctype: Literal["Customer"] = "Customer"
    customer_name: OptStr = None
    default_currency: OptStr = None


MemberStatus = Literal["Pending", "Active", "Rejected", "Expired", "Suspended", "Banned", "Deceased", "Terminated"]
PaymentMethod = Literal["Bank Transfer", "SEPA Direct Debit", "Mollie", "Credit Card", "Cash", "Other"]


class Member(ErpDocument):
    doctype: Literal["Member"] = "Member"
    full_name: OptStr = None
    email: OptEmail = None
    status: MemberStatus = "Pending"
    customer: OptStr = None
    payment_method: Annotated[PaymentMethod | None, BeforeValidator(_blank_to_none)] = None


MandateStatus = Literal["Draft", "Active", "Cancelled", "Expired", "Suspended"]
SequenceType = Literal["FRST", "RCUR", "FNAL", "OOFF"]


class SepaMandate(ErpDocument):
    doctype: Literal["SEPA Mandate"] = "SEPA Mandate"
    mandate_id: NonEmpty
    member: NonEmpty
    account_holder_name: OptStr = None
    iban: BankId
    bic: OptBankId = None
    sign_date: ErpDate
    expiry_date: OptDate = None
    status: MandateStatus = "Draft"
    frequency: OptStr = None
    maximum_amount: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None


class InvoiceItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    idx: int = 0
    item_code: OptStr = None
    item_name: OptStr = None
    qty: Quantity = Decimal("1.000")
    rate: Money = Decimal(0)
    amount: Money = Decimal(0)


class SalesInvoice(ErpDocument):
    doctype: Literal["Sales Invoice"] = "Sales Invoice"
    customer: OptStr = None
    member: OptStr = None
    posting_date: ErpDate
    due_date: OptDate = None
    currency: OptStr = None
    grand_total: Money
    rounded_total: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None
    outstanding_amount: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None
    status: OptStr = None
    is_return: bool = False
    return_against: OptStr = None
    membership: OptStr = None
    coverage_start: OptDate = Field(None, validation_alias=AliasChoices("custom_coverage_start_date", "coverage_start"))
    coverage_end: OptDate = Field(None, validation_alias=AliasChoices("custom_coverage_end_date", "coverage_end"))
    items: list[InvoiceItem] = Field(default_factory=list, max_length=MAX_ROWS)


class PaymentReference(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    idx: int = 0
    reference_doctype: OptStr = None
    reference_name: OptStr = None
    allocated_amount: Money = Decimal(0)
    outstanding_amount: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None
    total_amount: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None


class PaymentEntry(ErpDocument):
    doctype: Literal["Payment Entry"] = "Payment Entry"
    payment_type: Literal["Receive", "Pay", "Internal Transfer"]
    party_type: OptStr = None
    party: OptStr = None
    posting_date: ErpDate
    mode_of_payment: OptStr = None
    paid_amount: Money = Decimal(0)
    received_amount: Annotated[Money | None, BeforeValidator(_blank_to_none)] = None
    paid_from_account_currency: OptStr = None
    paid_to_account_currency: OptStr = None
    reference_no: OptStr = None
    reference_date: OptDate = None
    sepa_batch: OptStr = Field(None, validation_alias=AliasChoices("custom_sepa_batch", "sepa_batch"))
    # R-code of a SEPA Direct Debit Return (AM04, MD06, …), from the verenigingen custom field.
    return_reason: OptStr = Field(None, validation_alias=AliasChoices("custom_return_reason", "return_reason"))
    references: list[PaymentReference] = Field(default_factory=list, max_length=MAX_ROWS)

    @property
    def is_member_payment(self) -> bool:
        """Only money received from a customer runs the member pipeline (bug B9: the rest is just audited).

        Predecessor bug ids: docs/business-rules.md, last section."""
        return is_member_payment(self.payment_type, self.party_type)

    @property
    def is_sepa_return(self) -> bool:
        """A bounced direct debit: money going back to the member. It reverses the collection it references."""
        return is_sepa_return(self.mode_of_payment, self.party_type)

    @property
    def runs_member_pipeline(self) -> bool:
        return self.is_member_payment or self.is_sepa_return

    @property
    def is_sepa(self) -> bool:
        return "SEPA" in (self.mode_of_payment or "").upper()


SubmittableDocument = PaymentEntry | SalesInvoice
ReferenceDocument = Customer | Member | SepaMandate
