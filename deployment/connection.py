"""Connecting to Temporal with one clear error when it is not there (client, CLI and worker alike)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from config.settings import Settings
from domain.errors import TemporalUnavailable


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured frontend and namespace; ``TemporalUnavailable`` names the address when the
    frontend does not answer (instead of the SDK's transport traceback)."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
            runtime=runtime,
        )
    except RuntimeError as exc:  # the SDK reports every connect failure as RuntimeError("Failed client connect: …")
        if "connect" not in str(exc).lower():
            raise
        raise TemporalUnavailable(
            settings.temporal_address, "is the server running? set DUESFLOW_TEMPORAL_ADDRESS to its host:port"
        ) from None
