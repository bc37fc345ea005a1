"""The run's own Temporal dev server, on free ports, in memory or on a SQLite file under the run's work directory."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from infra.temporal_server import DevServer, start_dev_server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, *, persistent: bool, search_attributes: Mapping[str, str]) -> DevServer:
    """Our own dev server on free ports; SQLite file under ``workdir`` (like the local stack) or in memory."""
    return start_dev_server(
        db_file=workdir / "temporal.db" if persistent else None,
        port=free_port(),
        ui_port=free_port(),
        search_attributes=search_attributes,
        log_file=workdir / "temporal.log",
    )
