"""Unit tests of pure logic: reading ``DUESFLOW_*`` settings (``config.settings``).

No database, no network: only environment variables (set with ``monkeypatch``) and the settings model.
"""

from __future__ import annotations

import os

import pytest

from config.settings import ConfigError, Settings, load_settings, unknown_variables


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
        "DUESFLOW_TASK_QUEUE": "dues-q",
        "DUESFLOW_SITE": "leden.groenevereniging.nl",
        "DUESFLOW_CURRENCY": "EUR",
        "DUESFLOW_VERDICT_TIMEOUT_SECONDS": "2.5",
        "DUESFLOW_MAX_CONCURRENT_ACTIVITIES": "16",
        "DUESFLOW_MAX_CONCURRENT_WORKFLOW_TASKS": "64",
        "DUESFLOW_RETRY_INTERVAL_SCALE": "0.01",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.temporal_namespace == "verenigingen"
    assert settings.database_url == "postgresql+psycopg://ledger:secret@db.internal:5432/ledger"
    assert settings.redis_url == "rediss://cache.internal:6380/2"
    assert settings.task_queue == "dues-q"
    assert settings.site == "leden.groenevereniging.nl"
    assert settings.verdict_timeout_seconds == 2.5
    assert settings.max_concurrent_activities == 16
    assert settings.max_concurrent_workflow_tasks == 64
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
        ("DUESFLOW_MAX_CONCURRENT_ACTIVITIES", "257"),
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
    from config.settings import as_environment

    monkeypatch.setenv("DUESFLOW_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    env = as_environment(settings)
    assert env["DUESFLOW_SMTP_PASSWORD"] == "hunter2"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == settings


@pytest.mark.parametrize(
    ("value", "roles"),
    [
        ('["System Manager", "Accounts Manager"]', ["System Manager", "Accounts Manager"]),
        ("System Manager", ["System Manager"]),
        ("System Manager, Accounts Manager", ["System Manager", "Accounts Manager"]),
    ],
)
def test_admin_roles_as_json_or_comma_separated(monkeypatch: pytest.MonkeyPatch, value: str, roles: list[str]) -> None:
    monkeypatch.setenv("DUESFLOW_ADMIN_ROLES", value)
    assert load_settings().admin_roles == roles


def test_list_variable_that_is_not_a_list_names_the_variable_and_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_ADMIN_ROLES", '["System Manager"')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert 'DUESFLOW_ADMIN_ROLES: must be a JSON list such as ["System Manager", "Accounts Manager"]' in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[2, 5]", "ok"),
        ("2, 5", "ok"),
        ("2 days", "DUESFLOW_SEPA_RETRY_OFFSETS_DAYS: item 1: Input should be a valid integer"),
        ("[2, 5", "DUESFLOW_SEPA_RETRY_OFFSETS_DAYS: must be a JSON list such as [3, 7, 14]"),
        (" ", "DUESFLOW_SEPA_RETRY_OFFSETS_DAYS: must not be empty"),
    ],
)
def test_retry_offsets_as_json_or_comma_separated(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("DUESFLOW_SEPA_RETRY_OFFSETS_DAYS", value)
    if expected == "ok":
        assert load_settings().sepa_retry_offsets_days == [2, 5]
        return
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)
    assert "OFFSETS_DAYS_0" not in str(info.value)  # the variable's name, not pydantic's location


def test_list_settings_reach_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import as_environment

    settings = load_settings(admin_roles=["Treasurer"], sepa_retry_offsets_days=[4, 9])
    for key, value in as_environment(settings).items():
        monkeypatch.setenv(key, value)
    assert load_settings() == settings


def test_bad_default_site_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_SITE", "leden example")
    with pytest.raises(ConfigError, match="DUESFLOW_SITE: must be an ERP site name"):
        load_settings()


def test_misspelt_variables_are_named_with_the_closest_setting() -> None:
    environ = {
        "DUESFLOW_TEMPORAL_ADRESS": "temporal:7233",
        "DUESFLOW_ADMIN_ROLE": "System Manager",
        "DUESFLOW_WHATEVER": "1",
        "DUESFLOW_SITE": "ok.example.nl",  # a setting
        "DUESFLOW_TEST_ADMIN_DATABASE_URL": "postgresql://x",  # the test suite's own
        "DUESFLOW_TEST_REDIS_URL": "redis://x",
        "DUESFLOW_RECORD_HISTORIES": "1",
        "PATH": "/usr/bin",
    }
    assert unknown_variables(environ) == [
        "DUESFLOW_ADMIN_ROLE is not a duesflow setting and is ignored; did you mean DUESFLOW_ADMIN_ROLES?",
        "DUESFLOW_TEMPORAL_ADRESS is not a duesflow setting and is ignored; did you mean DUESFLOW_TEMPORAL_ADDRESS?",
        "DUESFLOW_WHATEVER is not a duesflow setting and is ignored",
    ]


def test_settings_that_nothing_read_are_gone() -> None:
    # The pool sizes follow the activity threads (worker) and the client's own need; the Web UI address is
    # printed by the stack from the port it really started.
    assert "db_pool_size" not in Settings.model_fields and "temporal_ui_url" not in Settings.model_fields
    warnings = unknown_variables({"DUESFLOW_DB_POOL_SIZE": "5", "DUESFLOW_TEMPORAL_UI_URL": "http://x:8240"})
    assert len(warnings) == 2 and all("no longer a duesflow setting" in w for w in warnings)


def test_every_setting_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for name in Settings.model_fields:
        variable = f"DUESFLOW_{name.upper()}"
        # Rows name related variables together: `DUESFLOW_SMTP_HOST` / `_PORT`.
        short = "_" + variable.rsplit("_", 1)[1]
        assert f"`{variable}`" in table or f"`{short}`" in table, variable
