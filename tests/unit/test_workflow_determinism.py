"""What the sandbox would catch, checked statically: the workflows run unsandboxed (each new instance would
re-import its modules), so no workflow module may read the clock, draw randomness, touch the environment or do I/O.
Pure (reads the source files; no server). The replay tests guard the rest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
MODULES = [*sorted((ROOT / "workflows").glob("*.py")), ROOT / "bench" / "floor.py"]

# Dotted names whose use makes a workflow nondeterministic (workflow.now(), workflow.random(), workflow.uuid4() and
# timers are the deterministic stand-ins).
FORBIDDEN_CALLS = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "dt.datetime.now",
    "dt.date.today",
    "time.time",
    "time.monotonic",
    "time.sleep",
    "uuid.uuid4",
    "os.environ",
    "os.getenv",
    "open",
    "print",
}
FORBIDDEN_MODULES = {
    "random",
    "time",
    "socket",
    "threading",
    "subprocess",
    "requests",
    "sqlalchemy",
    "redis",
    "psycopg",
}


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := dotted(node.value)) is not None:
        return f"{base}.{node.attr}"
    return None


def problems_in(source: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        problems += [f"line {node.lineno}: imports {n}" for n in names if n in FORBIDDEN_MODULES]
        target = node.func if isinstance(node, ast.Call) else node if isinstance(node, ast.Attribute) else None
        if target is not None and (name := dotted(target)) in FORBIDDEN_CALLS:
            problems.append(f"line {node.lineno}: uses {name}")
    return sorted(set(problems))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_module_uses_no_clock_randomness_or_io(path: Path) -> None:
    assert problems_in(path.read_text()) == [], path.name


def test_the_check_catches_the_clock_randomness_and_the_database() -> None:
    source = "import random\nfrom sqlalchemy import select\nfrom datetime import datetime\nx = datetime.now()\n"
    assert problems_in(source) == [
        "line 1: imports random",
        "line 2: imports sqlalchemy",
        "line 4: uses datetime.now",
    ]
