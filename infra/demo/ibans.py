"""Checksum-valid Dutch IBANs at the three big banks, unique within one demo association."""

from __future__ import annotations

import random

import schwifty

from infra.demo.draws import Draws

# (bank code, BIC, bank name, weight)
BANKS: tuple[tuple[str, str, str, int], ...] = (
    ("INGB", "INGBNL2A", "ING Bank", 40),
    ("RABO", "RABONL2U", "Rabobank", 32),
    ("ABNA", "ABNANL2A", "ABN AMRO", 28),
)


def eleven_test_check_digit(digits: list[int]) -> int | None:
    """The tenth digit that makes nine digits pass the Dutch eleven-test (elfproef), or None when none does."""
    check = -sum(d * (10 - i) for i, d in enumerate(digits)) % 11
    return check if check < 10 else None


def account_number(rng: random.Random, bank_code: str) -> str:
    """A ten-digit (zero-padded) account number of the kind ``bank_code`` issues."""
    if bank_code == "INGB":  # former Postbank numbers: up to 7 digits, no eleven-test
        return f"{rng.randint(100_000, 9_999_999):010d}"
    while True:  # 9-10 digit bank numbers passing the eleven-test
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = eleven_test_check_digit(digits)
        if check is not None:
            return "".join(map(str, digits)) + str(check)


def draw_iban(draws: Draws) -> tuple[str, str, str]:
    """(IBAN, BIC, bank name) of an account at a bank drawn by weight; the IBAN is new to this association."""
    bank_code, bic, bank_name, _ = draws.rng.choices(BANKS, weights=[bank[3] for bank in BANKS])[0]

    def draw() -> str:
        iban = schwifty.IBAN.generate("NL", bank_code=bank_code, account_code=account_number(draws.rng, bank_code))
        iban.validate()
        if str(iban.bic) != bic:  # pragma: no cover - schwifty's bank registry disagrees with our table
            raise ValueError(f"unexpected BIC {iban.bic} for {iban}")
        return str(iban)

    return draws.unique(draw), bic, bank_name
