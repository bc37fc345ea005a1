"""The records the generation steps fill in, before they become ERPNext documents, and the invoice window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from infra.demo.parameters import BANK_TRANSFER, DUE_DAYS, SEPA, Plan


@dataclass(frozen=True)
class Window:
    """Invoices are posted strictly after ``start`` and at the latest on ``today``."""

    start: dt.date
    today: dt.date

    def __contains__(self, day: dt.date) -> bool:
        return self.start < day <= self.today

    @property
    def first_day(self) -> dt.date:
        return self.start + dt.timedelta(days=1)


@dataclass
class Mandate:
    iban: str
    bic: str
    bank_name: str
    sign_date: dt.date
    created: dt.datetime
    holder: str
    hash_name: str
    used_for_donations: int
    mandate_id: str = ""


@dataclass
class Customer:
    name: str
    created: dt.datetime
    family: bool
    members: list[Member] = field(default_factory=list)
    mandate: Mandate | None = None
    payment_method: str = BANK_TRANSFER

    @property
    def collects_by_sepa(self) -> bool:
        return self.mandate is not None and self.payment_method == SEPA


@dataclass
class Member:
    first_name: str
    last_name: str
    since: dt.date
    created: dt.datetime
    plan: Plan
    customer: Customer
    profile: float = 0.0
    name: str = ""
    membership: str = ""
    email: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Invoice:
    member: Member
    posting: dt.date
    created: dt.datetime
    owner: str
    cents: int
    item_code: str
    coverage: tuple[dt.date, dt.date] | None
    name: str = ""
    hash_name: str = ""

    @property
    def due(self) -> dt.date:
        return self.posting + dt.timedelta(days=DUE_DAYS)

    @property
    def is_dues(self) -> bool:
        return self.coverage is not None


@dataclass
class Allocation:
    invoice: Invoice
    cents: int
    outstanding_before: int = 0
    hash_name: str = ""


@dataclass
class Payment:
    customer: Customer
    posting: dt.date
    created: dt.datetime
    mode: str
    cents: int  # paid amount
    reference_no: str
    batch: str | None = None
    allocations: list[Allocation] = field(default_factory=list)
    name: str = ""
