"""A production-like Temporal for real: Debian's nginx (nginx-light, installed by infra/test.sh) terminating TLS in
front of the session's dev server (``temporal server start-dev`` has no TLS of its own), with certificates from a
private CA (trustme).

Four ports: server TLS; mTLS (a client certificate from the CA is required); an API key checked as the bearer
header, refused with HTTP 401 (a plain proxy) on one and with gRPC UNAUTHENTICATED (what Temporal Cloud answers) on
the other. Connections go through ``deployment.temporal_config`` from ``TEMPORAL_*`` variables and a TOML profile,
a real call follows each, and each misconfiguration is one line naming the address and what to check.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from temporalio import workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import ConfigError, Settings
from deployment.temporal_config import TemporalRefused, connect_client, connect_options
from infra.embedded import free_port
from infra.temporal_server import find_temporal_cli

API_KEY = "duesflow-test-key-" + uuid.uuid4().hex


@dataclass
class Proxy:
    tls: str  # host:port of each server block
    mtls: str
    key_http: str  # wrong key: HTTP 401
    key_grpc: str  # wrong key: gRPC UNAUTHENTICATED
    files: dict[str, str]  # PEM files: ca, other_ca, client_cert, client_key, other_cert, other_key
    upstream: str


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        pytest.fail(
            "nginx is not installed: bash infra/test.sh installs Debian's nginx-light (apt-get install nginx-light)"
        )
    return found


def _pki(where: Path) -> dict[str, str]:
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("worker@duesflow.test")
    stranger = other.issue_cert("worker@duesflow.test")
    pieces = {
        "ca": ca.cert_pem,
        "other_ca": other.cert_pem,
        "server_cert": server.cert_chain_pems[0],
        "server_key": server.private_key_pem,
        "client_cert": client.cert_chain_pems[0],
        "client_key": client.private_key_pem,
        "other_cert": stranger.cert_chain_pems[0],
        "other_key": stranger.private_key_pem,
    }
    files = {}
    for name, blob in pieces.items():
        path = where / f"{name}.pem"
        blob.write_to_path(str(path))
        files[name] = str(path)
    return files


def _config(root: Path, files: dict[str, str], ports: dict[str, int], upstream: str) -> str:
    grpc = f"grpc_pass grpc://{upstream}; grpc_read_timeout 300s; grpc_send_timeout 300s;"
    denied_grpc = (
        'add_header grpc-status 16 always; add_header grpc-message "Request unauthorized." always; '
        "add_header content-type application/grpc always; return 200;"
    )
    bearer = f'$http_authorization != "Bearer {API_KEY}"'
    temp = "".join(f"{kind}_temp_path {root}/temp/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi"))
    return f"""
