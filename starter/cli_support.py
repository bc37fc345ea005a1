"""What every `duesflow` command shares: the console, clear failures, and a connected client for one call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from domain.settings import ConfigError, load_settings
from domain.verdicts import DocumentRejected
from starter.client import DuesflowClient

console = Console()
T = TypeVar("T")

Site = Annotated[str | None, typer.Option(help="ERP site name (default: DUESFLOW_SITE)")]


def fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def run(work: Callable[[DuesflowClient], Awaitable[T]]) -> T:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))

    async def go() -> T:
        client = await DuesflowClient.connect(settings)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except DocumentRejected:
        raise  # the command lists every field error itself
    except PermissionError as exc:  # domain.users.NotAllowed: the job API refused this user
        fail(str(exc), 3)
        raise  # unreachable: fail exits
    except (ValueError, LookupError) as exc:
        fail(str(exc))
        raise  # unreachable: fail exits
    except DBAPIError as exc:
        # Only the class and SQLSTATE: the server's text can quote row values.
        orig = exc.orig
        fail(
            f"the ledger database refused: {type(orig).__name__} (SQLSTATE {getattr(orig, 'sqlstate', None)}). "
            "Is DUESFLOW_DATABASE_URL the ledger (the stack prints its URL), and migrated (duesflow db upgrade)?"
        )
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except json.JSONDecodeError as exc:
        fail(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})")


def site_or_default(site: str | None) -> str:
    return site or load_settings().site


def print_rows(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(", ".join(r[c]) if isinstance(r[c], list) else str(r[c] if r[c] is not None else "") for c in columns)
        )
    console.print(table)
