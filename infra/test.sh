#!/usr/bin/env bash
# The second command of the README: install what the tests need into .venv, lint, and run the whole suite.
# Needs PostgreSQL and Redis (defaults: 127.0.0.1:5432 user postgres, 127.0.0.1:6379; see README to change).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
