"""Workflow inputs are recorded in every history for good: they carry business data and the caller's choices, never
a deployment setting (a task queue, a test knob)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from config.settings import Settings
from domain.messages import SubmissionInput
from domain.reminders import ReminderInput
from domain.upkeep import UpkeepInput
from workflows.retry_scaling import scaled

# Names shared with settings that are business data: the document's site (settings hold a default one), and a
# policy fixed per run on purpose (a running job keeps the window it started with).
POLICY = {"site", "analytics_window_days"}


def test_no_workflow_input_carries_a_deployment_setting() -> None:
    settings = set(Settings.model_fields) - POLICY
    for model in (SubmissionInput, ReminderInput, UpkeepInput):
        assert settings & set(model.model_fields) == set(), model.__name__
        assert not [f for f in model.model_fields if "queue" in f or "scale" in f], model.__name__


def test_an_input_recorded_with_the_old_infrastructure_fields_still_decodes() -> None:
    """Histories recorded before the fields left hold them; pydantic ignores them."""
    recorded = {
        "job": "audit-retention",
        "background_task_queue": "duesflow-background",
        "retry_interval_scale": 1.0,
    }
    assert UpkeepInput.model_validate(recorded).job == "audit-retention"


def test_the_worker_scales_the_waits_not_the_attempts() -> None:
    policy = RetryPolicy(
        initial_interval=timedelta(seconds=30),
        maximum_interval=timedelta(minutes=10),
        maximum_attempts=7,
        non_retryable_error_types=["BusinessRuleViolation"],
    )
    small = scaled(policy, 0.01)
    assert small.initial_interval == timedelta(seconds=0.3) and small.maximum_interval == timedelta(seconds=6)
    assert small.maximum_attempts == 7 and small.non_retryable_error_types == ["BusinessRuleViolation"]
