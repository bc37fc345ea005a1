"""The Payment Entries: direct debits per SEPA batch, bank transfers (some partial, some late, several invoices at
once on payday), and unreconciled gifts; numbered as ERPNext would, with each reference's outstanding amount."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterator

from domain.upkeep import add_months
from infra.demo.draws import Draws
from infra.demo.model import Allocation, Invoice, Member, Payment, Window
from infra.demo.parameters import (
    BANK_TRANSFER,
    DUE_DAYS,
    LATE_SHARE,
    PARTIAL_SHARE,
    PAYDAY,
    SEPA,
    SEPA_BATCH_DAYS,
    UNRECONCILED_SHARE,
)


def next_day_of_month(after: dt.date, days: tuple[int, ...]) -> dt.date:
    """The first date ≥ ``after`` whose day of the month is in ``days`` (clamped to the month's last day)."""
    month = after.replace(day=1)
    while True:
        for day in days:
            candidate = month.replace(day=min(day, calendar.monthrange(month.year, month.month)[1]))
            if candidate >= after:
                return candidate
        month = add_months(month, 1)


def plan_payments(draws: Draws, window: Window, invoice: Invoice) -> list[tuple[dt.date, int]]:
    """(date, cents) of the payments that settle (part of) ``invoice``; dates after today are dropped."""
    day = _payment_day(draws, invoice)
    if day is None or day > window.today:
        return []
    if invoice.member.customer.collects_by_sepa or invoice.cents < 1500 or draws.rng.random() >= PARTIAL_SHARE:
        return [(day, invoice.cents)]
    part = max(500, round(invoice.cents * draws.rng.uniform(0.3, 0.7) / 100) * 100)
    part = min(part, invoice.cents - 100)
    plan = [(day, part)]
    rest_day = day + dt.timedelta(days=draws.rng.randint(7, 40))
    if draws.rng.random() < 0.5 and rest_day <= window.today:
        plan.append((rest_day, invoice.cents - part))
    return plan


def _payment_day(draws: Draws, invoice: Invoice) -> dt.date | None:
    """When the member pays ``invoice``: on time, late (in a later batch, or on payday), or never (None)."""
    sepa = invoice.member.customer.collects_by_sepa
    if draws.rng.random() < invoice.member.profile:
        if sepa:
            return next_day_of_month(invoice.posting + dt.timedelta(days=3), SEPA_BATCH_DAYS)
        return invoice.posting + dt.timedelta(days=draws.rng.randint(1, DUE_DAYS))
    if draws.rng.random() < LATE_SHARE:
        delay = dt.timedelta(days=draws.rng.randint(1, 45))
        return next_day_of_month(invoice.due + delay, SEPA_BATCH_DAYS if sepa else (PAYDAY,))
    return None


def build_payments(draws: Draws, window: Window, members: list[Member], invoices: list[Invoice]) -> list[Payment]:
    """All payments, in posting order, named and with each allocation's outstanding amount before it."""
    payments = _settling_payments(draws, window, invoices) + _gift_payments(draws, window, members)
    payments.sort(key=lambda p: (p.posting, p.created, p.customer.name))
    _name_payments(payments)
    _allocate(payments, invoices)
    return payments


def _settling_payments(draws: Draws, window: Window, invoices: list[Invoice]) -> list[Payment]:
    """One direct debit per collected invoice; one bank transfer per customer and day, possibly for several."""
    payments: list[Payment] = []
    bank_groups: dict[tuple[str, dt.date], Payment] = {}
    for invoice in invoices:
        customer = invoice.member.customer
        for day, cents in plan_payments(draws, window, invoice):
            if customer.collects_by_sepa:  # the shared batch reference is set when the payments are named
                payment = Payment(customer, day, draws.time_on(day, 8, 9), SEPA, 0, reference_no="")
                payments.append(payment)
            else:
                key = (customer.name, day)
                if key not in bank_groups:
                    reference = draws.unique(lambda day=day: f"NL-TRX-{day:%Y%m%d}-{draws.rng.randint(1, 9999):04d}")
                    bank_groups[key] = Payment(customer, day, draws.time_on(day, 10, 17), BANK_TRANSFER, 0, reference)
                    payments.append(bank_groups[key])
                payment = bank_groups[key]
            payment.allocations.append(Allocation(invoice, cents, hash_name=draws.hash()))
            payment.cents += cents
    return payments


def _gift_payments(draws: Draws, window: Window, members: list[Member]) -> list[Payment]:
    """Unreconciled payments: gifts some members transfer without an invoice (reference ``GIFT-<initials>-<month>``)."""
    payments: list[Payment] = []
    for member in draws.rng.sample(members, round(UNRECONCILED_SHARE * len(members))):
        day = draws.day_between(max(window.first_day, member.since), window.today)
        initials = f"{member.first_name[0]}{member.last_name.split()[-1][0]}".upper()
        reference = draws.first_free(_numbered_references(f"GIFT-{initials}-{day:%Y-%m}"))
        cents = draws.contribution_cents()
        payments.append(Payment(member.customer, day, draws.time_on(day, 10, 17), BANK_TRANSFER, cents, reference))
    return payments


def _numbered_references(base: str) -> Iterator[str]:
    yield base
    for number in itertools.count(2):
        yield f"{base}-{number}"


def _name_payments(payments: list[Payment]) -> None:
    """``ACC-PAY-<year>-<n>`` in order; direct debits of one day share a batch ``BATCH-<yy-mm>-<n>`` as reference."""
    batches: dict[dt.date, str] = {}
    payment_counters: defaultdict[int, int] = defaultdict(int)
    batch_counters: defaultdict[str, int] = defaultdict(int)
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


def _allocate(payments: list[Payment], invoices: list[Invoice]) -> None:
    """Order each payment's allocations by invoice and record the invoice's outstanding amount before each one."""
    outstanding = {invoice.name: invoice.cents for invoice in invoices}
    for payment in payments:
        payment.allocations.sort(key=lambda a: (a.invoice.posting, a.invoice.name))
        for allocation in payment.allocations:
            before = outstanding[allocation.invoice.name]
            if not 0 < allocation.cents <= before:  # pragma: no cover - guarded by construction
                raise AssertionError(f"over-allocation on {allocation.invoice.name}")
            allocation.outstanding_before = before
            outstanding[allocation.invoice.name] = before - allocation.cents