worker_processes 1;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {root}/access.log;
  {temp}  scgi_temp_path {root}/temp/scgi;
  ssl_certificate {files["server_cert"]};
  ssl_certificate_key {files["server_key"]};
  server {{ listen 127.0.0.1:{ports["tls"]} ssl http2; location / {{ {grpc} }} }}
  server {{
    listen 127.0.0.1:{ports["mtls"]} ssl http2;
    ssl_client_certificate {files["ca"]};
    ssl_verify_client on;
    location / {{ {grpc} }}
  }}
  server {{
    listen 127.0.0.1:{ports["key_http"]} ssl http2;
    location / {{ if ({bearer}) {{ return 401; }} {grpc} }}
  }}
  server {{
    listen 127.0.0.1:{ports["key_grpc"]} ssl http2;
    location / {{ if ({bearer}) {{ {denied_grpc} }} {grpc} }}
  }}
}}
"""


def _wait_listening(ports: list[int], process: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"nginx did not listen on {waiting} within {timeout} s")
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.05)


@pytest.fixture(scope="module")
def proxy(temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx as its own process (not the machine's service), in a tmp dir, stopped by its PID at the end."""
    nginx = _nginx()
    root = tmp_path_factory.mktemp("nginx")
    (root / "temp").mkdir()
    files = _pki(root)
    upstream = temporal_env.client.service_client.config.target_host.replace("localhost", "127.0.0.1")
    ports = {name: free_port() for name in ("tls", "mtls", "key_http", "key_grpc")}
    conf = root / "nginx.conf"
    conf.write_text(_config(root, files, ports, upstream))
    out = root / "nginx.out"
    with out.open("wb") as log:
        process = subprocess.Popen(
            [
                nginx,
                "-p",
                str(root),
                "-c",
                str(conf),
                "-e",
                str(root / "error.log"),
                "-g",
                f"daemon off; pid {root}/nginx.pid;",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(list(ports.values()), process, out)
        yield Proxy(**{k: f"127.0.0.1:{p}" for k, p in ports.items()}, files=files, upstream=upstream)
    finally:
        process.terminate()  # nginx's master: fast shutdown of itself and its worker
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _settings() -> Settings:
    """No DUESFLOW_TEMPORAL_* given: the TEMPORAL_* variables of each test decide."""
    return Settings.model_construct(**Settings().model_dump(exclude={"temporal_address", "temporal_namespace"}))


async def _connect(environ: dict[str, str]) -> Client:
    client = await connect_client(_settings(), environ=environ)
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())  # a real call through the proxy
    assert info.server_version
    [_ async for _ in client.list_workflows(limit=1)]  # and a visibility query
    return client


async def _refused(environ: dict[str, str]) -> str:
    with pytest.raises(TemporalRefused) as caught:
        await asyncio.wait_for(connect_client(_settings(), environ=environ), 60)
    line = str(caught.value)
    assert "\n" not in line
    return line


def _ca(proxy: Proxy, address: str, **more: str) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": proxy.files["ca"], **more}


# -- server TLS ----------------------------------------------------------------------------------------------------


async def test_server_tls_with_a_private_ca(proxy: Proxy) -> None:
    await _connect(_ca(proxy, proxy.tls))
    await _connect(_ca(proxy, proxy.tls.replace("127.0.0.1", "localhost")))
    await _connect(_ca(proxy, proxy.tls, TEMPORAL_TLS_SERVER_NAME="localhost"))


async def test_a_wrong_ca_is_one_line(proxy: Proxy) -> None:
    line = await _refused(_ca(proxy, proxy.tls, TEMPORAL_TLS_SERVER_CA_CERT_PATH=proxy.files["other_ca"]))
    assert line == (
        f"Temporal at {proxy.tls}: its TLS certificate is not signed by a CA this process trusts (trusted: "
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH={proxy.files['other_ca']}); set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the "
        "CA certificate that signed the server's certificate"
    )
    assert "the system's CAs" in await _refused({"TEMPORAL_ADDRESS": proxy.tls, "TEMPORAL_TLS": "true"})


async def test_a_name_the_certificate_does_not_carry_is_one_line(proxy: Proxy) -> None:
    line = await _refused(_ca(proxy, proxy.tls, TEMPORAL_TLS_SERVER_NAME="temporal.example.com"))
    assert "not issued for the name temporal.example.com (it names 127.0.0.1, localhost)" in line


async def test_tls_on_one_side_only_is_one_line(proxy: Proxy) -> None:
    plaintext_to_tls = await _refused({"TEMPORAL_ADDRESS": proxy.tls})
    assert plaintext_to_tls.startswith(f"Temporal at {proxy.tls} did not answer plaintext gRPC: if it expects TLS")
    tls_to_plaintext = await _refused(_ca(proxy, proxy.upstream))
    assert tls_to_plaintext.startswith(f"Temporal at {proxy.upstream} does not speak TLS (is it a plaintext port?)")


# -- mTLS ----------------------------------------------------------------------------------------------------------


def _mtls(proxy: Proxy, cert: str = "client_cert", key: str = "client_key") -> dict[str, str]:
    return _ca(
        proxy,
        proxy.mtls,
        TEMPORAL_TLS_CLIENT_CERT_PATH=proxy.files[cert],
        TEMPORAL_TLS_CLIENT_KEY_PATH=proxy.files[key],
    )


@workflow.defn(name="TlsEcho", sandboxed=False)
class TlsEcho:
    @workflow.run
    async def run(self, text: str) -> str:
        return text.upper()


async def test_mtls_client_and_worker(proxy: Proxy) -> None:
    """A worker polls and a client starts and awaits a workflow, both over mTLS through nginx."""
    client = await _connect(_mtls(proxy))
    queue = f"tls-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[TlsEcho]):
        result = await client.execute_workflow(TlsEcho.run, "through nginx", id=f"tls-{uuid.uuid4()}", task_queue=queue)
    assert result == "THROUGH NGINX"


