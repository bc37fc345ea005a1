"""The reminder e-mails: subject and plain-text body per level, in Dutch and English (pure: no SMTP here)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.reminders import FINAL_LEVEL, LEVEL_TITLES, days_overdue

Language = Literal["nl", "en"]

_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTHS_NL = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]


class ReminderContent(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: int
    member_name: str
    invoice: str
    amount: Decimal
    due_date: dt.date
    on_date: dt.date
    payment_reference: str
    association: str
    # When the flow hands the invoice to the board if it is still unpaid (the final notice names it): the final
    # notice's send time plus the flow's reminder interval, so the mail promises what the flow does.
    deadline: dt.date | None = None

    @property
    def days_overdue(self) -> int:
        return days_overdue(self.due_date, self.on_date)


class Mail(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    body: str


def format_amount(amount: Decimal, language: Language) -> str:
    text = f"{amount.quantize(Decimal('0.01')):,.2f}"
    if language == "nl":
        # 1,234.50 → 1.234,50
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return f"€ {text}"
    return f"€{text}"


def format_date(day: dt.date, language: Language) -> str:
    months = _MONTHS_NL if language == "nl" else _MONTHS_EN
    return f"{day.day} {months[day.month - 1]} {day.year}"


_SUBJECTS: dict[Language, dict[int, str]] = {
    "nl": {1: "Vriendelijke herinnering", 2: "Dringende herinnering", 3: "Laatste aanmaning"},
    "en": LEVEL_TITLES,
}

_OPENINGS: dict[Language, dict[int, str]] = {
    "nl": {
        1: "Misschien is het u ontgaan: wij hebben de betaling van onderstaande factuur nog niet ontvangen.",
        2: "Ondanks onze eerdere herinnering hebben wij de betaling van onderstaande factuur nog niet ontvangen.",
        3: "Dit is onze laatste aanmaning.",
    },
    "en": {
        1: "Perhaps it slipped your mind: we have not yet received payment of the invoice below.",
        2: "Despite our earlier reminder we have not yet received payment of the invoice below.",
        3: "This is our final notice.",
    },
}

# The final notice's consequence: with the day the flow hands the invoice to the board, or (no deadline given)
# without promising a period.
_HAND_OFF: dict[Language, tuple[str, str]] = {
    "nl": (
        "Als wij de betaling niet vóór {deadline} hebben ontvangen, draagt de ledenadministratie de vordering over "
        "aan het bestuur.",
        "Blijft de betaling uit, dan draagt de ledenadministratie de vordering over aan het bestuur.",
    ),
    "en": (
        "If we have not received payment before {deadline}, the membership administration will hand the claim "
        "over to the board.",
        "If payment does not follow, the membership administration will hand the claim over to the board.",
    ),
}

_BODY: dict[Language, str] = {
    "nl": (
        "Beste {name},\n\n{opening}\n\n"
        "  Factuur:          {invoice}\n"
        "  Openstaand:       {amount}\n"
        "  Vervaldatum:      {due}\n"
        "  Dagen te laat:    {days}\n"
        "  Betalingskenmerk: {reference}\n\n"
        "Wilt u het bedrag overmaken onder vermelding van het betalingskenmerk? "
        "Heeft u inmiddels betaald, dan kunt u dit bericht als niet verzonden beschouwen.\n\n"
        "Met vriendelijke groet,\n{association}\n"
    ),
    "en": (
        "Dear {name},\n\n{opening}\n\n"
        "  Invoice:           {invoice}\n"
        "  Outstanding:       {amount}\n"
        "  Due date:          {due}\n"
        "  Days overdue:      {days}\n"
        "  Payment reference: {reference}\n\n"
        "Please transfer the amount quoting the payment reference. "
        "If you have paid in the meantime, please disregard this message.\n\n"
        "Kind regards,\n{association}\n"
    ),
}


def render(content: ReminderContent, language: Language) -> Mail:
    if content.level not in LEVEL_TITLES:
        raise ValueError(f"level must be 1, 2 or 3, got {content.level}")
    subject = f"{_SUBJECTS[language][content.level]}: {content.invoice}"
    opening = _OPENINGS[language][content.level]
    if content.level == FINAL_LEVEL:
        with_date, without = _HAND_OFF[language]
        deadline = content.deadline
        opening += " " + (with_date.format(deadline=format_date(deadline, language)) if deadline else without)
    body = _BODY[language].format(
        name=content.member_name,
        opening=opening,
        invoice=content.invoice,
        amount=format_amount(content.amount, language),
        due=format_date(content.due_date, language),
        days=content.days_overdue,
        reference=content.payment_reference,
        association=content.association,
    )
    return Mail(subject=subject, body=body)


def message_id(site: str, invoice: str, level: int, domain: str) -> str:
    """Stable per (site, invoice, level): should a send ever be repeated (a crash between the server's
    acceptance and our commit), the repeat carries the same Message-ID and mail systems can drop it."""
    digest = hashlib.sha256(f"{site}\0{invoice}\0{level}".encode()).hexdigest()[:24]
    return f"<reminder-{level}-{digest}@{domain}>"


_EXPIRY: dict[Language, tuple[str, str]] = {
    "nl": (
        "Uw SEPA-machtiging verloopt binnenkort",
        "Beste {name},\n\nUw SEPA-machtiging {mandate} voor de contributie verloopt op {expiry}. "
        "Daarna kunnen wij de contributie niet meer automatisch incasseren.\n\n"
        "Wilt u vóór die datum een nieuwe machtiging afgeven via de ledenadministratie?\n\n"
        "Met vriendelijke groet,\n{association}\n",
    ),
    "en": (
        "Your SEPA mandate expires soon",
        "Dear {name},\n\nYour SEPA mandate {mandate} for membership dues expires on {expiry}. "
        "After that date we can no longer collect your dues automatically.\n\n"
        "Please give us a new mandate through the membership administration before then.\n\n"
        "Kind regards,\n{association}\n",
    ),
}


def render_mandate_expiry(*, name: str, mandate_id: str, expiry: dt.date, association: str, language: Language) -> Mail:
    subject, body = _EXPIRY[language]
    return Mail(
        subject=subject,
        body=body.format(name=name, mandate=mandate_id, expiry=format_date(expiry, language), association=association),
    )


def mandate_warning_id(site: str, mandate_id: str, expiry: dt.date, domain: str) -> str:
    """Stable per (site, mandate, expiry date), like the reminders' ids."""
    digest = hashlib.sha256(f"{site}\0{mandate_id}\0{expiry.isoformat()}".encode()).hexdigest()[:24]
    return f"<mandate-expiry-{digest}@{domain}>"
