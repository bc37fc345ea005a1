"""What every `duesflow` command shares: the console, clear failures, and a connected client for one call.

Every failure an operator can cause or meet is one line naming the variable, option or host:port and what to do;
exit codes: 1 the work did not succeed (a rejected document, a service that did not answer), 2 configuration or
usage, 3 the job API refused this user.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from config.settings import ConfigError, Settings, load_settings, unknown_variables
from domain.errors import DuesflowError, ServiceUnavailable
from domain.ids import check_site
from domain.parsing import SUBMITTABLE
from domain.verdicts import DocumentRejected
from ledger.db import is_unavailable, unavailable
from starter.client import DuesflowClient

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

# Exit codes.
FAILED, USAGE, REFUSED = 1, 2, 3


def _checked_site(site: str | None) -> str | None:
    """Checked as the command line is read, before anything connects."""
    if site is None:
        return None
    try:
        return check_site(site)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


Site = Annotated[str | None, typer.Option(help="ERP site name (default: DUESFLOW_SITE)", callback=_checked_site)]

# The doctypes duesflow runs pipelines for, as a choice the command line checks.
Doctype = StrEnum("Doctype", {name.replace(" ", "_").upper(): name for name in SUBMITTABLE})  # type: ignore[misc]


def fail(message: str, code: int = USAGE) -> NoReturn:
    """One line (never wrapped, never read as markup) and the exit code."""
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    errors.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def warn_unknown_variables(environ: Mapping[str, str] | None = None) -> None:
    """A misspelt DUESFLOW_* variable would otherwise be ignored without a word."""
    for line in unknown_variables(os.environ if environ is None else environ):
        warn(line)


def settings_or_fail() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def ledger_problem(exc: DBAPIError, database_url: str) -> tuple[str, int]:
    """What to tell about a database error, and the exit code: a database that did not answer names its host:port;
    a statement it refused names only the class and SQLSTATE (the server's text can quote row values)."""
    if is_unavailable(exc):
        return str(unavailable(exc, database_url)), FAILED
    orig = exc.orig
    return (
        f"the ledger database refused: {type(orig).__name__} (SQLSTATE {getattr(orig, 'sqlstate', None)}). "
        "Is DUESFLOW_DATABASE_URL the ledger (the stack prints its URL), and migrated (duesflow db upgrade)?",
        USAGE,
    )


def run(work: Callable[[DuesflowClient], Awaitable[T]]) -> T:
    settings = settings_or_fail()

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
    except ServiceUnavailable as exc:  # Temporal or the ledger did not answer: names its host:port
        fail(str(exc), FAILED)
    except PermissionError as exc:  # domain.users.NotAllowed: the job API refused this user
        fail(str(exc), REFUSED)
    except (ValueError, LookupError) as exc:
        fail(str(exc))
    except DBAPIError as exc:
        fail(*ledger_problem(exc, settings.database_url))
    except DuesflowError as exc:  # e.g. JobFailed / JobCancelled: a job that ended without a result
        fail(str(exc), FAILED)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except json.JSONDecodeError as exc:
        fail(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})")


def site_or_default(site: str | None) -> str:
    return site or settings_or_fail().site


def as_row(row: Any) -> Mapping[str, Any]:
    """A read's row as a mapping, whether the read returned dicts or pydantic models."""
    return row.model_dump() if hasattr(row, "model_dump") else row


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    return str(value)


def print_rows(rows: list[Any], columns: list[str], title: str | None = None) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for r in map(as_row, rows):
        table.add_row(*(cell(r[c]) for c in columns))
    console.print(table)
