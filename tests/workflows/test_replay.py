"""Replay of recorded histories against the current workflow code: a change that would break running workflows
fails here with a nondeterminism error (TMPRL1100; see docs/decisions/0003-patched-gates-and-recorded-histories.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_recorded_histories_exist() -> None:
    assert len(HISTORIES) >= 10, (
        "record them with DUESFLOW_RECORD_HISTORIES=tests/histories (see test_fixture_pipelines)"
    )


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter).replay_workflow(history)
