"""The codec server over real HTTP (aiohttp on loopback): what the Web UI and the `temporal` CLI send, with the
token, the UI's origin and the real AES-GCM codec; refusals for a missing token, another origin and a bad body."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from deployment.codec_server import serve
from deployment.encryption import EncryptionCodec, KeyRing
from infra.embedded import free_port

TOKEN = "codec-token-for-tests-0123456789"
UI = "http://127.0.0.1:8233"
SECRET_NAME = "Jansen-de Vries"


@pytest.fixture
async def codec_url() -> AsyncIterator[str]:
    port = free_port()
    codec = EncryptionCodec(KeyRing({"k1": os.urandom(32)}, "k1"))
    runner = await serve(codec, host="127.0.0.1", port=port, token=TOKEN, origins=[UI])
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def post(url: str, data: str, **headers: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data, headers=headers) as response:
        return response.status, dict(response.headers), await response.text()


async def test_what_encode_wrote_decode_reads_back_and_only_decode_shows_the_name(codec_url: str) -> None:
    status, _, encoded = await post(f"{codec_url}/encode", body(plain(SECRET_NAME)), Authorization=f"Bearer {TOKEN}")
    assert status == 200
    assert SECRET_NAME not in encoded and SECRET_NAME not in base64.b64decode(
        json.loads(encoded)["payloads"][0]["data"]
    ).decode(errors="replace")
    status, headers, decoded = await post(
        f"{codec_url}/{TOKEN}/decode",
        encoded,
        Origin=UI,
        **{"X-Namespace": "default", "Content-Type": "application/json"},
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == UI
    [payload] = json_format.Parse(decoded, Payloads()).payloads
    assert json.loads(payload.data) == SECRET_NAME


async def test_the_ui_origin_passes_the_preflight_and_another_origin_is_refused(codec_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        ask = {"Origin": UI, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        async with session.options(f"{codec_url}/{TOKEN}/decode", headers=ask) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == UI
            assert "X-Namespace" in response.headers["Access-Control-Allow-Headers"]
        async with session.options(
            f"{codec_url}/{TOKEN}/decode", headers={**ask, "Origin": "http://evil.example"}
        ) as r:
            assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    status, _, text = await post(f"{codec_url}/{TOKEN}/decode", body(plain("x")), Origin="http://evil.example")
    assert status == 403 and "origin" in text


async def test_a_request_without_the_token_is_refused_and_nothing_is_logged_of_it(
    codec_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="duesflow.codec_server")
    for url, headers in [
        (f"{codec_url}/decode", {}),
        (f"{codec_url}/decode", {"Authorization": "Bearer wrong-token-wrong-token"}),
        (f"{codec_url}/not-the-token/decode", {}),
    ]:
        status, _, _ = await post(url, body(plain(SECRET_NAME)), **headers)
        assert status == 401
    status, _, text = await post(f"{codec_url}/{TOKEN}/decode", "not json", Authorization=f"Bearer {TOKEN}")
    assert status == 400 and "Payloads" in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused" in logged and TOKEN not in logged and SECRET_NAME not in logged and "wrong-token" not in logged


async def test_duesflow_codec_server_serves_with_the_deployments_keys_and_needs_a_token() -> None:
    """The product's command (what an operator runs), as a process: it decodes what the suite's key encrypted."""
    import asyncio
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import TEST_ENCRYPTION_KEYS, TEST_KEYRING
    from tests.polling import eventually

    cli = str(Path(sys.executable).parent / "duesflow")
    base = {k: v for k, v in os.environ.items() if not k.startswith("DUESFLOW_")}
    base["DUESFLOW_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEYS
    refused = subprocess.run([cli, "codec-server"], capture_output=True, text=True, env=base, timeout=60)
    assert refused.returncode == 2 and "DUESFLOW_CODEC_SERVER_TOKEN" in refused.stdout

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        cli, "codec-server", "--port", str(port), env={**base, "DUESFLOW_CODEC_SERVER_TOKEN": TOKEN, "COLUMNS": "200"}
    )
    try:
        [secret] = await EncryptionCodec(TEST_KEYRING).encode([plain(SECRET_NAME)])

        async def ask() -> int:
            url = f"http://127.0.0.1:{port}/decode"
            try:
                status, _, text = await post(url, body(secret), Authorization=f"Bearer {TOKEN}")
            except aiohttp.ClientConnectionError:
                return 0
            [payload] = json_format.Parse(text, Payloads()).payloads
            return status if json.loads(payload.data) == SECRET_NAME else -status

        assert await eventually(ask, lambda s: s != 0, timeout=30) == 200
    finally:
        proc.terminate()
        await proc.wait()
