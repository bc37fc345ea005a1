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
from domain.jobs import JOB_STATUSES, RUNNING, STATUS_SHAPES, JobStatus, RunShape
from domain.parsing import SUBMITTABLE
from workflows import search_attributes as sa

# A job is a run of the pipeline of a submittable doctype (domain/parsing.py).
PIPELINES = tuple(s.workflow for s in SUBMITTABLE.values())
DOCTYPES = tuple(SUBMITTABLE)
_PIPELINE_LIST = f"({', '.join(repr(t) for t in PIPELINES)})"
# ERPNext names (ACC-PAY-2025-00201, ACC-SINV-RET-2025-00003): nothing that could break out of a query string.
DOCUMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,139}$")


def _one_of(field: str, values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return f"{field} = {quoted[0]}" if len(quoted) == 1 else f"{field} IN ({', '.join(quoted)})"


def shape_clause(shape: RunShape) -> str:
    """The visibility clause of the runs that have ``shape`` (domain/jobs.py); ExecutionStatus is spelt Running,
    TimedOut, … there."""
    executions = ["".join(part.capitalize() for part in name.split("_")) for name in shape.executions]
    clause = _one_of("ExecutionStatus", executions)
    return clause if shape.states is None else f"{clause} AND {_one_of(sa.STATE.name, shape.states)}"


def status_clause(status: JobStatus) -> str:
    """The visibility clause of the runs of jobs in ``status``: its shapes (domain/jobs.py ``STATUS_SHAPES``). Queued,
    Running and Retrying all list the running runs; they are told apart after loading."""
    clauses = [shape_clause(shape) for shape in STATUS_SHAPES[status]]
    if len(clauses) == 1:
        return clauses[0]
    return "(" + " OR ".join(f"({c})" if " AND " in c else c for c in clauses) + ")"


RUNNING_CLAUSE = shape_clause(RUNNING)
STATUS_CLAUSE: dict[JobStatus, str] = {status: status_clause(status) for status in JOB_STATUSES}


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
