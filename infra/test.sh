#!/usr/bin/env bash
# The second command of the README: install what the tests need, lint, and run the whole suite.
# Needs PostgreSQL and Redis (defaults: 127.0.0.1:5432 user postgres, 127.0.0.1:6379; see README to change).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Web UI test (tests/e2e) drives Debian's chromium: Playwright's own browser download cannot work here. Install it
# when it is missing and this user may; otherwise stop now with one line, not with a failure minutes into the suite.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$EUID" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the Web UI test (apt-get install chromium)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
      echo "error: 'apt-get install chromium' failed; install Debian's chromium, then run this again" >&2
      exit 2
    fi
  else
    echo "error: the Web UI test needs Debian's chromium on PATH: run 'sudo apt-get install chromium', then run this again" >&2
    exit 2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
