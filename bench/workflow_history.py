"""What one workflow's history shows: events, bytes, workflow tasks (and their timeouts and failures), activities,
search-attribute upserts. Tells what a pipeline costs the server, and why a verdict came late."""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


async def history_stats(client: Client, wid: str) -> dict[str, int]:
    try:
        history = await client.get_workflow_handle(wid).fetch_history()
    except Exception:
        return {}
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    return {
        "events": len(history.events),
        "bytes": sum(e.ByteSize() for e in history.events),
        "workflow_tasks": kinds["EVENT_TYPE_WORKFLOW_TASK_COMPLETED"],
        "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
        "search_attribute_upserts": kinds["EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        "workflow_task_timeouts": kinds["EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"],
        "workflow_task_failures": kinds["EVENT_TYPE_WORKFLOW_TASK_FAILED"],
        "local_activity_markers": kinds["EVENT_TYPE_MARKER_RECORDED"],
    }
