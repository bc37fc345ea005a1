"""Deterministic generator of a realistic demo association, in ERPNext ``doc.as_dict()`` shape.

Pure Python: no I/O, no database, no clock. Everything random comes from one ``random.Random(seed)``, so the same
arguments always give identical output. The documents look like the fixtures in ``tests/fixtures/erpnext`` and follow
``docs/business-rules.md`` §9:

- dues plans per member: monthly €15 (billed on the 1st), quarterly €9 (billed on the 1st of each calendar quarter),
  annual €30 (billed on the membership anniversary); a member who joins inside the window gets a first dues invoice on
  the joining day; some extra-contribution invoices of €25–150 (whole euros or .50) without a membership;
- ~10% of customers are families (one customer, two members, at most one mandate, held by the first member);
- mandates for customers covering 75% of the members (Active, checksum-valid Dutch IBANs from ABNA/INGB/RABO);
- one unreconciled payment (no references, ``GIFT-…``) for 30% of the members, posted on the member's customer;
- payer profiles paying on time 95% / 80% / 60% / 40% of the time; each dues/extra invoice is paid on time, paid late
  or left unpaid, a few bank transfers are partial. Payments never lie after ``today``, so recent invoices may still
  be open simply because they are not due yet.

Every event date (``posting_date``, ``reference_date``, ``sign_date``, ``member_since``, ``creation``, ``modified``)
is ≤ ``today``. Forward-looking dates — an invoice's ``due_date`` (posting + 30 days) and ``custom_coverage_end_date``
— may lie after ``today``, as they do in a live ERP.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schwifty

__all__ = ["DemoAssociation", "generate"]

Doc = dict[str, Any]

COMPANY = "Duesflow Demo Vereniging"
_ABBR = "DDV"
RECEIVABLE_ACCOUNT = f"13500 - Te ontvangen contributies - {_ABBR}"
BANK_ACCOUNT = f"1100 - Bank - {_ABBR}"
DUES_INCOME_ACCOUNT = f"8000 - Contributies - {_ABBR}"
EXTRA_INCOME_ACCOUNT = f"8100 - Extra bijdragen - {_ABBR}"
COST_CENTER = f"Main - {_ABBR}"
SCHEDULER_USER = "Administrator"

SEPA = "SEPA Direct Debit"
BANK_TRANSFER = "Bank Transfer"

DUE_DAYS = 30
MANDATE_SHARE = 0.75
UNRECONCILED_SHARE = 0.30
FAMILY_SHARE = 0.10
JOINER_SHARE = 0.15  # members whose membership starts inside the invoice window
EXTRA_INVOICE_SHARE = 0.25
PARTIAL_SHARE = 0.15  # bank transfers of ≥ €15 that pay only part of the invoice
MAXIMUM_MANDATE_AMOUNT = 150.0
SEPA_BATCH_DAYS = (6, 21)  # collection days of the month
PAYDAY = 25  # late bank-transfer payers tend to pay on payday, several invoices at once


@dataclass(frozen=True)
class _Plan:
    frequency: str  # also the mandate's "Collection Frequency"
    item_code: str
    cents: int
    months: int
    weight: int


_PLANS: tuple[_Plan, ...] = (
    _Plan("Monthly", "Membership Dues - Monthly", 1500, 1, 45),
    _Plan("Quarterly", "Membership Dues - Quarterly", 900, 3, 25),
    _Plan("Annual", "Membership Dues - Annual", 3000, 12, 30),
)
EXTRA_ITEM = "Extra Contribution"

# Share of members paying on time: 95% / 80% / 60% / 40%. Direct-debit payers are mostly the reliable kind.
_PROFILES: tuple[float, ...] = (0.95, 0.80, 0.60, 0.40)
_PROFILE_WEIGHTS_SEPA: tuple[int, ...] = (55, 30, 10, 5)
_PROFILE_WEIGHTS_OTHER: tuple[int, ...] = (25, 30, 25, 20)
_LATE_SHARE = 0.65  # of the invoices not paid on time, this share is paid late; the rest stays unpaid

# (bank code, BIC, bank name, weight)
_BANKS: tuple[tuple[str, str, str, int], ...] = (
    ("INGB", "INGBNL2A", "ING Bank", 40),
    ("RABO", "RABONL2U", "Rabobank", 32),
    ("ABNA", "ABNANL2A", "ABN AMRO", 28),
)

_FIRST_NAMES: tuple[str, ...] = (
    "Jan", "Pieter", "Daan", "Sem", "Lucas", "Bram", "Thijs", "Ruben", "Joris", "Maarten", "Henk", "Wim", "Kees",
    "Gerrit", "Sander", "Jeroen", "Niels", "Koen", "Stijn", "Luuk", "Milan", "Jesse", "Floris", "Willem", "Hugo",
    "Mohammed", "Youssef", "Mehmet", "Rohan", "Emma", "Sophie", "Julia", "Anna", "Sanne", "Lotte", "Femke", "Anouk",
    "Eva", "Lisa", "Fleur", "Iris", "Marieke", "Ingrid", "Annelies", "Els", "Karin", "Monique", "Ilse", "Noor",
    "Saskia", "Esther", "Wendy", "Mirjam", "Tessa", "Roos", "Fatima", "Yasmina", "Elif", "Priya", "Nadia",
)  # fmt: skip
_LAST_NAMES: tuple[str, ...] = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer",
    "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit",
    "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Heijden", "Schouten", "van Beek",
    "Willems", "van Vliet", "van de Ven", "Hoekstra", "Maas", "Verhoeven", "Koster", "van Dam", "van der Wal",
    "Prins", "Blom", "Huisman", "Kuipers", "van Wijk", "Postma", "Scholten", "Veenstra", "Kramer", "de Ridder",
    "El Amrani", "Yilmaz", "Bouzid", "Kaya", "Ramdin", "Sedney",
)  # fmt: skip
_ROUND_AMOUNTS: tuple[int, ...] = (25, 25, 30, 35, 40, 50, 50, 60, 75, 75, 100, 100, 125, 150)


@dataclass(frozen=True)
class DemoAssociation:
    """A generated association: reference data and the documents ERPNext would submit, in ``as_dict()`` shape."""

    site: str
    customers: list[Doc]  # ERPNext Customer
    members: list[Doc]  # Member (verenigingen app)
    mandates: list[Doc]  # SEPA Mandate
    invoices: list[Doc]  # Sales Invoice, docstatus 1, with items
    payments: list[Doc]  # Payment Entry, docstatus 1, with references

    def reference_data(self) -> list[Doc]:
        """Customers, then members, then mandates."""
        return [*self.customers, *self.members, *self.mandates]

    def documents(self) -> list[Doc]:
        """Invoices and payments in submission order.

        Sorted by ``posting_date``; on the same day invoices come before payments, then by ``creation``. Every payment
        therefore comes after the invoices it references, and the ``outstanding_amount`` on each payment reference is
        the invoice's outstanding amount at that point of this sequence.
        """
        keyed = [(doc["posting_date"], 0, doc["creation"], doc["name"], doc) for doc in self.invoices]
        keyed += [(doc["posting_date"], 1, doc["creation"], doc["name"], doc) for doc in self.payments]
        keyed.sort(key=lambda row: row[:4])
        return [row[4] for row in keyed]


# --------------------------------------------------------------------------------------------------------------------
# internal model


@dataclass
class _Mandate:
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
class _Customer:
    name: str
    created: dt.datetime
    family: bool
    members: list[_Member] = field(default_factory=list)
    mandate: _Mandate | None = None
    payment_method: str = BANK_TRANSFER

    @property
    def collects_by_sepa(self) -> bool:
        return self.mandate is not None and self.payment_method == SEPA


@dataclass
class _Member:
    first_name: str
    last_name: str
    since: dt.date
    created: dt.datetime
    plan: _Plan
    customer: _Customer
    profile: float = 0.0
    name: str = ""
    membership: str = ""
    email: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class _Invoice:
    member: _Member
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
class _Allocation:
    invoice: _Invoice
    cents: int
    outstanding_before: int = 0
    hash_name: str = ""


@dataclass
class _Payment:
    customer: _Customer
    posting: dt.date
    created: dt.datetime
    mode: str
    cents: int  # paid amount
    reference_no: str
    batch: str | None = None
    allocations: list[_Allocation] = field(default_factory=list)
    name: str = ""


# --------------------------------------------------------------------------------------------------------------------
# helpers


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _amount(cents: int) -> float:
    return round(cents / 100, 2)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class _Generator:
    def __init__(self, *, members: int, months: int, seed: int, site: str, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.member_count = members
        self.months = months
        self.site = site
        self.today = today
        self.window_start = _add_months(today, -months)  # invoices are posted strictly after this day
        self.treasurer = f"penningmeester@{site}"
        self._used: set[str] = set()  # membership checks only, never iterated (hash order is not deterministic)

    # ---- small random helpers ----------------------------------------------------------------------------------

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("could not draw a unique value")  # pragma: no cover

    def _hash(self) -> str:
        return self._unique(lambda: f"{self.rng.getrandbits(40):010x}")

    def _time_on(self, day: dt.date, first_hour: int, last_hour: int) -> dt.datetime:
        seconds = self.rng.randrange((last_hour - first_hour) * 3600)
        return dt.datetime.combine(day, dt.time(first_hour)) + dt.timedelta(
            seconds=seconds, microseconds=self.rng.randrange(1_000_000)
        )

    def _day_between(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    def _contribution_cents(self) -> int:
        if self.rng.random() < 0.6:
            return self.rng.choice(_ROUND_AMOUNTS) * 100
        return self.rng.randint(50, 300) * 50  # €25.00 … €150.00 in steps of €0.50

    # ---- members and customers ---------------------------------------------------------------------------------

    def _join_date(self) -> dt.date:
        latest_joiner = self.today - dt.timedelta(days=7)
        if self.rng.random() < JOINER_SHARE and latest_joiner > self.window_start:
            return self._day_between(self.window_start + dt.timedelta(days=1), latest_joiner)
        return self.window_start - dt.timedelta(days=self.rng.randint(1, 3 * 365))

    def _plan(self) -> _Plan:
        return self.rng.choices(_PLANS, weights=[plan.weight for plan in _PLANS])[0]

    def build_customers(self) -> list[_Customer]:
        customers: list[_Customer] = []
        taken_names: set[str] = set()
        remaining = self.member_count
        while remaining > 0:
            family = remaining >= 2 and self.rng.random() < FAMILY_SHARE
            size = 2 if family else 1
            last_name = self.rng.choice(_LAST_NAMES)
            first_names = self.rng.sample(_FIRST_NAMES, size)
            for _ in range(20):  # prefer fresh names over ERPNext's " - 1" suffixes
                candidate = self._customer_name(first_names[0], last_name, family)
                if candidate not in taken_names:
                    break
                last_name = self.rng.choice(_LAST_NAMES)
                first_names = self.rng.sample(_FIRST_NAMES, size)
            base = self._customer_name(first_names[0], last_name, family)
            name, suffix = base, 0
            while name in taken_names:
                suffix += 1
                name = f"{base} - {suffix}"
            taken_names.add(name)

            since = self._join_date()
            created = self._time_on(since, 9, 17)
            customer = _Customer(name=name, created=created + dt.timedelta(minutes=2), family=family)
            for index, first_name in enumerate(first_names):
                member_created = created + dt.timedelta(minutes=5 * index)
                customer.members.append(_Member(first_name, last_name, since, member_created, self._plan(), customer))
            customers.append(customer)
            remaining -= size
        return customers

    @staticmethod
    def _customer_name(first_name: str, last_name: str, family: bool) -> str:
        if family:  # "Familie De Vries": the tussenvoegsel is capitalised without a first name in front
            return f"Familie {last_name[0].upper()}{last_name[1:]}"
        return f"{first_name} {last_name}"

    def _iban(self) -> tuple[str, str, str]:
        bank_code, bic, bank_name, _ = self.rng.choices(_BANKS, weights=[bank[3] for bank in _BANKS])[0]

        def draw() -> str:
            if bank_code == "INGB":  # former Postbank numbers: up to 7 digits, no eleven-test
                account = f"{self.rng.randint(100_000, 9_999_999):010d}"
            else:  # 9-10 digit bank numbers passing the Dutch eleven-test (elfproef)
                while True:
                    digits = [self.rng.randint(0, 9) for _ in range(9)]
                    check = -sum(d * (10 - i) for i, d in enumerate(digits)) % 11
                    if check < 10:
                        account = "".join(map(str, digits)) + str(check)
                        break
            iban = schwifty.IBAN.generate("NL", bank_code=bank_code, account_code=account)
            iban.validate()
            if str(iban.bic) != bic:  # pragma: no cover - schwifty's bank registry disagrees with our table
                raise ValueError(f"unexpected BIC {iban.bic} for {iban}")
            return str(iban)

        return self._unique(draw), bic, bank_name

    def assign_mandates(self, customers: list[_Customer]) -> None:
        target = round(MANDATE_SHARE * self.member_count)
        covered = 0
        for customer in self.rng.sample(customers, len(customers)):
            if covered >= target:
                break
            covered += len(customer.members)
            holder = customer.members[0]
            iban, bic, bank_name = self._iban()
            if holder.since < self.window_start:  # some long-time members switched to direct debit later
                sign_date = self._day_between(holder.since, self.window_start)
            else:
                sign_date = holder.since
            sign_date = min(sign_date, self.today)
            if sign_date == holder.since:
                created = holder.created + dt.timedelta(minutes=1)
            else:
                created = self._time_on(sign_date, 9, 21)
            account_holder = customer.name if customer.family else f"{holder.first_name[0]}. {holder.last_name}"
            customer.mandate = _Mandate(
                iban=iban,
                bic=bic,
                bank_name=bank_name,
                sign_date=sign_date,
                created=created,
                holder=account_holder,
                hash_name=self._hash(),
                used_for_donations=int(self.rng.random() < 0.4),
            )
            customer.payment_method = SEPA if self.rng.random() < 0.92 else BANK_TRANSFER

    def assign_profiles(self, customers: list[_Customer]) -> None:
        for customer in customers:
            weights = _PROFILE_WEIGHTS_SEPA if customer.collects_by_sepa else _PROFILE_WEIGHTS_OTHER
            for member in customer.members:
                member.profile = self.rng.choices(_PROFILES, weights=weights)[0]

    def name_members(self, customers: list[_Customer]) -> list[_Member]:
        members = sorted((m for c in customers for m in c.members), key=lambda m: (m.created, m.full_name))
        counters: defaultdict[str, int] = defaultdict(int)
        for member in members:
            prefix = f"{member.created:%Y-%m}"
            counters[prefix] += 1
            member.name = f"Assoc-Member-{prefix}-{counters[prefix]:04d}"
            member.membership = f"MEMB-{member.created:%y-%m}-{counters[prefix]:04d}"
            member.email = self._email(member)
        mandates = sorted(
            (c.mandate for c in customers if c.mandate is not None), key=lambda m: (m.created, m.hash_name)
        )
        counters.clear()
        for mandate in mandates:
            prefix = f"{mandate.created:%y-%m}"
            counters[prefix] += 1
            mandate.mandate_id = f"MANDATE-{prefix}-{counters[prefix]:04d}"
        return members

    def _email(self, member: _Member) -> str:
        first, last = _ascii(member.first_name), _ascii(member.last_name)
        patterns = (f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", f"{first[0]}{last}")
        local = self.rng.choice(patterns)
        candidate, number = f"{local}@example.nl", 1
        while candidate in self._used:
            number += 1
            candidate = f"{local}{number}@example.nl"
        self._used.add(candidate)
        return candidate

    # ---- invoices ----------------------------------------------------------------------------------------------

    def _in_window(self, day: dt.date) -> bool:
        return self.window_start < day <= self.today

    def _dues_periods(self, member: _Member) -> list[tuple[dt.date, dt.date, dt.date]]:
        """(posting date, coverage start, coverage end) of every dues invoice inside the window."""
        plan, since = member.plan, member.since
        periods: list[tuple[dt.date, dt.date, dt.date]] = []
        if plan.months == 12:  # billed on the anniversary of the membership
            years = 0
            while (start := _add_months(since, 12 * years)) <= self.today:
                if self._in_window(start):
                    periods.append((start, start, _add_months(since, 12 * (years + 1)) - dt.timedelta(days=1)))
                years += 1
            return periods
        # monthly / quarterly: calendar periods starting on the 1st; a new member's first period starts on joining
        first = dt.date(since.year, since.month - (since.month - 1) % plan.months, 1)
        start = first
        while start <= self.today:
            end = _add_months(start, plan.months) - dt.timedelta(days=1)
            posting = max(start, since)  # the period the member joins in starts on the joining day
            if self._in_window(posting):
                periods.append((posting, posting, end))
            start = _add_months(start, plan.months)
        return periods

    def build_invoices(self, members: list[_Member]) -> list[_Invoice]:
        invoices: list[_Invoice] = []
        for member in members:
            for posting, cover_start, cover_end in self._dues_periods(member):
                if posting == member.since:  # first invoice, made when the membership was approved
                    created, owner = member.created + dt.timedelta(minutes=3), self.treasurer
                else:  # the dues scheduler runs early in the morning
                    created = dt.datetime.combine(posting, dt.time(6)) + dt.timedelta(
                        seconds=self.rng.randrange(600), microseconds=self.rng.randrange(1_000_000)
                    )
                    owner = SCHEDULER_USER
                invoices.append(
                    _Invoice(
                        member=member,
                        posting=posting,
                        created=created,
                        owner=owner,
                        cents=member.plan.cents,
                        item_code=member.plan.item_code,
                        coverage=(cover_start, cover_end),
                    )
                )
            extras = 0
            if self.rng.random() < EXTRA_INVOICE_SHARE:
                extras = 2 if self.rng.random() < 0.2 else 1
            first_day = max(self.window_start + dt.timedelta(days=1), member.since)
            for _ in range(extras):
                posting = self._day_between(first_day, self.today)
                invoices.append(
                    _Invoice(
                        member=member,
                        posting=posting,
                        created=self._time_on(posting, 9, 17),
                        owner=self.treasurer,
                        cents=self._contribution_cents(),
                        item_code=EXTRA_ITEM,
                        coverage=None,
                    )
                )
        invoices.sort(key=lambda inv: (inv.posting, inv.created, inv.member.name))
        counters: defaultdict[int, int] = defaultdict(int)
        for invoice in invoices:
            counters[invoice.posting.year] += 1
            invoice.name = f"ACC-SINV-{invoice.posting.year}-{counters[invoice.posting.year]:05d}"
            invoice.hash_name = self._hash()
        return invoices

    # ---- payments ----------------------------------------------------------------------------------------------

    @staticmethod
    def _next_day_of_month(after: dt.date, days: tuple[int, ...]) -> dt.date:
        """The first date ≥ ``after`` whose day of the month is in ``days``."""
        month = after.replace(day=1)
        while True:
            for day in days:
                candidate = month.replace(day=min(day, calendar.monthrange(month.year, month.month)[1]))
                if candidate >= after:
                    return candidate
            month = _add_months(month, 1)

    def _plan_payments(self, invoice: _Invoice) -> list[tuple[dt.date, int]]:
        """(date, cents) of the payments that settle (part of) ``invoice``; dates after today are dropped."""
        member, customer = invoice.member, invoice.member.customer
        sepa = customer.collects_by_sepa
        if self.rng.random() < member.profile:
            if sepa:
                day = self._next_day_of_month(invoice.posting + dt.timedelta(days=3), SEPA_BATCH_DAYS)
            else:
                day = invoice.posting + dt.timedelta(days=self.rng.randint(1, DUE_DAYS))
        elif self.rng.random() < _LATE_SHARE:
            delay = dt.timedelta(days=self.rng.randint(1, 45))
            if sepa:  # presented again in a later batch
                day = self._next_day_of_month(invoice.due + delay, SEPA_BATCH_DAYS)
            else:
                day = self._next_day_of_month(invoice.due + delay, (PAYDAY,))
        else:
            return []
        if day > self.today:
            return []
        if sepa or invoice.cents < 1500 or self.rng.random() >= PARTIAL_SHARE:
            return [(day, invoice.cents)]
        part = max(500, round(invoice.cents * self.rng.uniform(0.3, 0.7) / 100) * 100)
        part = min(part, invoice.cents - 100)
        plan = [(day, part)]
        rest_day = day + dt.timedelta(days=self.rng.randint(7, 40))
        if self.rng.random() < 0.5 and rest_day <= self.today:
            plan.append((rest_day, invoice.cents - part))
        return plan

    def build_payments(self, members: list[_Member], invoices: list[_Invoice]) -> list[_Payment]:
        payments: list[_Payment] = []
        bank_groups: dict[tuple[str, dt.date], _Payment] = {}
        for invoice in invoices:
            customer = invoice.member.customer
            for day, cents in self._plan_payments(invoice):
                if customer.collects_by_sepa:  # one payment entry per collected invoice, shared batch reference
                    created = self._time_on(day, 8, 9)
                    payment = _Payment(customer, day, created, SEPA, 0, reference_no="")
                    payments.append(payment)
                else:  # one bank transfer per customer and day, possibly paying several invoices
                    key = (customer.name, day)
                    if key not in bank_groups:
                        reference = self._unique(lambda day=day: f"NL-TRX-{day:%Y%m%d}-{self.rng.randint(1, 9999):04d}")
                        bank_groups[key] = _Payment(
                            customer, day, self._time_on(day, 10, 17), BANK_TRANSFER, 0, reference
                        )
                        payments.append(bank_groups[key])
                    payment = bank_groups[key]
                payment.allocations.append(_Allocation(invoice, cents, hash_name=self._hash()))
                payment.cents += cents

        # unreconciled payments: gifts transferred without an invoice
        for member in self.rng.sample(members, round(UNRECONCILED_SHARE * len(members))):
            first_day = max(self.window_start + dt.timedelta(days=1), member.since)
            day = self._day_between(first_day, self.today)
            initials = f"{member.first_name[0]}{member.last_name.split()[-1][0]}".upper()
            base = f"GIFT-{initials}-{day:%Y-%m}"
            reference, number = base, 1
            while reference in self._used:
                number += 1
                reference = f"{base}-{number}"
            self._used.add(reference)
            cents = self._contribution_cents()
            payments.append(_Payment(member.customer, day, self._time_on(day, 10, 17), BANK_TRANSFER, cents, reference))

        payments.sort(key=lambda p: (p.posting, p.created, p.customer.name))
        batches: dict[dt.date, str] = {}
        payment_counters: defaultdict[int, int] = defaultdict(int)
        batch_counters: defaultdict[str, int] = defaultdict(int)
        outstanding = {invoice.name: invoice.cents for invoice in invoices}
        for payment in payments:
            year = payment.posting.year
            payment_counters[year] += 1
            payment.name = f"ACC-PAY-{year}-{payment_counters[year]:05d}"
            if payment.mode == SEPA:
                if payment.posting not in batches:
                    prefix = f"{payment.posting:%y-%m}"
                    batch_counters[prefix] += 1
                    batches[payment.posting] = f"BATCH-{prefix}-{batch_counters[prefix]:04d}"
                payment.batch = payment.reference_no = batches[payment.posting]
            payment.allocations.sort(key=lambda a: (a.invoice.posting, a.invoice.name))
            for allocation in payment.allocations:
                before = outstanding[allocation.invoice.name]
                if not 0 < allocation.cents <= before:  # pragma: no cover - guarded by construction
                    raise AssertionError(f"over-allocation on {allocation.invoice.name}")
                allocation.outstanding_before = before
                outstanding[allocation.invoice.name] = before - allocation.cents
        return payments

    # ---- documents ---------------------------------------------------------------------------------------------

    def _base(self, doctype: str, name: str, created: dt.datetime, owner: str, docstatus: int) -> Doc:
        return {
            "doctype": doctype,
            "name": name,
            "owner": owner,
            "creation": _stamp(created),
            "modified": _stamp(created),
            "modified_by": owner,
            "docstatus": docstatus,
            "idx": 0,
        }

    def customer_doc(self, customer: _Customer) -> Doc:
        return {
            **self._base("Customer", customer.name, customer.created, self.treasurer, 0),
            "customer_name": customer.name,
            "customer_type": "Individual",
            "customer_group": "Leden",
            "territory": "Netherlands",
            "member": customer.members[0].name,
            "default_currency": "EUR",
        }

    def member_doc(self, member: _Member) -> Doc:
        customer = member.customer
        mandate = customer.mandate
        return {
            **self._base("Member", member.name, member.created, self.treasurer, 0),
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

    def mandate_doc(self, customer: _Customer) -> Doc:
        mandate = customer.mandate
        assert mandate is not None
        holder = customer.members[0]
        return {
            **self._base("SEPA Mandate", mandate.hash_name, mandate.created, self.treasurer, 0),
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

    def invoice_doc(self, invoice: _Invoice) -> Doc:
        member, customer = invoice.member, invoice.member.customer
        amount = _amount(invoice.cents)
        coverage = invoice.coverage
        return {
            **self._base("Sales Invoice", invoice.name, invoice.created, invoice.owner, 1),
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
            "total": amount,
            "net_total": amount,
            "grand_total": amount,
            "rounded_total": amount,
            "disable_rounded_total": 1,
            "outstanding_amount": amount,
            "paid_amount": 0.0,
            "status": "Unpaid",
            "custom_coverage_start_date": _iso(coverage[0]) if coverage else None,
            "custom_coverage_end_date": _iso(coverage[1]) if coverage else None,
            "items": [
                {
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
                    "rate": amount,
                    "amount": amount,
                    "income_account": DUES_INCOME_ACCOUNT if invoice.is_dues else EXTRA_INCOME_ACCOUNT,
                    "cost_center": COST_CENTER,
                }
            ],
            "taxes": [],
        }

    def payment_doc(self, payment: _Payment) -> Doc:
        allocated = sum(allocation.cents for allocation in payment.allocations)
        paid = _amount(payment.cents)
        return {
            **self._base("Payment Entry", payment.name, payment.created, self.treasurer, 1),
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
            "total_allocated_amount": _amount(allocated),
            "unallocated_amount": _amount(payment.cents - allocated),
            "difference_amount": 0.0,
            "reference_no": payment.reference_no,
            "reference_date": payment.posting.isoformat(),
            "custom_sepa_batch": payment.batch,
            "status": "Submitted",
            "references": [
                {
                    "doctype": "Payment Entry Reference",
                    "name": allocation.hash_name,
                    "parent": payment.name,
                    "parentfield": "references",
                    "parenttype": "Payment Entry",
                    "idx": index,
                    "docstatus": 1,
                    "reference_doctype": "Sales Invoice",
                    "reference_name": allocation.invoice.name,
                    "total_amount": _amount(allocation.invoice.cents),
                    "outstanding_amount": _amount(allocation.outstanding_before),
                    "allocated_amount": _amount(allocation.cents),
                    "due_date": allocation.invoice.due.isoformat(),
                }
                for index, allocation in enumerate(payment.allocations, start=1)
            ],
        }

    def run(self) -> DemoAssociation:
        customers = self.build_customers()
        self.assign_mandates(customers)
        self.assign_profiles(customers)
        members = self.name_members(customers)
        invoices = self.build_invoices(members)
        payments = self.build_payments(members, invoices)
        customers.sort(key=lambda c: (c.created, c.name))
        with_mandate = [c for c in customers if c.mandate is not None]
        with_mandate.sort(key=lambda c: (c.mandate.created, c.mandate.hash_name) if c.mandate else ())
        return DemoAssociation(
            site=self.site,
            customers=[self.customer_doc(c) for c in customers],
            members=[self.member_doc(m) for m in members],
            mandates=[self.mandate_doc(c) for c in with_mandate],
            invoices=[self.invoice_doc(i) for i in invoices],
            payments=[self.payment_doc(p) for p in payments],
        )


def generate(
    *,
    members: int = 40,
    months: int = 6,
    seed: int = 7,
    site: str = "demo.duesflow.local",
    today: dt.date,
) -> DemoAssociation:
    """Generate a demo association of ``members`` members with ``months`` months of invoices and payments before
    ``today`` (inclusive). Deterministic: the same arguments always produce identical documents."""
    if members < 1:
        raise ValueError("members must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    return _Generator(members=members, months=months, seed=seed, site=site, today=today).run()
