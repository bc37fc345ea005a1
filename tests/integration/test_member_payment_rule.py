"""``domain.payments.is_member_payment`` and its SQL twin ``ledger.documents.member_payment`` (used where the history
selects a customer's unreconciled payments) select the same payments, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import Engine, insert, select

from domain.payments import is_member_payment
from ledger.documents import member_payment
from ledger.schema import payments

PAYMENT_TYPES = ("Receive", "Pay", "Internal Transfer")
PARTY_TYPES = ("Customer", "Supplier", None)


def test_the_rule_and_its_sql_twin_select_the_same_payments(engine: Engine, site: str) -> None:
    combinations = {f"PAY-{i}": c for i, c in enumerate(itertools.product(PAYMENT_TYPES, PARTY_TYPES))}
    with engine.begin() as conn:
        for name, (payment_type, party_type) in combinations.items():
            conn.execute(
                insert(payments).values(
                    site=site,
                    name=name,
                    payment_type=payment_type,
                    party_type=party_type,
                    party="C1",
                    posting_date=dt.date(2025, 4, 2),
                    paid_amount=15,
                    docstatus=1,
                )
            )
        in_sql = set(conn.execute(select(payments.c.name).where(payments.c.site == site, member_payment())).scalars())
    assert in_sql == {name for name, c in combinations.items() if is_member_payment(*c)} == {"PAY-0"}
