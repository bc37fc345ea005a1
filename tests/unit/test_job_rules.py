"""Pure rules of job tracking (no server): job status, progress, error grouping, notifications' wording, the user
pseudonym, callers' roles, the backfill's order and its input errors."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from config.settings import ConfigError, Settings, load_settings, user_key_of
from domain.jobs import (
    JOB_STATUSES,
    LIVE_STATUSES,
    Job,
    StepView,
    check_days,
    check_limit,
    check_status,
    derive_status,
    top_errors,
)
from domain.messages import StepProgress
from domain.notifications import channel, outcome
from domain.users import Caller, user_key
from domain.verdicts import FieldError, Verdict
from starter.backfill import backfill_order, read_documents
from starter.job_queries import STATUS_CLAUSE

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def step(name: str, status: str) -> StepView:
    return StepView(name=name, status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("execution", "state", "steps", "expected"),
    [
        ("RUNNING", "submitted", [], "Queued"),
        ("RUNNING", "accepted", [step("sepa", "pending")], "Queued"),  # accepted, no worker has taken a step yet
        ("RUNNING", "accepted", [step("sepa", "running")], "Running"),
        ("RUNNING", "accepted", [step("sepa", "done"), step("analytics", "pending")], "Running"),
        ("RUNNING", "accepted", [step("sepa", "retrying"), step("analytics", "done")], "Retrying"),
        ("COMPLETED", "completed", [step("sepa", "done")], "Completed"),
        ("COMPLETED", "accepted", [], "Completed"),  # accepted without background steps
        ("COMPLETED", "completed_with_failures", [step("sepa", "failed")], "Failed"),
        ("COMPLETED", "rejected", [], "Failed"),
        ("CANCELED", "cancelled", [], "Cancelled"),
        ("TERMINATED", "accepted", [], "Cancelled"),
        ("FAILED", "accepted", [], "Failed"),
        ("TIMED_OUT", "accepted", [], "Failed"),
    ],
)
def test_job_status_follows_temporal_and_the_pipeline_state(
    execution: str, state: str, steps: list[StepView], expected: str
) -> None:
    assert derive_status(execution, state, steps) == expected


# Every execution status Temporal has, every DuesflowState a pipeline sets (and none yet), and steps of each kind.
EXECUTIONS = [status.name for status in WorkflowExecutionStatus]
STATES = [None, "submitted", "accepted", "rejected", "completed", "completed_with_failures", "cancelled"]
STEP_SAMPLES = [[], *([step("sepa", kind)] for kind in ("pending", "running", "retrying", "done", "failed"))]
# A completed pipeline has set one of these (its finish); a run that is not one (continued as new, or completed
# without an end state) is no job status's: it counts as Failed and no filter lists it.
END_STATES = {"accepted", "rejected", "completed", "completed_with_failures"}


def lists(clause: str, execution: str, state: str | None) -> bool:
    """Whether a visibility clause lists a run: the clause evaluated as Temporal would, on the run's ExecutionStatus
    (spelt Running, TimedOut, … there) and DuesflowState."""
    expression = re.sub(r" IN \(([^)]*)\)", r" in {\1}", clause)
    expression = expression.replace(" = ", " == ").replace(" AND ", " and ").replace(" OR ", " or ")
    spelt = "".join(part.capitalize() for part in execution.split("_"))
    return bool(eval(expression, {}, {"ExecutionStatus": spelt, "DuesflowState": state}))


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_the_status_filter_and_derive_status_agree(status: str) -> None:
    """The job API's filter for a status lists every run that derive_status gives that status, and no run of another
    status (Queued, Running and Retrying share the running runs: only the history tells them apart). A run no status
    describes is Failed and listed by no filter."""
    same_listing = set(LIVE_STATUSES) if status in LIVE_STATUSES else {status}
    for execution, state in itertools.product(EXECUTIONS, STATES):
        listed = lists(STATUS_CLAUSE[status], execution, state)  # type: ignore[index]
        placed = execution != "CONTINUED_AS_NEW" and (execution != "COMPLETED" or state in END_STATES)
        for steps in STEP_SAMPLES:
            derived = derive_status(execution, state, steps)
            run = (execution, state, [s.status for s in steps])
            if not placed:
                assert derived == "Failed" and not listed, run
            elif derived == status:
                assert listed, run
            if listed:
                assert derived in same_listing, run


def test_each_submittable_doctype_names_the_workflow_the_client_starts_and_the_worker_runs() -> None:
    from domain.parsing import SUBMITTABLE
    from starter.job_queries import DOCTYPES, PIPELINES
    from starter.submission_start import WORKFLOW_FOR
    from worker import WORKFLOWS

    assert set(SUBMITTABLE) == set(WORKFLOW_FOR) == set(DOCTYPES) == {"Payment Entry", "Sales Invoice"}
    for doctype, submittable in SUBMITTABLE.items():
        assert submittable.contract.model_fields["doctype"].default == doctype
        assert WORKFLOW_FOR[doctype].__name__ == submittable.workflow in PIPELINES
        assert WORKFLOW_FOR[doctype] in WORKFLOWS


def test_the_check_of_visibility_clauses_reads_them_as_temporal_does() -> None:
    clause = "(ExecutionStatus IN ('Failed', 'TimedOut') OR (ExecutionStatus = 'Completed' AND DuesflowState IN ('x')))"
    assert lists(clause, "TIMED_OUT", None) and lists(clause, "COMPLETED", "x")
    assert not lists(clause, "COMPLETED", "xy") and not lists(clause, "RUNNING", "x")


def job(status: str, *, done: int = 0, total: int = 0, state: str = "accepted", error: str | None = None) -> Job:
    return Job(
        workflow_id="s:Payment Entry:P",
        run_id="r",
        site="s",
        doctype="Payment Entry",
        name="P",
        status=status,  # type: ignore[arg-type]
        state=state,
        submitted_at=NOW,
        steps_done=done,
        steps_total=total,
        last_error=error,
    )


def test_progress_counts_step_one() -> None:
    assert job("Queued", state="submitted", total=3).progress_percent == 0
    assert job("Running", done=0, total=3).progress_percent == 25  # the verdict is one of four steps
    assert job("Running", done=2, total=3).progress_percent == 75
    assert job("Completed", done=0, total=0).progress_percent == 100


def test_top_errors_group_failed_jobs_by_first_line() -> None:
    jobs = [
        job("Failed", error="sepa failed: OperationalError (SQLSTATE 08006)\nmore"),
        job("Failed", error="sepa failed: OperationalError (SQLSTATE 08006)"),
        job("Failed", error="analytics failed: boom"),
        job("Completed", error="sepa failed: ignored for completed jobs"),
    ]
    assert top_errors(jobs) == [("sepa failed: OperationalError (SQLSTATE 08006)", 2), ("analytics failed: boom", 1)]


@pytest.mark.parametrize(
    ("check", "bad", "message"),
    [
        (check_limit, 0, "limit must be between 1 and 100"),
        (check_limit, 101, "limit must be between 1 and 100"),
        (check_days, 0, "days must be a whole number from 1 to 365"),
        (check_days, 366, "days must be a whole number from 1 to 365"),
        (check_status, "done", "status must be one of Queued, Running, Retrying, Completed, Failed, Cancelled"),
    ],
)
def test_bad_arguments_are_named(check: object, bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(bad)  # type: ignore[operator]


def test_status_filter_ignores_case() -> None:
    assert check_status("failed") == "Failed" and check_status(None) is None


def test_notification_wording() -> None:
    steps = [
        StepProgress(name="sepa", status="failed", last_error="exceeds the mandate maximum"),
        StepProgress(name="analytics", status="done"),
    ]
    accepted = Verdict(status="accepted")
    assert outcome("Payment Entry", "P-1", accepted, steps) == (
        "failed",
        "Payment Entry P-1: 1 of 2 steps done; sepa failed: exceeds the mandate maximum",
    )
    assert outcome("Payment Entry", "P-1", accepted, [StepProgress(name="analytics", status="done")]) == (
        "completed",
        "Payment Entry P-1: done (1 step)",
    )
    rejected = Verdict(
        status="rejected",
        errors=[
            FieldError(field="party", code="unknown_customer", message="unknown"),
            FieldError(field="x", code="y", message="z"),
        ],
    )
    assert outcome("Payment Entry", "P-1", rejected, []) == (
        "rejected",
        "Payment Entry P-1 was rejected: party: unknown (and 1 more)",
    )
    assert outcome("Sales Invoice", "I-1", None, [], cancelled=True) == (
        "cancelled",
        "Sales Invoice I-1 was cancelled; 0 of 0 steps had finished",
    )


def test_user_key_is_stable_case_insensitive_keyed_and_not_the_address() -> None:
    key = user_key("Penningmeester@Example.nl", "secret-one")
    assert key == user_key(" penningmeester@example.nl ", "secret-one")
    assert key != user_key("penningmeester@example.nl", "secret-two")
    assert key.startswith("u-") and "example" not in key and len(key) == 22
    assert channel("prod", 2, "s.example", key) == f"duesflow:prod:db2:notifications:s.example:{key}"
    with pytest.raises(ValueError, match="user must be the ERP user"):
        user_key("  ", "secret-one")


def test_settings_for_job_tracking() -> None:
    settings = Settings()
    assert user_key_of(settings, "a@b.nl") == user_key("a@b.nl", "duesflow-development-only")
    with pytest.raises(ConfigError, match="DUESFLOW_METRICS_ADDRESS"):
        load_settings(metrics_address="9464")
    with pytest.raises(ConfigError, match="DUESFLOW_USER_KEY_SECRET"):
        load_settings(user_key_secret="short")
    with pytest.raises(ConfigError, match="DUESFLOW_ADMIN_ROLES"):
        load_settings(admin_roles=[])


def test_caller_roles() -> None:
    caller = Caller.of("A@B.nl", ["Accounts User", " System Manager "])
    assert caller.user == "a@b.nl" and caller.is_admin(["System Manager"])
    assert not Caller.of("a@b.nl").is_admin(["System Manager"])
    with pytest.raises(ValueError, match="roles must be a list"):
        Caller.of("a@b.nl", "System Manager")


def test_backfill_order_puts_what_others_refer_to_first() -> None:
    docs = [
        {"doctype": "Payment Entry", "name": "P-1", "posting_date": "2025-01-05", "docstatus": 1},
        {"doctype": "Sales Invoice", "name": "I-2", "posting_date": "2025-02-01", "docstatus": 1},
        {"doctype": "Sales Invoice", "name": "I-1", "posting_date": "2025-01-01", "docstatus": 1},
        {"doctype": "Sales Invoice", "name": "I-1", "posting_date": "2025-01-01", "docstatus": 2},
        {"doctype": "Sales Invoice", "name": "C-1", "posting_date": "2024-12-01", "docstatus": 1, "is_return": 1},
    ]
    order = [(d["name"], d["docstatus"]) for d in backfill_order(docs)]
    assert order == [("I-1", 1), ("I-2", 1), ("C-1", 1), ("P-1", 1), ("I-1", 2)]


def test_backfill_input_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"doctype": "Sales Invoice", "name": "I-1"}, {"doctype": "Customer"}]))
    with pytest.raises(ValueError, match=r"a\.json\[1\]: doctype must be 'Payment Entry' or 'Sales Invoice'"):
        read_documents([tmp_path])
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"a\.json: not valid JSON"):
        read_documents([tmp_path / "a.json"])
    with pytest.raises(ValueError, match=r"nope\.json: no such file"):
        read_documents([tmp_path / "nope.json"])
    (tmp_path / "a.json").write_text(json.dumps({"doctype": "Payment Entry", "name": "P-1"}))
    assert [d["name"] for d in read_documents([tmp_path])] == ["P-1"]


def test_a_closed_runs_state_follows_from_its_result_when_visibility_lags() -> None:
    from domain.jobs import final_state
    from domain.messages import PipelineResult

    accepted = Verdict(status="accepted")
    assert final_state(PipelineResult(verdict=Verdict(status="rejected"))) == "rejected"
    failed = [StepProgress(name="sepa", status="failed"), StepProgress(name="analytics", status="done")]
    assert final_state(PipelineResult(verdict=accepted, steps=failed)) == "completed_with_failures"
    assert final_state(PipelineResult(verdict=accepted, steps=failed[1:])) == "completed"


def test_every_background_budget_outlasts_an_hour_of_outage() -> None:
    """Budgets are spans: a step keeps trying for at least an hour (PostgreSQL restarting, a network partition) and
    its waits stay within a quarter of an hour, so it resumes soon after the outage ends."""
    from domain.priorities import STEP_BUDGETS

    for level, budget in STEP_BUDGETS.items():
        waits = budget.intervals()
        assert sum(waits) >= 3600, level
        assert max(waits) <= 900, level
        assert budget.maximum_attempts() == len(waits) + 1


def test_what_must_not_be_lost_retries_until_done() -> None:
    """Step 1, bookkeeping and reminder steps have no last attempt: Temporal's RetryPolicy gets no limit (0)."""
    from domain.priorities import BOOKKEEPING_BUDGET, REMINDER_BUDGET, VERDICT_BUDGET
    from workflows.retries import retry_policy

    for budget in (VERDICT_BUDGET, BOOKKEEPING_BUDGET, REMINDER_BUDGET):
        assert budget.maximum_attempts() is None
        assert retry_policy(budget).maximum_attempts == 0
