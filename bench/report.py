"""Printing and recording results: the progress line after each scenario, the final table with its notes, and the
``--json`` file."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.figures import Result
from bench.goals import TARGET_ACK_RATIO, TARGET_THROUGHPUT_RATIO, ack_verdict, throughput_verdict

RULE = "=" * 150
Lines = list[str]


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def progress_line(r: Result) -> str:
    a = r.ack_ms
    tp = f"{r.throughput:.1f}/s" if r.throughput else "-"
    return (
        f"[{r.section}] {r.scenario:<40} {r.engine:<8} docs={r.docs} ok={r.accepted} rej={r.rejected} "
        f"pend={r.pending} lost={r.lost} err={r.errors}  ack p50/p95/p99={fmt(a.get('p50'))}/{fmt(a.get('p95'))}/"
        f"{fmt(a.get('p99'))} ms  throughput={tp}  ({r.elapsed_s:.1f}s)"
    )


def report(results: Sequence[Result], info: Mapping[str, Any]) -> str:
    out = [*_header(info), *_table(results), *_legend(info), *_inline_step_one(results), *_history_events(info)]
    out += [*_cpu(results), *_side_by_side(results), *_long_histories(results, info), *_identical(results)]
    out += [*_problems(results), RULE]
    return "\n".join(out)


def write_json(path: Path, results: Sequence[Result], info: Mapping[str, Any]) -> None:
    path.write_text(json.dumps({"info": info, "results": [asdict(r) for r in results]}, indent=2, default=str))


# ------------------------------------------------------------------------------------------------- the report's parts


def _header(info: Mapping[str, Any]) -> Lines:
    out = ["", RULE, "duesflow benchmark — " + ", ".join(f"{k}={v}" for k, v in info.get("environment", {}).items())]
    if "demo" in info:
        out.append("data: " + ", ".join(f"{k}={v}" for k, v in info["demo"].items()))
    out.append(RULE)
    return out


def _table(results: Sequence[Result]) -> Lines:
    head = (
        f"{'sec':<4}{'scenario':<40}{'engine':<9}{'docs':>5}{'ok':>5}{'rej':>4}{'pend':>5}{'lost':>5}{'err':>4} | "
        f"{'ack p50':>8}{'p95':>7}{'p99':>7}{'max':>7} | {'done p50':>9}{'p95':>7} | {'pipel./s':>8} | "
        f"{'lag max':>7}{'fail':>5}{'retry':>6}"
    )
    out = [head, "-" * len(head)]
    for r in results:
        a, d = r.ack_ms, r.done_ms
        out.append(
            f"{r.section:<4}{r.scenario:<40}{r.engine:<9}{r.docs:>5}{r.accepted:>5}{r.rejected:>4}{r.pending:>5}"
            f"{r.lost:>5}{r.errors:>4} | {fmt(a.get('p50')):>8}{fmt(a.get('p95')):>7}{fmt(a.get('p99')):>7}"
            f"{fmt(a.get('max')):>7} | {fmt(d.get('p50')):>9}{fmt(d.get('p95')):>7} | {fmt(r.throughput, 1):>8} | "
            f"{fmt(r.max_lag_ms):>7}{r.failed_steps:>5}{r.retried_steps:>6}"
        )
    return out


def _legend(info: Mapping[str, Any]) -> Lines:
    out = [
        "",
        "ack = submit() -> verdict in ms, from the scheduled send time (open loop) or the call (burst); inline: whole",
        "document. done = scheduled send -> workflow closed (server close time). pipel./s = completed pipelines /",
        "(first send -> last close). lag max = how late the generator started a send. fail/retry = background steps.",
        "pend = no verdict within --verdict-timeout (submit returned 'pending'); counted in ack at the time waited.",
        "lost = 'pending' verdict naming a workflow that was never started (the start itself timed out).",
    ]
    if info.get("unretrieved_start_futures"):
        out.append(
            f"{info['unretrieved_start_futures']} 'Future exception was never retrieved' (RPCError of the start "
            "operation after a verdict timeout) were silenced (see bench/README.md)."
        )
    return out


def _inline_step_one(results: Sequence[Result]) -> Lines:
    out = []
    for r in results:
        if r.engine == "inline" and "validate_ms" in r.extra:
            v = r.extra["validate_ms"]
            out.append(
                f"{r.scenario}: step 1 alone (validate+record) p50/p95/p99 = "
                f"{fmt(v.get('p50'), 1)}/{fmt(v.get('p95'), 1)}/{fmt(v.get('p99'), 1)} ms"
            )
    return out


def _history_events(info: Mapping[str, Any]) -> Lines:
    ev = info.get("history_events")
    if not ev:
        return []
    return [
        f"workflow history of {ev['document']} ({ev['mode_of_payment']}, {ev['members']} member(s)): "
        + "; ".join(
            f"{engine} {st.get('events')} events / {st.get('bytes')} bytes, {st.get('workflow_tasks')} workflow "
            f"tasks, {st.get('activities')} activities, {st.get('search_attribute_upserts')} SA upserts"
            for engine, st in (("floor", ev["floor"]), ("duesflow", ev["duesflow"]))
        )
    ]


def _cpu(results: Sequence[Result]) -> Lines:
    comps = sorted({k for r in results for k in r.cpu_ms_per_doc})
    out = [
        "",
        "CPU ms per document (user+system, whole scenario including its background work):",
        f"  {'sec':<4}{'scenario':<40}{'engine':<9}" + "".join(f"{c[:16]:>17}" for c in comps),
    ]
    for r in results:
        out.append(
            f"  {r.section:<4}{r.scenario:<40}{r.engine:<9}"
            + "".join(f"{fmt(r.cpu_ms_per_doc.get(c), 1):>17}" for c in comps)
        )
    return out


def _side_by_side(results: Sequence[Result]) -> Lines:
    out = ["", "Side by side (duesflow / floor):"]
    pairs: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    for r in results:
        pairs[(r.section, r.scenario)][r.engine] = r
    for (section, scenario), by in pairs.items():
        if "duesflow" in by and "floor" in by:
            out.append(f"  [{section}] {scenario:<40}" + _ratios(by["duesflow"], by["floor"]))
    return out


def _ratios(df: Result, fl: Result) -> str:
    """duesflow against the floor, and whether that meets the target (``bench.goals``)."""
    line = ""
    if df.ack_ms and fl.ack_ms:
        ratio = df.ack_ms["p50"] / fl.ack_ms["p50"]
        line += (
            f" ack p50 {df.ack_ms['p50']:.0f}/{fl.ack_ms['p50']:.0f} ms = {ratio:.2f}x ({ack_verdict(ratio)} <= "
            f"{TARGET_ACK_RATIO}x); p95 {df.ack_ms['p95'] / fl.ack_ms['p95']:.2f}x"
        )
    if df.offered_rate is None and df.throughput and fl.throughput:
        ratio = df.throughput / fl.throughput
        line += (
            f"; throughput {df.throughput:.1f}/{fl.throughput:.1f} /s = {ratio:.2f}x "
            f"({throughput_verdict(ratio)} >= {TARGET_THROUGHPUT_RATIO}x)"
        )
    return line


def _long_histories(results: Sequence[Result], info: Mapping[str, Any]) -> Lines:
    base = {r.scenario: r for r in results if r.section == "a" and r.engine == "duesflow"}
    long = [r for r in results if r.section == "e" and r.engine == "duesflow"]
    if not long:
        return []
    lh = info.get("long_histories", {})
    out = [
        "",
        f"Long histories (e): history rows per member {lh.get('rows_before_avg', 0):.1f} -> "
        f"{lh.get('rows_after_avg', 0):.1f} ({lh.get('payments_added', 0)} payments added)",
    ]
    for r in long:
        short = base.get(r.scenario.split(",")[0])
        if short and short.ack_ms and r.ack_ms:
            out.append(
                f"  {r.scenario:<40} ack p50 {r.ack_ms['p50']:.0f} ms vs {short.ack_ms['p50']:.0f} ms "
                f"({r.ack_ms['p50'] / short.ack_ms['p50']:.2f}x); p99 {r.ack_ms['p99']:.0f} vs "
                f"{short.ack_ms['p99']:.0f} ms; done p50 {fmt(r.done_ms.get('p50'))} vs "
                f"{fmt(short.done_ms.get('p50'))} ms"
            )
    return out


def _identical(results: Sequence[Result]) -> Lines:
    out = []
    for r in results:
        if r.section != "f" or not r.ack_ms:
            continue
        a = r.ack_ms
        runs = r.extra.get("runs_per_document", [])
        out += [
            "",
            f"Identical submissions ({r.scenario}): time to verdict p50 {a['p50']:.0f} / p99 {a['p99']:.0f} / "
            f"max {a['max']:.0f} ms over {r.docs} copies; slowest copy per round (ms): "
            + ", ".join(str(x) for x in r.extra.get("slowest_copy_per_round_ms", [])),
            f"  workflow runs per document: {runs} (must be [1]); differing verdicts: {'yes' if r.problems else 'no'}",
        ]
    return out


def _problems(results: Sequence[Result]) -> Lines:
    problems = [(r, p) for r in results for p in r.problems]
    if not problems:
        return []
    return [
        "",
        "Problems (first per scenario):",
        *(f"  [{r.section}] {r.scenario} {r.engine}: {p}" for r, p in problems),
    ]
