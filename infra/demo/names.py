"""Dutch first and last names, customer names and e-mail addresses of the demo's members."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator

FIRST_NAMES: tuple[str, ...] = (
    "Jan", "Pieter", "Daan", "Sem", "Lucas", "Bram", "Thijs", "Ruben", "Joris", "Maarten", "Henk", "Wim", "Kees",
    "Gerrit", "Sander", "Jeroen", "Niels", "Koen", "Stijn", "Luuk", "Milan", "Jesse", "Floris", "Willem", "Hugo",
    "Mohammed", "Youssef", "Mehmet", "Rohan", "Emma", "Sophie", "Julia", "Anna", "Sanne", "Lotte", "Femke", "Anouk",
    "Eva", "Lisa", "Fleur", "Iris", "Marieke", "Ingrid", "Annelies", "Els", "Karin", "Monique", "Ilse", "Noor",
    "Saskia", "Esther", "Wendy", "Mirjam", "Tessa", "Roos", "Fatima", "Yasmina", "Elif", "Priya", "Nadia",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer",
    "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit",
    "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Heijden", "Schouten", "van Beek",
    "Willems", "van Vliet", "van de Ven", "Hoekstra", "Maas", "Verhoeven", "Koster", "van Dam", "van der Wal",
    "Prins", "Blom", "Huisman", "Kuipers", "van Wijk", "Postma", "Scholten", "Veenstra", "Kramer", "de Ridder",
    "El Amrani", "Yilmaz", "Bouzid", "Kaya", "Ramdin", "Sedney",
)  # fmt: skip


def customer_name(first_name: str, last_name: str, family: bool) -> str:
    """A person's own name, or for a family "Familie De Vries": the tussenvoegsel capitalised with no first name."""
    if family:
        return f"Familie {last_name[0].upper()}{last_name[1:]}"
    return f"{first_name} {last_name}"


def numbered(base: str, taken: set[str]) -> str:
    """``base``, or ERPNext's ``"base - 1"``, ``"base - 2"``, … when it is taken."""
    name, suffix = base, 0
    while name in taken:
        suffix += 1
        name = f"{base} - {suffix}"
    return name


def ascii_fold(text: str) -> str:
    """Lower-case letters and digits only, accents dropped: "El Amrani" → "elamrani"."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def email_local_parts(first_name: str, last_name: str) -> tuple[str, ...]:
    """The address patterns a member may use: jan.devries, j.devries, jandevries, jdevries."""
    first, last = ascii_fold(first_name), ascii_fold(last_name)
    return (f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", f"{first[0]}{last}")


def email_candidates(local: str) -> Iterator[str]:
    """``local@example.nl``, then ``local2@example.nl``, ``local3@example.nl``, …"""
    yield f"{local}@example.nl"
    for number in itertools.count(2):
        yield f"{local}{number}@example.nl"
