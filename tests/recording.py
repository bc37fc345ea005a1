"""Recording workflow histories for the replay tests (tests/histories, replayed by test_replay.py on every change).

Set DUESFLOW_RECORD_HISTORIES=tests/histories when running a test that calls ``keep``; only for a new workflow
shape (existing files guard the versions that may still be running: do not overwrite them).
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import WorkflowHistory


def keep(name: str, history: WorkflowHistory) -> None:
    if target := os.environ.get("DUESFLOW_RECORD_HISTORIES"):
        (Path(target) / f"{name}.json").write_text(history.to_json())
