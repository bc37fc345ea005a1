"""Connecting to Temporal with one clear error when it is not there (client, CLI and worker alike)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from config.settings import Settings
from deployment.converter import data_converter
from deployment.encryption import keyring_from_settings
from deployment.temporal_config import connect_client


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured frontend and namespace, encrypting every payload with the configured keys.

    Where Temporal is and how to reach it (TLS, mTLS, API key) come from the ``TEMPORAL_*`` variables and profiles
    the temporal CLI reads, with ``DUESFLOW_TEMPORAL_ADDRESS`` / ``_NAMESPACE`` as fallbacks
    (``deployment/temporal_config.py``). ``ConfigError`` (before anything connects) when the encryption keys or the
    connection settings are missing or malformed: nothing runs unencrypted. ``TemporalUnavailable`` names the address
    and what to check when the frontend does not answer or refuses the connection (instead of the SDK's transport
    traceback)."""
    converter = data_converter(keyring_from_settings(settings))
    return await connect_client(settings, data_converter=converter, runtime=runtime)