async def test_mtls_without_a_client_certificate_is_one_line(proxy: Proxy) -> None:
    line = await _refused(_ca(proxy, proxy.mtls))
    assert line == (
        f"Temporal at {proxy.mtls} requires a client certificate (mTLS) and none was given: set "
        "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH to one signed by the CA it trusts"
    )


async def test_mtls_with_a_certificate_of_another_ca_is_one_line(proxy: Proxy) -> None:
    line = await _refused(_mtls(proxy, "other_cert", "other_key"))
    assert line.startswith(
        f"Temporal at {proxy.mtls} did not accept the client certificate from "
        f"TEMPORAL_TLS_CLIENT_CERT_PATH={proxy.files['other_cert']}"
    )


# -- API key -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["key_http", "key_grpc"])
async def test_an_api_key_as_the_bearer_header(proxy: Proxy, port: str) -> None:
    address = getattr(proxy, port)
    await _connect(_ca(proxy, address, TEMPORAL_API_KEY=API_KEY))
    wrong = await _refused(_ca(proxy, address, TEMPORAL_API_KEY="not-the-key"))
    assert wrong.startswith(f"Temporal at {address} refused the API key from TEMPORAL_API_KEY")
    assert wrong.endswith("check it is valid, not expired, and allowed on namespace default")
    assert "not-the-key" not in wrong
    missing = await _refused(_ca(proxy, address))
    assert missing.startswith(f"Temporal at {address} requires credentials") and "set TEMPORAL_API_KEY" in missing


# -- a TOML profile, shared with the temporal CLI ------------------------------------------------------------------


def _profile(proxy: Proxy, tmp_path: Path, extra: str = "") -> Path:
    file = tmp_path / "temporal.toml"
    file.write_text(
        f"""[profile.prod]
address = "{proxy.mtls}"
namespace = "default"
{extra}
[profile.prod.tls]
server_ca_cert_path = "{proxy.files["ca"]}"
client_cert_path = "{proxy.files["client_cert"]}"
client_key_path = "{proxy.files["client_key"]}"
server_name = "localhost"
"""
    )
    return file


async def test_a_profile_file_with_mtls(proxy: Proxy, tmp_path: Path) -> None:
    file = _profile(proxy, tmp_path)
    await _connect({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})


def test_an_unknown_key_in_the_profile_is_refused(proxy: Proxy, tmp_path: Path) -> None:
    file = _profile(proxy, tmp_path, extra=f'tls_client_cert_path = "{proxy.files["client_cert"]}"')
    with pytest.raises(ConfigError) as caught:
        connect_options(_settings(), {"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})
    assert str(caught.value) == (
        f"invalid configuration: TEMPORAL_CONFIG_FILE={file}: line 4: unknown field `tls_client_cert_path`, expected "
        "one of `address`, `namespace`, `api_key`, `tls`, `codec`, `grpc_meta`; TLS settings go in their own table, "
        '[profile.prod.tls], as server_ca_cert_path = "…"'
    )


def test_the_temporal_cli_lists_workflows_through_tls(proxy: Proxy, tmp_path: Path) -> None:
    """The operator's CLI through the same port: with its flags, and with the same profile file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")} | {"HOME": str(tmp_path)}
    cli = find_temporal_cli()
    flags = [
        f"--address={proxy.mtls}",
        f"--tls-ca-path={proxy.files['ca']}",
        f"--tls-cert-path={proxy.files['client_cert']}",
        f"--tls-key-path={proxy.files['client_key']}",
        "--tls-server-name=localhost",
    ]
    by_flags = subprocess.run(
        [cli, "workflow", "list", "--limit", "1", *flags], env=env, capture_output=True, timeout=60
    )
    assert by_flags.returncode == 0, by_flags.stderr.decode()
    profile = {"TEMPORAL_CONFIG_FILE": str(_profile(proxy, tmp_path)), "TEMPORAL_PROFILE": "prod"}
    by_profile = subprocess.run(
        [cli, "workflow", "list", "--limit", "1"], env=env | profile, capture_output=True, timeout=60
    )
    assert by_profile.returncode == 0, by_profile.stderr.decode()
    without_cert = subprocess.run(
        [cli, "workflow", "list", "--limit", "1", *flags[:2]], env=env, capture_output=True, timeout=60
    )
    assert without_cert.returncode != 0
