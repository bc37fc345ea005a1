"""Customers and their members (families share one customer), their mandates, payer profiles and ERPNext names."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from infra.demo.draws import Draws
from infra.demo.ibans import draw_iban
from infra.demo.model import Customer, Mandate, Member, Window
from infra.demo.names import (
    FIRST_NAMES,
    LAST_NAMES,
    customer_name,
    email_candidates,
    email_local_parts,
    numbered,
)
from infra.demo.parameters import (
    BANK_TRANSFER,
    FAMILY_SHARE,
    JOINER_SHARE,
    MANDATE_SHARE,
    PLANS,
    PROFILE_WEIGHTS_OTHER,
    PROFILE_WEIGHTS_SEPA,
    PROFILES,
    SEPA,
    Plan,
)


def build_customers(draws: Draws, window: Window, member_count: int) -> list[Customer]:
    """Customers holding exactly ``member_count`` members: one each, or two for a family."""
    customers: list[Customer] = []
    taken_names: set[str] = set()
    remaining = member_count
    while remaining > 0:
        family = remaining >= 2 and draws.rng.random() < FAMILY_SHARE
        first_names, last_name = _fresh_names(draws, 2 if family else 1, family, taken_names)
        name = numbered(customer_name(first_names[0], last_name, family), taken_names)
        taken_names.add(name)

        since = _join_date(draws, window)
        created = draws.time_on(since, 9, 17)
        customer = Customer(name=name, created=created + dt.timedelta(minutes=2), family=family)
        for index, first_name in enumerate(first_names):
            member_created = created + dt.timedelta(minutes=5 * index)
            customer.members.append(Member(first_name, last_name, since, member_created, _plan(draws), customer))
        customers.append(customer)
        remaining -= len(first_names)
    return customers


def _fresh_names(draws: Draws, size: int, family: bool, taken: set[str]) -> tuple[list[str], str]:
    """First names and a last name, preferring a customer name not yet taken over ERPNext's " - 1" suffixes."""
    last_name = draws.rng.choice(LAST_NAMES)
    first_names = draws.rng.sample(FIRST_NAMES, size)
    for _ in range(20):
        if customer_name(first_names[0], last_name, family) not in taken:
            break
        last_name = draws.rng.choice(LAST_NAMES)
        first_names = draws.rng.sample(FIRST_NAMES, size)
    return first_names, last_name


def _join_date(draws: Draws, window: Window) -> dt.date:
    latest_joiner = window.today - dt.timedelta(days=7)
    if draws.rng.random() < JOINER_SHARE and latest_joiner > window.start:
        return draws.day_between(window.first_day, latest_joiner)
    return window.start - dt.timedelta(days=draws.rng.randint(1, 3 * 365))


def _plan(draws: Draws) -> Plan:
    return draws.rng.choices(PLANS, weights=[plan.weight for plan in PLANS])[0]


def assign_mandates(draws: Draws, window: Window, customers: list[Customer], member_count: int) -> None:
    """Give customers in random order a mandate (held by their first member) until they cover the mandate share."""
    target = round(MANDATE_SHARE * member_count)
    covered = 0
    for customer in draws.rng.sample(customers, len(customers)):
        if covered >= target:
            break
        covered += len(customer.members)
        customer.mandate = _mandate(draws, window, customer)
        customer.payment_method = SEPA if draws.rng.random() < 0.92 else BANK_TRANSFER


def _mandate(draws: Draws, window: Window, customer: Customer) -> Mandate:
    holder = customer.members[0]
    iban, bic, bank_name = draw_iban(draws)
    # some long-time members switched to direct debit later; a new member signs when joining
    signed = draws.day_between(holder.since, window.start) if holder.since < window.start else holder.since
    sign_date = min(signed, window.today)
    on_joining = sign_date == holder.since
    created = holder.created + dt.timedelta(minutes=1) if on_joining else draws.time_on(sign_date, 9, 21)
    account_holder = customer.name if customer.family else f"{holder.first_name[0]}. {holder.last_name}"
    return Mandate(
        iban=iban,
        bic=bic,
        bank_name=bank_name,
        sign_date=sign_date,
        created=created,
        holder=account_holder,
        hash_name=draws.hash(),
        used_for_donations=int(draws.rng.random() < 0.4),
    )


def assign_profiles(draws: Draws, customers: list[Customer]) -> None:
    """How reliably each member pays; direct-debit customers are mostly the reliable kind."""
    for customer in customers:
        weights = PROFILE_WEIGHTS_SEPA if customer.collects_by_sepa else PROFILE_WEIGHTS_OTHER
        for member in customer.members:
            member.profile = draws.rng.choices(PROFILES, weights=weights)[0]


def name_members(draws: Draws, customers: list[Customer]) -> list[Member]:
    """Number members, memberships and mandates per month of creation, as ERPNext would; the members by creation."""
    members = sorted((m for c in customers for m in c.members), key=lambda m: (m.created, m.full_name))
    counters: defaultdict[str, int] = defaultdict(int)
    for member in members:
        prefix = f"{member.created:%Y-%m}"
        counters[prefix] += 1
        member.name = f"Assoc-Member-{prefix}-{counters[prefix]:04d}"
        member.membership = f"MEMB-{member.created:%y-%m}-{counters[prefix]:04d}"
        local = draws.rng.choice(email_local_parts(member.first_name, member.last_name))
        member.email = draws.first_free(email_candidates(local))
    mandates = sorted((c.mandate for c in customers if c.mandate is not None), key=lambda m: (m.created, m.hash_name))
    counters.clear()
    for mandate in mandates:
        prefix = f"{mandate.created:%y-%m}"
        counters[prefix] += 1
        mandate.mandate_id = f"MANDATE-{prefix}-{counters[prefix]:04d}"
    return members
