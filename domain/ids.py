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


def workflow_id(site: str, doctype: str, name: str, *, cancellation: bool = False) -> str:
    """A cancellation is its own workflow: the submission's workflow id stays bound to the submission."""
    return f"{check_site(site)}:{doctype}:{name}" + (":cancel" if cancellation else "")
