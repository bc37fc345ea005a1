"""duesflow's first benchmark, against a real stack (Temporal dev server, PostgreSQL, Redis). Not a test.

    python -m bench.run --quick          # smoke run: 30 documents per scenario
    python -m bench.run                  # 200 documents per scenario, offered rates 10/s and 25/s

Prints, in one run:
  (a) ack latency (p50/p95/p99 of ``DuesflowClient.submit``) of payment entries at fixed offered rates (open loop);
  (b) the same for the engine floor (``bench.floor.FloorWorkflow``: same shape, steps that do nothing);
  (c) end-to-end completion throughput (pipelines/s) of duesflow and the floor, from a burst;
  (d) the same kind of documents processed inline (every step in the caller, the predecessor's way);
  (e) ack latency again with member histories ``--history-factor`` (100) times longer;
  (f) time to verdict when the same document is submitted ``--dup-copies`` (30) times at once, ``--dup-rounds`` rounds.

By default it owns everything it uses: a fresh database on the machine's PostgreSQL (dropped at the end), a Temporal
dev server on free ports, and two worker processes (``python -m worker`` for duesflow, ``python -m bench.floor_worker``
for the floor, both configured with the same ``DUESFLOW_*`` settings). Redis is shared; keys are per benchmark site.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load import QuietStartFutures
from bench.plan import Plan
from bench.report import report, write_json
from bench.scenarios import Bench
from bench.stack import Stack, StackOptions

SECTIONS = {"rate", "burst", "inline", "long", "dup"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="duesflow benchmark: ack latency, throughput and inline baseline against a real stack.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_scenario_options(p)
    add_stack_options(p)
    p.add_argument("--json", type=Path, help="also write all figures as JSON to this file")
    return p


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    """What is measured, how much of it and how fast."""
    p.add_argument("--count", type=int, default=200, help="payment entries per offered rate and engine")
    p.add_argument("--rates", default="10,25", help="offered rates (documents/s), comma-separated")
    p.add_argument("--throughput-count", type=int, help="documents per burst (default: --count)")
    p.add_argument("--inline-count", type=int, help="documents per inline run (default: --count)")
    p.add_argument("--inline-threads", type=int, default=8, help="concurrent callers of the second inline run")
    p.add_argument("--burst-concurrency", type=int, default=32, help="submissions in flight during a burst")
    p.add_argument("--history-factor", type=int, default=100, help="how many times longer histories get in (e)")
    p.add_argument("--dup-copies", type=int, default=30, help="copies of one document submitted at once in (f)")
    p.add_argument("--dup-rounds", type=int, default=10, help="documents submitted that way in turn in (f)")
    p.add_argument(
        "--only",
        default="rate,burst,inline,long,dup",
        help="sections to run: rate (a,b), burst (c), inline (d), long (e), dup (f)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 30 documents per scenario, at most 5 rounds in (f)")


def add_stack_options(p: argparse.ArgumentParser) -> None:
    """What it runs against, and the limits it runs with."""
    p.add_argument("--temporal-address", help="use this running Temporal frontend instead of starting a dev server")
    p.add_argument("--namespace", default="default")
    p.add_argument(
        "--temporal-db",
        choices=["memory", "file"],
        default="memory",
        help="own dev server: in memory, or a SQLite file (much slower and noisier on this VM's disk)",
    )
    p.add_argument(
        "--split-roles",
        action="store_true",
        help="run each engine's workflow and background roles in two processes (background niced by 10), as "
        "duesflow-worker --role all does, instead of one process each",
    )
    p.add_argument("--database-url", help="use this (migrated or empty) database instead of creating one")
    p.add_argument(
        "--admin-database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the benchmark database is created and dropped",
    )
    p.add_argument("--keep-database", action="store_true", help="do not drop the database the run created")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--verdict-timeout", type=float, default=10.0, help="seconds submit waits for step 1")
    p.add_argument(
        "--retry-interval-scale",
        type=float,
        default=0.01,
        help="scales the retry intervals of background steps (a retried step must not stall a measurement)",
    )
    p.add_argument("--result-timeout", type=float, default=600.0, help="seconds to wait for a workflow to close")
    p.add_argument(
        "--stall-timeout", type=float, default=60.0, help="abort when no workflow closes for this many seconds"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if args.quick:
        args.count = min(args.count, 30)
        args.dup_rounds = min(args.dup_rounds, 5)
    args.throughput_count = args.throughput_count or args.count
    args.inline_count = args.inline_count or args.count
    args.rate_list = [float(x) for x in args.rates.split(",") if x.strip()]
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.sections - SECTIONS
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}")
    if not args.rate_list or any(r <= 0 for r in args.rate_list):
        p.error("--rates needs positive numbers")
    if args.dup_copies < 2 or args.dup_rounds < 1:
        p.error("--dup-copies needs at least 2 and --dup-rounds at least 1")
    return args


def plan_of(args: argparse.Namespace) -> Plan:
    return Plan(
        count=args.count,
        rates=args.rate_list,
        throughput_count=args.throughput_count,
        inline_count=args.inline_count,
        inline_threads=args.inline_threads,
        burst_concurrency=args.burst_concurrency,
        history_factor=args.history_factor,
        result_timeout=args.result_timeout,
        stall_timeout=args.stall_timeout,
        sections=args.sections,
        dup_copies=args.dup_copies,
        dup_rounds=args.dup_rounds,
    )


def stack_options(args: argparse.Namespace) -> StackOptions:
    return StackOptions(
        database_url=args.database_url,
        admin_database_url=args.admin_database_url,
        keep_database=args.keep_database,
        temporal_address=args.temporal_address,
        namespace=args.namespace,
        temporal_db=args.temporal_db,
        split_roles=args.split_roles,
        redis_url=args.redis_url,
        verdict_timeout=args.verdict_timeout,
        retry_interval_scale=args.retry_interval_scale,
        db_pool_size=max(4, args.inline_threads),
    )


def environment(stack: Stack, plan: Plan) -> dict[str, Any]:
    """The report's first line."""
    assert stack.workers is not None
    return {
        "cpus": os.cpu_count(),
        "temporal": stack.describe_temporal(),
        "count": plan.count,
        "rates": ",".join(f"{r:g}" for r in plan.rates),
        "burst_in_flight": plan.burst_concurrency,
        "worker_roles": "+".join(stack.workers.roles),
    }


