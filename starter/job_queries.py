"""Finding jobs in Temporal's visibility: the query strings (a site's pipelines, a status, a document) and the
list, count and describe calls that run them. What a caller may see is decided by the job API (starter/jobs.py),
which passes the user key a query is limited to."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Sequence

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import NotFound
from domain.jobs import JobStatus
from workflows import search_attributes as sa

PIPELINES = ("PaymentEntryWorkflow", "SalesInvoiceWorkflow")
DOCTYPES = ("Payment Entry", "Sales Invoice")
_PIPELINE_LIST = f"({', '.join(repr(t) for t in PIPELINES)})"
# ERPNext names (ACC-PAY-2025-00201, ACC-SINV-RET-2025-00003): nothing that could break out of a query string.
DOCUMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,139}$")

RUNNING = "ExecutionStatus = 'Running'"
# Visibility clauses for each status a user filters by (Queued/Running/Retrying are told apart after loading).
STATUS_CLAUSE: dict[JobStatus, str] = {
    "Queued": RUNNING,
    "Running": RUNNING,
    "Retrying": RUNNING,
    "Completed": "ExecutionStatus = 'Completed' AND DuesflowState IN ('completed', 'accepted')",
    "Failed": "(ExecutionStatus IN ('Failed', 'TimedOut') OR (ExecutionStatus = 'Completed' "
    "AND DuesflowState IN ('completed_with_failures', 'rejected')))",
    "Cancelled": "ExecutionStatus IN ('Canceled', 'Terminated')",
}


def scope(site: str, doctype: str | None, user_key: str | None) -> str:
    """The pipelines of ``site`` (of one doctype), limited to one submitter's when ``user_key`` is given."""
    query = f"DuesflowSite = '{site}' AND WorkflowType IN {_PIPELINE_LIST}"
    if doctype is not None:
        if doctype not in DOCTYPES:
            raise ValueError(f"doctype must be one of {', '.join(DOCTYPES)}, got {doctype!r}")
        query += f" AND DuesflowDoctype = '{doctype}'"
    if user_key is not None:
        query += f" AND DuesflowUser = '{user_key}'"
    return query


def started_since(instant: dt.datetime) -> str:
    return f"StartTime > '{instant.isoformat().replace('+00:00', 'Z')}'"


async def runs(client: Client, query: str, limit: int) -> list[WorkflowExecution]:
    return [e async for e in client.list_workflows(query, limit=limit)]


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def find_job(client: Client, site: str, workflow_id: str) -> WorkflowExecution:
    """The newest run of a job of ``site``. ``workflow_id`` may also be a document name (what an operator knows):
    it is looked up on the site."""
    if ":" not in workflow_id:  # workflow ids are "<site>:<doctype>:<name>" (domain/ids.py); a name is looked up
        workflow_id = await _by_document(client, site, workflow_id)
    try:
        execution = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no job {workflow_id!r} (it may be older than Temporal's retention)") from None
        raise
    if execution.typed_search_attributes.get(sa.SITE) != site or execution.workflow_type not in PIPELINES:
        raise NotFound(f"no job {workflow_id!r} on site {site}")
    return execution


async def _by_document(client: Client, site: str, name: str) -> str:
    if not DOCUMENT_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is neither a workflow id of site {site} nor a document name")
    query = f"DuesflowSite = '{site}' AND DuesflowDocument = '{name}' AND WorkflowType IN {_PIPELINE_LIST}"
    ids = sorted({e.id async for e in client.list_workflows(query, limit=10)})
    if not ids:
        raise NotFound(f"no job for document {name!r} on site {site}")
    if len(ids) > 1:
        raise NotFound(f"document {name!r} has several jobs, name one: {', '.join(ids)}")
    return ids[0]


def _may_be_retried(execution: WorkflowExecution) -> bool:
    state = execution.typed_search_attributes.get(sa.STATE)
    return execution.status != WorkflowExecutionStatus.COMPLETED or state == "completed_with_failures"


async def replaced_runs(client: Client, executions: Sequence[WorkflowExecution]) -> set[str]:
    """Run ids of closed runs that a retry (reset) replaced by a newer run of the same workflow. Only failed
    runs are ever retried, so only those are checked."""
    closed_failed = [e for e in executions if e.status != WorkflowExecutionStatus.RUNNING and _may_be_retried(e)]
    current = await asyncio.gather(
        *(client.get_workflow_handle(wid).describe() for wid in {e.id for e in closed_failed})
    )
    current_run = {d.id: d.run_id for d in current}
    return {e.run_id for e in closed_failed if current_run.get(e.id) not in (None, e.run_id)}
