"""What a user is told when their submission ends (docs/business-rules.md §8): pure rules, no I/O."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.messages import StepProgress
from domain.verdicts import Verdict

NoticeKind = Literal["completed", "failed", "rejected", "cancelled"]


class Notice(BaseModel):
    """Input of the notify step: enough to store and publish the notification without reading the ledger."""

    model_config = ConfigDict(frozen=True)

    site: str
    user: str
    user_key: str
    doctype: str
    name: str
    kind: NoticeKind
    message: str


class Notification(BaseModel):
    id: int
    site: str
    workflow_id: str
    doctype: str
    name: str
    kind: NoticeKind
    message: str
    created_at: dt.datetime
    read_at: dt.datetime | None = None


def channel(deployment: str, redis_db: int, site: str, user_key: str) -> str:
    """Redis pub/sub channel of one user on one site of one deployment.

    Pub/sub ignores Redis's database number, so the channel names the deployment (``DUESFLOW_DEPLOYMENT``) and the
    database the deployment uses: two installations sharing a Redis (and a site name) never hear each other. The
    pseudonymous key, not the e-mail address: channel names show up in `PUBSUB CHANNELS` and monitoring."""
    return f"duesflow:{deployment}:db{redis_db}:notifications:{site}:{user_key}"


def notifies(kind: NoticeKind, *, bulk: bool) -> bool:
    """A backfill of thousands of documents tells its user only what needs a look, not every success."""
    return not (bulk and kind == "completed")


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def outcome(
    doctype: str, name: str, verdict: Verdict | None, steps: list[StepProgress], *, cancelled: bool = False
) -> tuple[NoticeKind, str]:
    """The kind and one sentence for the user: what ended how, and the first thing to look at."""
    subject = f"{doctype} {name}"
    done = sum(1 for s in steps if s.status == "done")
    if cancelled:
        return "cancelled", f"{subject} was cancelled; {done} of {_steps(len(steps))} had finished"
    if verdict is None or not verdict.accepted:
        first = verdict.errors[0] if verdict is not None and verdict.errors else None
        reason = f": {first.field}: {first.message}" if first else ""
        more = f" (and {len(verdict.errors) - 1} more)" if verdict is not None and len(verdict.errors) > 1 else ""
        return "rejected", f"{subject} was rejected{reason}{more}"
    failed = [s for s in steps if s.status == "failed"]
    if failed:
        first_failed = failed[0]
        return "failed", (
            f"{subject}: {done} of {_steps(len(steps))} done; {first_failed.name} failed"
            + (f": {first_failed.last_error}" if first_failed.last_error else "")
        )
    return "completed", f"{subject}: done ({_steps(len(steps))})" if steps else f"{subject} was accepted"
