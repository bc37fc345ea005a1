"""The benchmark's documents: the demo association's payment entries, then fresh bank transfers, handed out so that
no scenario submits a document another one already did."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

Doc = dict[str, Any]
USER = "penningmeester@bench.duesflow.local"  # who submits them
PAYMENTS_PER_MEMBER = 6  # infra.demo over 12 months gives ~6.4 payment entries per member


def members_by_customer(members: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    by_customer: dict[str, list[str]] = {}
    for m in members:
        by_customer.setdefault(m["customer"], []).append(m["name"])
    for names in by_customer.values():
        names.sort()  # step 1 lists a customer's members by name
    return by_customer


def payment_stream(payments: list[Doc], customers: list[str]) -> Iterator[Doc]:
    """The demo's payment entries (valid in any order: each invoice's allocations add up to at most its total),
    then, if more are needed, fresh unallocated bank transfers from the association's customers."""
    yield from payments
    template = copy.deepcopy(payments[0])
    for n in range(1, 10**7):
        doc = copy.deepcopy(template)
        paid = doc["paid_amount"]
        doc.update(
            name=f"BENCH-PAY-{n:06d}",
            party=customers[n % len(customers)],
            party_name=customers[n % len(customers)],
            mode_of_payment="Bank Transfer",
            references=[],
            total_allocated_amount=0.0,
            unallocated_amount=paid,
            custom_sepa_batch=None,
            reference_no=f"BENCH-{n}",
        )
        yield doc


class DocumentPool:
    def __init__(self, payments: list[Doc], members_of_customer: dict[str, list[str]]) -> None:
        self.members_of_customer = members_of_customer
        self._docs = payment_stream(payments, sorted(members_of_customer))

    def take(self, n: int) -> list[Doc]:
        return [next(self._docs) for _ in range(n)]

    def next(self) -> Doc:
        return next(self._docs)

    def members_of(self, doc: Mapping[str, Any]) -> list[str]:
        return list(self.members_of_customer.get(doc.get("party") or "", []))

    @contextmanager
    def only(self, docs: list[Doc]) -> Iterator[None]:
        """Hand out exactly ``docs`` (taken beforehand) until the block ends, then carry on where the pool was."""
        saved, self._docs = self._docs, iter(docs)
        try:
            yield
        finally:
            self._docs = saved
