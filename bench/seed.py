"""What the benchmark puts in the ledger before it measures, and the only place it writes to the ledger directly.

The demo association goes in the way an ERP would put it there: reference data through
``DuesflowClient.load_reference_data`` and its invoices submitted through duesflow (``seed_demo``).

Scenario (e) needs member histories ``--history-factor`` (100) times longer: with the demo's ~9 history rows per
member, up to hundreds of thousands of old unreconciled payments. ``extend_histories`` inserts them straight into the
``payments`` table, one ``INSERT … SELECT generate_series`` per customer, in seconds. Through the API each would be a
payment pipeline of its own (a verdict, a rebuild of every member history of its customer, analytics): hours of
setup, spent on the very rebuilds (e) measures afterwards. The rows are what step 1 would have recorded for a
submitted, unallocated bank transfer (``docstatus`` 1, no allocation), dated before anything in the demo; the next
rebuild of a member's history lists them like any other unreconciled payment. Nothing else in bench/ writes to the
ledger itself: the inline scenario (d) runs duesflow's own activity code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from typing import Any

from sqlalchemy import Engine, func, select, text
from temporalio.client import Client

from bench.completion import drain
from bench.documents import PAYMENTS_PER_MEMBER, USER, Doc, DocumentPool, members_by_customer
from bench.figures import Result
from bench.load import drive
from bench.plan import Plan
from bench.stack import Stack
from bench.stats import summarize
from bench.targets import DuesflowTarget
from infra.demo import generate
from ledger.schema import dunning_cases

_ROWS_PER_CUSTOMER = """
    SELECT m.customer, coalesce(max(h.n), 0)
    FROM members m
    LEFT JOIN (SELECT member, count(*) AS n FROM member_history WHERE site = :site GROUP BY member) h
      ON h.member = m.name
    WHERE m.site = :site AND m.customer = ANY(:customers)
    GROUP BY m.customer
    """

_OLD_UNRECONCILED_PAYMENTS = """
    INSERT INTO payments (site, name, payment_type, party_type, party, posting_date, mode_of_payment,
                          paid_amount, received_amount, reference_no, docstatus)
    SELECT :site, :prefix || g, 'Receive', 'Customer', :party, CAST(:base AS date) - g,
           'Bank Transfer', 10.00, 10.00, 'OLD-' || g, 1
    FROM generate_series(1, :n) AS g
    """

_ROWS_PER_MEMBER_AVG = """
    SELECT avg(coalesce(h.n, 0)) FROM members m
    LEFT JOIN (SELECT member, count(*) AS n FROM member_history WHERE site = :site GROUP BY member) h
      ON h.member = m.name
    WHERE m.site = :site AND m.customer = ANY(:customers)
    """


async def seed_demo(stack: Stack, plan: Plan) -> tuple[DocumentPool, dict[str, Any]]:
    """A demo association: reference data loaded, its invoices submitted through duesflow (so the payments have
    open invoices to allocate); its payment entries, unsubmitted, are the benchmark's documents."""
    members = max(40, math.ceil(plan.docs_needed() / PAYMENTS_PER_MEMBER))
    demo = generate(members=members, months=12, seed=7, site=stack.site, today=dt.date.today())
    by_customer = members_by_customer(demo.members)
    report = await stack.duesflow.load_reference_data(demo.reference_data(), site=stack.site)
    t0 = time.perf_counter()
    setup = await submit_invoices(stack, plan, demo.invoices)
    reminder_flows = await settle_reminder_flows(stack.temporal, stack.engine, stack.site, plan.stall_timeout)
    elapsed = time.perf_counter() - t0
    bad = setup.rejected + setup.pending + setup.errors
    info = {
        "members": report.members,
        "customers": report.customers,
        "mandates": report.mandates,
        "invoices": len(demo.invoices),
        "payment_entries": len(demo.payments),
        "invoices_seconds": round(elapsed, 1),
        "invoices_not_accepted": bad,
    }
    print(
        f"setup: {report.customers} customers, {report.members} members, {report.mandates} mandates; "
        f"{len(demo.invoices)} invoices submitted through duesflow in {elapsed:.1f}s "
        f"({len(demo.invoices) / elapsed:.1f}/s, {bad} not accepted, {reminder_flows} reminder flows waiting); "
        f"{len(demo.payments)} payment entries",
        flush=True,
    )
    for p in setup.problems:
        print(f"  setup problem: {p}")
    return DocumentPool(demo.payments, by_customer), info


async def submit_invoices(stack: Stack, plan: Plan, invoices: list[Doc]) -> Result:
    since = dt.datetime.now(dt.UTC)
    samples = await drive(DuesflowTarget(stack.duesflow, stack.site, USER), invoices, rate=None, concurrency=32)
    await drain(stack.temporal, stack.site, since, samples, plan.result_timeout, plan.stall_timeout)
    return summarize("setup", "demo invoices (burst)", "duesflow", samples, concurrency=32)


async def settle_reminder_flows(client: Client, engine: Engine, site: str, timeout: float) -> int:
    """Wait until every reminder flow the setup's invoices started has opened its dunning case (and so sleeps on its
    timer), so that no setup work overlaps the measured scenarios; returns how many there are."""
    query = f"DuesflowSite = '{site}' AND WorkflowType = 'ReminderWorkflow'"
    deadline = time.monotonic() + timeout
    while True:
        flows = (await client.count_workflows(query)).count
        with engine.connect() as conn:
            cases = conn.execute(
                select(func.count()).select_from(dunning_cases).where(dunning_cases.c.site == site)
            ).scalar_one()
        if cases >= flows or time.monotonic() > deadline:
            return flows
        await asyncio.sleep(0.2)


def extend_histories(engine: Engine, site: str, customers: list[str], factor: int, today: dt.date) -> dict[str, Any]:
    """Bulk-insert (factor - 1) x (current history rows) unreconciled payments per customer, older than anything."""
    with engine.begin() as conn:
        rows = dict(conn.execute(text(_ROWS_PER_CUSTOMER), {"site": site, "customers": customers}).all())
        added = 0
        base = today - dt.timedelta(days=400)
        for i, customer in enumerate(customers):
            n = (factor - 1) * max(1, rows.get(customer, 0))
            conn.execute(
                text(_OLD_UNRECONCILED_PAYMENTS),
                {"site": site, "prefix": f"BENCH-OLD-{i:05d}-", "party": customer, "base": base, "n": n},
            )
            added += n
        conn.execute(text("ANALYZE payments"))
    before = [rows.get(c, 0) for c in customers]
    return {
        "customers": len(customers),
        "factor": factor,
        "payments_added": added,
        "rows_before_avg": sum(before) / max(1, len(before)),
    }


def history_rows_avg(engine: Engine, site: str, customers: list[str]) -> float:
    """History rows per member of ``customers`` (a read: how long (e) made the histories)."""
    with engine.connect() as conn:
        value = conn.execute(text(_ROWS_PER_MEMBER_AVG), {"site": site, "customers": customers}).scalar()
    return float(value or 0)
