"""Dedupe keys of audit records, one function per kind of record, so that each format is written once.

A key names the one event its record is about: a retried or replayed step computes the same key, and appending it
again does nothing (``ledger/audit.py``). Never change a format: records already stored carry it, and a changed key
would let a retry that spans a release append twice.
"""

from __future__ import annotations


def verdict(workflow_id: str) -> str:
    """Step 1's record, which holds the document's verdict (one per workflow id)."""
    return f"{workflow_id}:verdict"


def step_completed(workflow_id: str, step: str) -> str:
    return f"{workflow_id}:{step}:completed"


def step_failed(workflow_id: str, step: str) -> str:
    return f"{workflow_id}:{step}:failed"


def run_event(workflow_id: str, run_id: str, event: str) -> str:
    """Something that happened to one run of a workflow: its cancellation, a job request (retry, cancel)."""
    return f"{workflow_id}:{run_id}:{event}"


def document_event(site: str, doctype: str, name: str, *what: object) -> str:
    """Something that happened to a document outside its own workflow run (a reminder level, a return decision,
    a mandate's lifecycle event on a day); ``what`` names the event and what makes it unique."""
    return ":".join([site, doctype, name, *(str(part) for part in what)])


def cleanup(site: str, token: str) -> str:
    """A job clean-up request (each request is its own event: ``token`` is fresh)."""
    return f"cleanup:{site}:{token}"