async def run_scenarios(bench: Bench, plan: Plan) -> None:
    """The order of the scenarios: (e) last, since it makes the histories longer for good."""
    await bench.setup_data()
    await bench.warm_up()
    if "rate" in plan.sections:
        print("(a)+(b) ack latency at fixed offered rates, floor and duesflow side by side", flush=True)
        await bench.rates("a")
    if "burst" in plan.sections:
        print("(c) completion throughput from a burst", flush=True)
        await bench.burst("c")
    if "inline" in plan.sections:
        print("(d) inline: every step in the caller", flush=True)
        await bench.inline()
    if "dup" in plan.sections:
        print(f"(f) the same document {plan.dup_copies} times at once, {plan.dup_rounds} rounds", flush=True)
        await bench.duplicates()
    if "long" in plan.sections and {"rate", "burst"} & plan.sections:
        print(f"(e) again with histories {plan.history_factor}x longer", flush=True)
        await bench.long_histories()


async def amain(args: argparse.Namespace) -> int:
    quiet = QuietStartFutures()
    asyncio.get_running_loop().set_exception_handler(quiet)
    plan = plan_of(args)
    stack = Stack(stack_options(args))
    failed = False
    try:
        await stack.open()
        bench = Bench(plan, stack)
        bench.info["environment"] = environment(stack, plan)
        await run_scenarios(bench, plan)
        gc.collect()  # let the unretrieved futures be counted before the report
        bench.info["unretrieved_start_futures"] = quiet.count
        print(report(bench.results, bench.info), flush=True)
        if args.json:
            write_json(args.json, bench.results, bench.info)
            print(f"JSON written to {args.json}")
        return 0
    except BaseException:
        failed = True
        traceback.print_exc()
        stack.print_worker_logs()
        raise
    finally:
        await stack.close(failed=failed)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(amain(args))
    except KeyboardInterrupt:
        return 130
    except Exception:
        return 1


if __name__ == "__main__":
    sys.exit(main())
