"""Backfill: push historical ERP documents through the pipelines at BULK priority, behind live submissions.

Order matters for validation: a payment is checked against the invoices it references, and a credit note or a
cancellation against its original. So invoices go first, then credit notes, then payments, then cancellations,
each group by posting date; within a group a few documents are in flight at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.parsing import SUBMITTABLE
from domain.verdicts import Verdict

# Generous: a bulk document's step 1 waits behind live workflow tasks on a busy worker.
BULK_VERDICT_TIMEOUT = 60.0


@dataclass
class BackfillReport:
    accepted: int = 0
    pending: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (document, first error)

    @property
    def total(self) -> int:
        return self.accepted + self.pending + len(self.rejected)


def read_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """ERPNext documents from JSON files (one document or a list each); a directory means its *.json files."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text())
            except FileNotFoundError:
                raise ValueError(f"{file}: no such file") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
            items = data if isinstance(data, list) else [data]
            for n, item in enumerate(items):
                if not isinstance(item, dict) or item.get("doctype") not in SUBMITTABLE:
                    where = f"{file}[{n}]" if isinstance(data, list) else str(file)
                    raise ValueError(f"{where}: doctype must be {' or '.join(map(repr, SUBMITTABLE))}")
                docs.append(item)
    return docs


def group_of(doc: Mapping[str, Any]) -> int:
    """0 invoices, 1 credit notes, 2 payments, 3 cancellations: each may refer to documents of earlier groups."""
    if doc.get("docstatus") == 2:
        return 3
    if doc.get("doctype") == "Payment Entry":
        return 2
    return 1 if doc.get("is_return") else 0


def backfill_order(docs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(docs, key=lambda d: (group_of(d), str(d.get("posting_date", "")), str(d.get("name", ""))))


async def backfill(
    submit: Callable[..., Any],
    docs: Sequence[Mapping[str, Any]],
    *,
    site: str,
    user: str,
    concurrency: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """``submit`` is DuesflowClient.submit. Each group finishes step 1 before the next starts."""
    if not 1 <= concurrency <= 32:
        raise ValueError(f"concurrency must be between 1 and 32, got {concurrency}")
    ordered = backfill_order(docs)
    report = BackfillReport()
    done = 0
    gate = asyncio.Semaphore(concurrency)

    async def one(doc: Mapping[str, Any]) -> None:
        nonlocal done
        async with gate:
            verdict: Verdict = await submit(doc, site=site, user=user, timeout=BULK_VERDICT_TIMEOUT, bulk=True)
        if verdict.status == "accepted":
            report.accepted += 1
        elif verdict.status == "pending":
            report.pending += 1
        else:
            first = verdict.errors[0] if verdict.errors else None
            report.rejected.append((str(doc.get("name")), f"{first.field}: {first.message}" if first else "rejected"))
        done += 1
        if on_progress is not None:
            on_progress(done, len(ordered))

    groups: dict[int, list[Mapping[str, Any]]] = {}
    for doc in ordered:
        groups.setdefault(group_of(doc), []).append(doc)
    for key in sorted(groups):
        await asyncio.gather(*(one(d) for d in groups[key]))
    return report
