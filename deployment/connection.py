"""Connecting to Temporal with one clear error when it is not there (client, CLI and worker alike)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from config.settings import Settings
from deployment.converter import data_converter
from deployment.encryption import keyring_from_settings
from domain.errors import TemporalUnavailable


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured frontend and namespace, encrypting every payload with the configured keys.

    ``ConfigError`` (before anything connects) when the encryption keys are missing or malformed: nothing runs
    unencrypted. ``TemporalUnavailable`` names the address when the frontend does not answer (instead of the SDK's
    transport traceback)."""
    converter = data_converter(keyring_from_settings(settings))
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=converter,
            runtime=runtime,
        )
    except RuntimeError as exc:  # the SDK reports every connect failure as RuntimeError("Failed client connect: …")
        if "connect" not in str(exc).lower():
            raise
        raise TemporalUnavailable(
            settings.temporal_address, "is the server running? set DUESFLOW_TEMPORAL_ADDRESS to its host:port"
        ) from None
