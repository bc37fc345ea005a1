"""What the stack prints for "the duesflow CLI in another shell": only variables that are settings, with the values
this stack really runs with (no Web UI address from a default port: the stack prints its real Web UI itself)."""

from __future__ import annotations

import os

import pytest

from config.settings import Settings, load_settings, unknown_variables
from infra.stack import cli_environment


def test_the_cli_environment_names_real_settings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("DUESFLOW_"):
            monkeypatch.delenv(key)
    settings = load_settings(
        database_url="postgresql+psycopg://postgres@127.0.0.1:5433/ledger",
        redis_url="redis://127.0.0.1:6380/0",
        temporal_address="127.0.0.1:7300",
    )
    env = cli_environment(settings)
    assert env == {
        "DUESFLOW_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5433/ledger",
        "DUESFLOW_REDIS_URL": "redis://127.0.0.1:6380/0",
        "DUESFLOW_TEMPORAL_ADDRESS": "127.0.0.1:7300",
    }
    assert unknown_variables(env) == []
    assert all(name.removeprefix("DUESFLOW_").lower() in Settings.model_fields for name in env)
