"""Imports run down the layers only (docs/architecture.md), checked statically: every module's imports, those inside
functions included, read with ast. Pure (reads the source files; no server).

Bottom-up: ``domain`` (with ``config``, which may import domain) < ``ledger`` < ``activities`` < ``workflows`` <
``deployment`` < ``starter`` < ``worker`` (worker.py) < ``infra`` < ``bench``; a module may import its own layer and
those below, except that ``domain`` never imports ``config``, ``workflows`` imports ``activities`` (method references
only) and ``domain``, never ``ledger`` or ``config``, and the worker never imports the callers' ``starter`` (what
both need to reach Temporal is ``deployment``). Tests may import anything and are not checked."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ORDER = ["domain", "ledger", "activities", "workflows", "deployment", "starter", "worker", "infra", "bench"]
RANK = {layer: i for i, layer in enumerate(ORDER)} | {"config": 0}  # config sits beside domain
# Narrower than the order.
NEVER = {"domain": {"config"}, "workflows": {"ledger", "config"}, "worker": {"starter"}}

# Imports against the layers that are allowed for now, each with its reason: (module, imported) -> reason.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {"worker": ROOT / "worker.py"}
    for layer in RANK:
        if layer != "worker":
            found |= {module_name(p): p for p in sorted((ROOT / layer).rglob("*.py"))}
    return found


KNOWN = modules()


def imports(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """The modules ``source`` imports, wherever the statement is (``from a import b`` names ``a.b`` when that is a
    module, else ``a``; relative imports resolved; ``importlib.import_module("x")`` and ``__import__("x")`` too)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in KNOWN else base
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in RANK else None


def offends(module: str, imported: str) -> bool:
    mine, theirs = layer_of(module), layer_of(imported)
    if mine is None or theirs is None or mine == theirs:
        return False
    return RANK[theirs] > RANK[mine] or theirs in NEVER.get(mine, set())


def offences(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """``module -> imported`` for each import against the layers, in ``sources`` (module: (source, is package))."""
    found = set()
    for module, (source, is_package) in sources.items():
        found |= {
            f"{module} -> {imported}" for imported in imports(source, module, is_package) if offends(module, imported)
        }
    return sorted(found)


def test_imports_run_down_the_layers() -> None:
    sources = {m: (p.read_text(), p.name == "__init__.py") for m, p in KNOWN.items()}
    found = offences(sources)
    allowed = {f"{module} -> {imported}" for module, imported in ALLOWED}
    unexpected = [line for line in found if line not in allowed]
    for line in unexpected:
        print(line)
    assert not unexpected, "imports against the layers:\n" + "\n".join(unexpected)
    assert not allowed - set(found), f"allowed exceptions no longer needed: {sorted(allowed - set(found))}"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("starter.cli", "def stack():\n    from infra.stack import main_async\n", ["starter.cli -> infra.stack"]),
        ("domain.jobs", "import config.settings\n", ["domain.jobs -> config.settings"]),
        ("workflows.upkeep", "from ledger import audit\n", ["workflows.upkeep -> ledger.audit"]),
        ("workflows.upkeep", "with x():\n    from activities.upkeep import UpkeepActivities\n", []),
        ("ledger.audit", "from . import schema\nfrom ..starter import client\n", ["ledger.audit -> starter.client"]),
        (
            "worker",
            "from starter.client import DuesflowClient\nfrom deployment.connection import x\n",
            ["worker -> starter.client"],
        ),
        (
            "deployment.schedules",
            "from starter.client import DuesflowClient\n",
            ["deployment.schedules -> starter.client"],
        ),
        (
            "activities.step",
            "import importlib\nimportlib.import_module('workflows.upkeep')\n",
            ["activities.step -> workflows.upkeep"],
        ),
        ("bench.run", "import infra.stack\nimport worker\n", []),
        (
            "config.settings",
            "from domain.ids import check_site\nfrom ledger.db import x\n",
            ["config.settings -> ledger.db"],
        ),
    ],
)
def test_the_check_catches_imports_up_the_layers(module: str, source: str, expected: list[str]) -> None:
    assert offences({module: (source, False)}) == expected
