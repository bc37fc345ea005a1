"""IBAN/BIC and mandate date checks (schwifty knows every country's IBAN format and the bank registry)."""

from __future__ import annotations

import datetime as dt

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from domain.contracts import SepaMandate
from domain.verdicts import FieldError


def bank_account_errors(mandate: SepaMandate, *, today: dt.date) -> list[FieldError]:
    errors: list[FieldError] = []
    if mandate.sign_date > today:
        errors.append(FieldError(field="sign_date", code="in_future", message=f"{mandate.sign_date} is in the future"))
    try:
        IBAN(mandate.iban)
    except SchwiftyException as exc:
        errors.append(FieldError(field="iban", code="invalid_iban", message=f"is not a valid IBAN: {exc}"))
    if mandate.bic:
        try:
            BIC(mandate.bic)
        except SchwiftyException as exc:
            errors.append(FieldError(field="bic", code="invalid_bic", message=f"is not a valid BIC: {exc}"))
    if mandate.expiry_date and mandate.expiry_date < mandate.sign_date:
        errors.append(FieldError(field="expiry_date", code="before_sign_date", message="must not be before sign_date"))
    return errors
