"""Replay of recorded histories against the current workflow code: a change that would break running workflows
fails here with a nondeterminism error (TMPRL1100; see docs/decisions/0003-patched-gates-and-recorded-histories.md).

The replayer decodes with the production converter (encrypting codec): histories recorded before payloads were
encrypted pass through it unchanged, those recorded since are encrypted with the suite's key."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_recorded_histories_exist() -> None:
    assert len(HISTORIES) >= 10, (
        "record them with DUESFLOW_RECORD_HISTORIES=tests/histories (see test_fixture_pipelines)"
    )


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path, duesflow_converter: DataConverter) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=WORKFLOWS, data_converter=duesflow_converter).replay_workflow(history)
