"""The one settings object, read from ``DUESFLOW_*`` environment variables once at process start."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from domain.ids import SITE_PATTERN
from domain.reminders import ReminderPolicy
from domain.users import user_key

# What a list-valued variable looks like, for its error message.
_LIST_EXAMPLES = {
    "admin_roles": '["System Manager", "Accounts Manager"] (or: System Manager, Accounts Manager)',
    "sepa_retry_offsets_days": "[3, 7, 14] (or: 3, 7, 14)",
    "codec_server_origins": '["https://temporal-ui.example.nl"] (or: https://temporal-ui.example.nl)',
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUESFLOW_", extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", description="host:port of the Temporal frontend")
    temporal_namespace: str = Field("default", min_length=1)
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        description="SQLAlchemy URL of the ledger (psycopg 3 driver)",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    # One name, two sides: workflow tasks and step 1 are polled by the workflow role, background steps (activity
    # tasks) by the background role (docs/decisions/0008-two-queues-two-processes-niced-background.md).
    task_queue: str = Field("duesflow", min_length=1, description="the task queue of workflows and their steps")
    site: str = Field("default.duesflow.local", min_length=1, description="default ERP site name")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="the ledger's currency")
    verdict_timeout_seconds: float = Field(5.0, gt=0, description="how long submit waits for step 1")
    max_concurrent_activities: int = Field(8, ge=1, le=256)
    max_concurrent_workflow_tasks: int = Field(32, ge=1, le=1024)
    retry_interval_scale: float = Field(
        1.0, gt=0, le=10, description="the worker multiplies every retry interval of a background step by it (tests)"
    )

    # Reminders (docs/business-rules.md §6). Durations: ISO 8601 (P7D, PT30S) or seconds. Running flows keep the
    # values they started with (they travel in the workflow input): a change applies to invoices submitted later.
    reminder_minimum_amount: Decimal = Field(Decimal("10.00"), ge=0, description="invoices below get no reminders")
    reminder_grace: dt.timedelta = Field(dt.timedelta(days=7), description="after the due date, before level 1")
    reminder_interval: dt.timedelta = Field(dt.timedelta(days=14), description="between levels, and before hand-off")
    reminder_settle: dt.timedelta = Field(
        dt.timedelta(days=1), description="no first reminder sooner than this after the invoice reached duesflow"
    )
    reminder_language: Literal["nl", "en"] = Field("nl", description="language of reminder e-mails")
    association_name: str = Field("Vereniging", min_length=1, description="signs the e-mails")

    smtp_host: str = Field("127.0.0.1", min_length=1)
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field("ledenadministratie@duesflow.local", pattern=r"^[^@\s]+@[^@\s]+$")
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=300)
    smtp_ca_file: str | None = Field(None, description="PEM file of the CA that signed the SMTP server's certificate")

    # SEPA returns (docs/business-rules.md §4): retry collections this many days after a transient return
    # (weekends skipped).
    # Lists: a JSON list or comma-separated values (NoDecode: the validator below parses them, so a bad value is a
    # ConfigError naming its variable instead of pydantic-settings' SettingsError).
    sepa_retry_offsets_days: Annotated[list[int], NoDecode] = Field([3, 7, 14], min_length=1, max_length=10)
    # Upkeep (docs/business-rules.md §5, §1): detail facts older than this are rolled up into monthly summaries.
    analytics_window_days: int = Field(90, ge=1, le=3650)
    upkeep_schedules: bool = Field(True, description="the worker creates the upkeep Temporal Schedules at start")

    # Job tracking (docs/business-rules.md §8). Holders of an admin role see everyone's jobs and may retry, cancel,
    # clean up.
    admin_roles: Annotated[list[str], NoDecode] = Field(["System Manager", "Accounts Manager"], min_length=1)
    # Keys the pseudonym of ERP users in search attributes and channel names: set your own in production, and
    # keep it (changing it hides earlier work from a user-key search).
    user_key_secret: SecretStr = Field(SecretStr("duesflow-development-only"), min_length=8)
    # Names this installation where several share one service: Redis pub/sub channels ignore the database number,
    # so two deployments on one Redis would otherwise hear each other's notifications.
    deployment: str = Field(
        "default", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="short name of this installation (staging, prod)"
    )
    # Prometheus endpoint of the worker's SDK metrics (host:port, e.g. 127.0.0.1:9464); unset = no endpoint.
    metrics_address: str | None = Field(None, pattern=r"^[^:\s]+:\d{1,5}$")

    # Payload encryption (deployment/encryption.py; README, Encryption keys): the key ring, given in the variable or
    # in a file only its owner may read, and the id of the key that encrypts (default: the only one). Read and
    # checked when a process connects to Temporal, which it refuses to do without keys.
    encryption_keys: SecretStr | None = Field(
        None, description='{"<key id>": "<32 bytes in base64>", ...} or <key id>:<base64>, ...'
    )
    encryption_key_file: str | None = Field(None, min_length=1, description="a file holding the same, mode 0600")
    encryption_primary_key: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$", description="a key id")
    # The codec server (`duesflow codec-server`): the token operators' tools present, and the Web UI origins that
    # may call it from a browser.
    codec_server_token: SecretStr | None = Field(None, min_length=16, description="bearer token of the codec server")
    codec_server_origins: Annotated[list[str], NoDecode] = Field(
        ["http://127.0.0.1:8233", "http://localhost:8233"], description="Web UI origins the codec server answers"
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith("postgresql"):
            raise ValueError("must be a PostgreSQL URL such as postgresql+psycopg://user@host:5432/db")
        return value.replace("postgresql://", "postgresql+psycopg://", 1)

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        if not SITE_PATTERN.fullmatch(value):
            raise ValueError("must be an ERP site name such as leden.example.nl (letters, digits, '.', '-')")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL such as redis://127.0.0.1:6379/0")
        return value

    @field_validator("reminder_grace", "reminder_interval", "reminder_settle", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number of seconds is a duration too (``DUESFLOW_REMINDER_INTERVAL=30``)."""
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("reminder_grace", "reminder_interval", "reminder_settle")
    @classmethod
    def _not_negative(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("admin_roles", "sepa_retry_offsets_days", "codec_server_origins", mode="before")
    @classmethod
    def _list(cls, value: object, info: ValidationInfo) -> object:
        """``["System Manager", "Accounts Manager"]`` (JSON) or ``System Manager, Accounts Manager``."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"must be a JSON list such as {_LIST_EXAMPLES[info.field_name]}") from None
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise ValueError(f"must not be empty; give a list such as {_LIST_EXAMPLES[info.field_name]}")
        return items

    @field_validator("sepa_retry_offsets_days")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(d < 1 for d in value) or value != sorted(set(value)):
            raise ValueError("must be increasing whole days of at least 1, such as [3, 7, 14]")
        return value


def as_environment(settings: Settings) -> dict[str, str]:
    """The DUESFLOW_* variables that reproduce ``settings`` in a child process."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        raw = getattr(settings, name)
        if isinstance(raw, SecretStr):
            value = raw.get_secret_value()  # the child needs the secret itself, not its mask
        if value is None:
            continue
        env[f"DUESFLOW_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


class ConfigError(ValueError):
    """Bad configuration, with every offending ``DUESFLOW_*`` variable named."""


def variable_of(field: str) -> str:
    return f"DUESFLOW_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's error into one that names the environment variables."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    except SettingsError as exc:  # a value the environment source itself could not decode
        found = re.search(r'field "(\w+)"', str(exc))
        name = variable_of(found.group(1)) if found else "a DUESFLOW_* variable"
        raise ConfigError(f"invalid configuration: {name}: could not be read ({exc})") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """``DUESFLOW_SEPA_RETRY_OFFSETS_DAYS: item 2: …``: the variable, then where inside its value."""
    field, *inside = loc
    where = "".join(f"item {p + 1}: " if isinstance(p, int) else f"{p}: " for p in inside)
    message = message.removeprefix("Value error, ")
    return f"{variable_of(str(field))}: {where}{message}"


# Variables that are not settings but are read on purpose: the test suite's (tests/conftest.py, tests/recording.py).
_OTHER_PREFIXES = ("DUESFLOW_TEST_", "DUESFLOW_RECORD_")
# Settings that were accepted but never read, and were removed: say so rather than suggest a look-alike.
_RETIRED = {
    "DB_POOL_SIZE": "the worker sizes its pool to its activity threads",
    "TEMPORAL_UI_URL": "nothing read it; the stack prints its Web UI address",
    "WORKFLOW_TASK_QUEUE": "one task queue serves workflows and background steps: set DUESFLOW_TASK_QUEUE",
    "BACKGROUND_TASK_QUEUE": "one task queue serves workflows and background steps: set DUESFLOW_TASK_QUEUE",
}


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``DUESFLOW_*`` variable that is no setting (a typo is otherwise silently ignored), with the
    closest setting's name when one is close."""
    known = [name.upper() for name in Settings.model_fields]
    warnings = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("DUESFLOW_") or upper.startswith(_OTHER_PREFIXES):
            continue
        suffix = upper.removeprefix("DUESFLOW_")
        if suffix in known:
            continue
        if suffix in _RETIRED:
            warnings.append(f"{name} is no longer a duesflow setting and is ignored ({_RETIRED[suffix]})")
            continue
        close = difflib.get_close_matches(suffix, known, n=1, cutoff=0.6)
        hint = f"; did you mean DUESFLOW_{close[0]}?" if close else ""
        warnings.append(f"{name} is not a duesflow setting and is ignored{hint}")
    return warnings


def reminder_policy(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        minimum_amount=settings.reminder_minimum_amount,
        grace=settings.reminder_grace,
        interval=settings.reminder_interval,
        settle=settings.reminder_settle,
        language=settings.reminder_language,
    )


def user_key_of(settings: Settings, user: str) -> str:
    """The pseudonym of an ERP user under this deployment's secret (what DuesflowUser holds)."""
    return user_key(user, settings.user_key_secret.get_secret_value())
