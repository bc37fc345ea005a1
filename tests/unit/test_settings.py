"""Unit tests of pure logic: reading ``DUESFLOW_*`` settings (``domain.settings``).

No database, no network: only environment variables (set with ``monkeypatch``) and the settings model.
"""

from __future__ import annotations

import os

import pytest

from domain.settings import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without any DUESFLOW_* variable of the machine running the tests."""
    for key in list(os.environ):
        if key.upper().startswith("DUESFLOW_"):
            monkeypatch.delenv(key)


def test_defaults_without_environment() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url.startswith("redis://")
    assert settings.currency == "EUR"
    assert settings.temporal_namespace == "default"


def test_valid_environment_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "DUESFLOW_TEMPORAL_ADDRESS": "temporal.internal:7233",
        "DUESFLOW_TEMPORAL_NAMESPACE": "verenigingen",
        "DUESFLOW_DATABASE_URL": "postgresql+psycopg://ledger:secret@db.internal:5432/ledger",
        "DUESFLOW_REDIS_URL": "rediss://cache.internal:6380/2",
        "DUESFLOW_WORKFLOW_TASK_QUEUE": "wf-q",
        "DUESFLOW_BACKGROUND_TASK_QUEUE": "bg-q",
        "DUESFLOW_SITE": "leden.groenevereniging.nl",
        "DUESFLOW_CURRENCY": "EUR",
        "DUESFLOW_VERDICT_TIMEOUT_SECONDS": "2.5",
        "DUESFLOW_MAX_CONCURRENT_ACTIVITIES": "16",
        "DUESFLOW_MAX_CONCURRENT_WORKFLOW_TASKS": "64",
        "DUESFLOW_DB_POOL_SIZE": "5",
        "DUESFLOW_RETRY_INTERVAL_SCALE": "0.01",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.temporal_namespace == "verenigingen"
    assert settings.database_url == "postgresql+psycopg://ledger:secret@db.internal:5432/ledger"
    assert settings.redis_url == "rediss://cache.internal:6380/2"
    assert settings.workflow_task_queue == "wf-q" and settings.background_task_queue == "bg-q"
    assert settings.site == "leden.groenevereniging.nl"
    assert settings.verdict_timeout_seconds == 2.5
    assert settings.max_concurrent_activities == 16
    assert settings.max_concurrent_workflow_tasks == 64
    assert settings.db_pool_size == 5
    assert settings.retry_interval_scale == 0.01


def test_plain_postgresql_url_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_DATABASE_URL", "postgresql://ledger@db:5432/ledger")
    assert load_settings().database_url == "postgresql+psycopg://ledger@db:5432/ledger"


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///ledger.db", "postgres://ledger@db/ledger", ""])
def test_non_postgresql_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DUESFLOW_DATABASE_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "DUESFLOW_DATABASE_URL" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_redis_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_REDIS_URL", "http://cache:6379")
    with pytest.raises(ConfigError, match="DUESFLOW_REDIS_URL"):
        load_settings()


def test_every_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("DUESFLOW_CURRENCY", "euro")
    monkeypatch.setenv("DUESFLOW_MAX_CONCURRENT_ACTIVITIES", "0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in ("DUESFLOW_DATABASE_URL", "DUESFLOW_CURRENCY", "DUESFLOW_MAX_CONCURRENT_ACTIVITIES"):
        assert name in message
    assert "DUESFLOW_REDIS_URL" not in message  # only the offending variables


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DUESFLOW_VERDICT_TIMEOUT_SECONDS", "0"),
        ("DUESFLOW_VERDICT_TIMEOUT_SECONDS", "soon"),
        ("DUESFLOW_DB_POOL_SIZE", "201"),
        ("DUESFLOW_RETRY_INTERVAL_SCALE", "11"),
        ("DUESFLOW_TEMPORAL_NAMESPACE", ""),
        ("DUESFLOW_CURRENCY", "EURO"),
    ],
)
def test_out_of_range_values_name_their_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_keyword_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_SITE", "from-env.example.nl")
    assert load_settings(site="from-arg.example.nl").site == "from-arg.example.nl"
    assert load_settings().site == "from-env.example.nl"


def test_bad_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DUESFLOW_DATABASE_URL"):
        load_settings(database_url="mysql://x")


def test_unrelated_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_SOMETHING_ELSE", "whatever")
    assert isinstance(load_settings(), Settings)


def test_reminder_and_smtp_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_REMINDER_GRACE", "P3D")
    monkeypatch.setenv("DUESFLOW_REMINDER_INTERVAL", "30")
    monkeypatch.setenv("DUESFLOW_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("DUESFLOW_SEPA_RETRY_OFFSETS_DAYS", "[2, 5]")
    settings = load_settings()
    assert settings.reminder_grace.days == 3 and settings.reminder_interval.total_seconds() == 30
    assert settings.smtp_security == "starttls" and settings.sepa_retry_offsets_days == [2, 5]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DUESFLOW_REMINDER_INTERVAL", "fortnight"),
        ("DUESFLOW_REMINDER_GRACE", "-P1D"),
        ("DUESFLOW_SMTP_PORT", "0"),
        ("DUESFLOW_SMTP_SECURITY", "ssl3"),
        ("DUESFLOW_SMTP_SENDER", "not-an-address"),
        ("DUESFLOW_SEPA_RETRY_OFFSETS_DAYS", "[7, 3]"),
        ("DUESFLOW_REMINDER_LANGUAGE", "de"),
    ],
)
def test_bad_reminder_and_smtp_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_smtp_password_is_never_shown_but_reaches_the_worker_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.settings import as_environment

    monkeypatch.setenv("DUESFLOW_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    env = as_environment(settings)
    assert env["DUESFLOW_SMTP_PASSWORD"] == "hunter2"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == settings
