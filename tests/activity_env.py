"""Activities run outside a worker, with the worker's treatment of their failures.

Temporal's ``ActivityEnvironment`` runs an activity without interceptors; duesflow's worker gives every activity
``activities.failures.ScrubFailures``. ``WorkerEnvironment`` applies the same treatment, so an integration test sees
the failure Temporal would record (type, non-retryable, scrubbed message, details) and not the raw exception."""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.failures import application_error, passes_untouched


class WorkerEnvironment(ActivityEnvironment):
    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().run(fn, *args, **kwargs)
        except Exception as exc:
            if passes_untouched(exc):
                raise
            raise application_error(exc, self.info.attempt) from None


def activity_env(workflow_id: str, attempt: int = 1) -> WorkerEnvironment:
    env = WorkerEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id, attempt=attempt)
    return env
