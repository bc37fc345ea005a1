"""The README's two commands are what CI runs, and the test command does its own set-up or stops at once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(text: str) -> list[str]:
    """Command lines of a shell text: comments, blank lines and the script's own set-up dropped."""
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith(("set ", "cd "))]


def test_ci_runs_exactly_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The two commands.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None, "README lost its two-commands block"
    up, test = _commands(block.group(1))
    assert (up, test) == ("bash infra/up.sh", "bash infra/test.sh")
    assert _commands((ROOT / ".ci" / "run").read_text()) == [test, f"{up} --once"]


def test_without_chromium_and_no_way_to_install_it_the_test_command_stops_with_one_line(tmp_path: Path) -> None:
    """A machine without chromium where this user cannot apt-get: one line saying what to install, exit 2, and
    nothing started (no venv created, no suite run)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))  # all the script needs before it stops
    copy = tmp_path / "checkout"
    (copy / "infra").mkdir(parents=True)
    shutil.copy(ROOT / "infra" / "test.sh", copy / "infra" / "test.sh")
    # As root the script would install chromium with apt-get: with no apt-get on PATH it cannot, which is the case
    # of a user without root as well.
    result = subprocess.run(
        [shutil.which("bash"), str(copy / "infra" / "test.sh")],
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "apt-get install chromium" in result.stderr
    assert not (copy / ".venv").exists()
