"""The Sales Invoices inside the window: each member's dues per plan period, and some extra contributions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from domain.upkeep import add_months
from infra.demo.draws import Draws
from infra.demo.model import Invoice, Member, Window
from infra.demo.parameters import EXTRA_INVOICE_SHARE, EXTRA_ITEM, SCHEDULER_USER, Plan

Period = tuple[dt.date, dt.date, dt.date]  # posting date, coverage start, coverage end


def dues_periods(plan: Plan, since: dt.date, window: Window) -> list[Period]:
    """(posting date, coverage start, coverage end) of every dues invoice of a member since ``since`` in the window.

    Annual dues are billed on the membership's anniversary; monthly and quarterly dues per calendar period starting on
    the 1st, where the period the member joins in is billed and covered from the joining day.
    """
    periods: list[Period] = []
    if plan.months == 12:
        years = 0
        while (start := add_months(since, 12 * years)) <= window.today:
            if start in window:
                periods.append((start, start, add_months(since, 12 * (years + 1)) - dt.timedelta(days=1)))
            years += 1
        return periods
    start = dt.date(since.year, since.month - (since.month - 1) % plan.months, 1)
    while start <= window.today:
        end = add_months(start, plan.months) - dt.timedelta(days=1)
        posting = max(start, since)
        if posting in window:
            periods.append((posting, posting, end))
        start = add_months(start, plan.months)
    return periods


def build_invoices(draws: Draws, window: Window, members: list[Member], treasurer: str) -> list[Invoice]:
    """Every member's invoices, ordered and named as ERPNext numbers them (``ACC-SINV-<year>-<n>``)."""
    invoices: list[Invoice] = []
    for member in members:
        invoices += _dues_invoices(draws, window, member, treasurer)
        invoices += _extra_invoices(draws, window, member, treasurer)
    invoices.sort(key=lambda inv: (inv.posting, inv.created, inv.member.name))
    counters: defaultdict[int, int] = defaultdict(int)
    for invoice in invoices:
        counters[invoice.posting.year] += 1
        invoice.name = f"ACC-SINV-{invoice.posting.year}-{counters[invoice.posting.year]:05d}"
        invoice.hash_name = draws.hash()
    return invoices


def _dues_invoices(draws: Draws, window: Window, member: Member, treasurer: str) -> list[Invoice]:
    invoices: list[Invoice] = []
    for posting, cover_start, cover_end in dues_periods(member.plan, member.since, window):
        if posting == member.since:  # first invoice, made when the membership was approved
            created, owner = member.created + dt.timedelta(minutes=3), treasurer
        else:  # the dues scheduler runs early in the morning
            created = dt.datetime.combine(posting, dt.time(6)) + dt.timedelta(
                seconds=draws.rng.randrange(600), microseconds=draws.rng.randrange(1_000_000)
            )
            owner = SCHEDULER_USER
        invoices.append(
            Invoice(
                member=member,
                posting=posting,
                created=created,
                owner=owner,
                cents=member.plan.cents,
                item_code=member.plan.item_code,
                coverage=(cover_start, cover_end),
            )
        )
    return invoices


def _extra_invoices(draws: Draws, window: Window, member: Member, treasurer: str) -> list[Invoice]:
    """None, one or (rarely) two extra-contribution invoices, without a membership."""
    extras = 0
    if draws.rng.random() < EXTRA_INVOICE_SHARE:
        extras = 2 if draws.rng.random() < 0.2 else 1
    first_day = max(window.first_day, member.since)
    invoices: list[Invoice] = []
    for _ in range(extras):
        posting = draws.day_between(first_day, window.today)
        invoices.append(
            Invoice(
                member=member,
                posting=posting,
                created=draws.time_on(posting, 9, 17),
                owner=treasurer,
                cents=draws.contribution_cents(),
                item_code=EXTRA_ITEM,
                coverage=None,
            )
        )
    return invoices
