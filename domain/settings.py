"""The one settings object, read from ``DUESFLOW_*`` environment variables once at process start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUESFLOW_", extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", description="host:port of the Temporal frontend")
    temporal_namespace: str = Field("default", min_length=1)
    temporal_ui_url: str = "http://127.0.0.1:8233"
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        description="SQLAlchemy URL of the ledger (psycopg 3 driver)",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    workflow_task_queue: str = Field("duesflow-workflows", min_length=1)
    background_task_queue: str = Field("duesflow-background", min_length=1)
    site: str = Field("default.duesflow.local", min_length=1, description="default ERP site name")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="the ledger's currency")
    verdict_timeout_seconds: float = Field(5.0, gt=0, description="how long submit waits for step 1")
    max_concurrent_activities: int = Field(8, ge=1, le=256)
    max_concurrent_workflow_tasks: int = Field(32, ge=1, le=1024)
    db_pool_size: int = Field(10, ge=1, le=200)
    retry_interval_scale: float = Field(
        1.0, gt=0, le=10, description="multiplies every retry interval (tests shrink it)"
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith("postgresql"):
            raise ValueError("must be a PostgreSQL URL such as postgresql+psycopg://user@host:5432/db")
        return value.replace("postgresql://", "postgresql+psycopg://", 1)

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL such as redis://127.0.0.1:6379/0")
        return value


def as_environment(settings: Settings) -> dict[str, str]:
    """The DUESFLOW_* variables that reproduce ``settings`` in a child process."""
    return {f"DUESFLOW_{name.upper()}": str(value) for name, value in settings.model_dump().items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


class ConfigError(ValueError):
    """Bad configuration, with every offending ``DUESFLOW_*`` variable named."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's error into one that names the environment variables."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"DUESFLOW_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
