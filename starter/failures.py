"""The Temporal SDK's failures, told as duesflow's own errors (domain/errors.py): callers never import temporalio."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError, TerminatedError, TimeoutError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import JobCancelled, JobEnded, JobFailed, TemporalUnavailable


def address_of(client: Client) -> str:
    return client.service_client.config.target_host


@contextmanager
def temporal_errors(client: Client) -> Iterator[None]:
    """A frontend that stops answering (after the SDK's own retries) is ``TemporalUnavailable``; any other answer
    of the server stays what it is."""
    try:
        yield
    except RPCError as exc:
        if exc.status == RPCStatusCode.UNAVAILABLE:
            raise TemporalUnavailable(
                address_of(client),
                "it stopped answering; is the server running? "
                "is TEMPORAL_ADDRESS (or DUESFLOW_TEMPORAL_ADDRESS) right?",
            ) from exc
        raise


def job_ended(workflow_id: str, exc: WorkflowFailureError) -> JobEnded:
    """Why a job's workflow has no result: cancelled or terminated (``JobCancelled``), failed or timed out
    (``JobFailed``)."""
    cause = exc.cause
    if isinstance(cause, CancelledError):
        return JobCancelled(workflow_id, "cancelled")
    if isinstance(cause, TerminatedError):
        return JobCancelled(workflow_id, f"terminated: {cause.message}" if cause.message else "terminated")
    if isinstance(cause, TimeoutError):
        return JobFailed(workflow_id, "timed out")
    return JobFailed(workflow_id, getattr(cause, "message", "") or str(cause))
