"""Workflow ids: one per document version, so a re-submission finds the same workflow."""

from __future__ import annotations

import re

SITE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,139}$")


def check_site(site: str) -> str:
    if not isinstance(site, str) or not SITE_PATTERN.fullmatch(site):
        raise ValueError(
            f"site must be an ERP site name such as leden.example.nl (letters, digits, '.', '-'), got {site!r}"
        )
    return site


def id_part(name: str) -> str:
    """A document name as one part of a workflow id. ':' separates the parts (``…:cancel``, ``…:reminders``), so a
    name's own ':' is written %3A (and '%' as %25, so the escape cannot be forged): an invoice named ``X:cancel``
    gets an id of its own, not the id of X's cancellation. Names without either character stay as they are."""
    return name.replace("%", "%25").replace(":", "%3A")


def workflow_id(site: str, doctype: str, name: str, *, cancellation: bool = False) -> str:
    """A cancellation is its own workflow: the submission's workflow id stays bound to the submission."""
    return f"{check_site(site)}:{doctype}:{id_part(name)}" + (":cancel" if cancellation else "")
