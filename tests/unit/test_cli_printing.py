"""The CLI's tables print a read's rows the same whether the read returns dicts or pydantic models with the same
fields (the client's reads may move from one to the other). The command runs in-process against a stub client."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import starter.cli
from domain.history import HistoryRow

HISTORY = HistoryRow(
    position=1,
    transaction_type="Membership Invoice",
    invoice="ACC-SINV-2025-00101",
    posting_date=dt.date(2025, 3, 1),
    due_date=dt.date(2025, 3, 31),
    coverage_start=None,
    coverage_end=None,
    amount=Decimal("15.00"),
    outstanding_amount=Decimal("0.00"),
    paid_amount=Decimal("15.00"),
    payment_status="Paid",
    payment_entry="ACC-PAY-2025-00201",
    payment_date=dt.date(2025, 4, 2),
    payment_method="SEPA Direct Debit",
    reconciled=True,
    has_mandate=True,
    mandate_reference="MANDATE-7",
)


class Total(BaseModel):
    posting_date: dt.date
    mode_of_payment: str
    count: int
    total: Decimal


class Retry(BaseModel):
    due_date: dt.date
    invoice: str
    mandate_id: str
    attempt: int
    reason_code: str
    outstanding: Decimal


TOTAL = Total(posting_date=dt.date(2025, 4, 2), mode_of_payment="SEPA Direct Debit", count=3, total=Decimal("45.00"))
RETRY = Retry(
    due_date=dt.date(2025, 4, 14),
    invoice="ACC-SINV-2025-00101",
    mandate_id="MANDATE-7",
    attempt=1,
    reason_code="AM04",
    outstanding=Decimal("15.00"),
)


class StubClient:
    def __init__(self, as_dicts: bool) -> None:
        self._shape: Callable[[BaseModel], Any] = (lambda m: m.model_dump()) if as_dicts else (lambda m: m)

    async def member_history(self, site: str, member: str) -> list[Any]:
        return [self._shape(HISTORY)]

    async def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[Any]:
        return [self._shape(TOTAL)]

    async def due_collection_retries(self, site: str, on_date: dt.date) -> list[Any]:
        return [self._shape(RETRY)]

    async def returns_needing_attention(self, site: str) -> list[Any]:
        return []


def output(monkeypatch: pytest.MonkeyPatch, as_dicts: bool, *args: str) -> str:
    def run(work: Callable[[Any], Awaitable[Any]]) -> Any:
        return asyncio.run(work(StubClient(as_dicts)))

    monkeypatch.setattr(starter.cli, "run", run)
    result = CliRunner().invoke(starter.cli.app, [*args, "--site", "leden.example.nl"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["history", "M1"], ["ACC-SINV-2025-00101", "Membership Invoice", "2025-03-31", "Paid", "MANDATE-7"]),
        (["totals", "2025-04-01", "2025-04-30"], ["2025-04-02", "SEPA Direct Debit", "45.00"]),
        (["retries", "--on", "2025-04-14"], ["2025-04-14", "MANDATE-7", "AM04", "15.00"]),
    ],
)
def test_rows_print_the_same_as_dicts_or_models(
    monkeypatch: pytest.MonkeyPatch, command: list[str], shown: list[str]
) -> None:
    from_models = output(monkeypatch, False, *command)
    from_dicts = output(monkeypatch, True, *command)
    assert from_models == from_dicts
    for text in shown:
        assert text in from_models, text
