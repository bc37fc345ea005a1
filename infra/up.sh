#!/usr/bin/env bash
# The first command of the README: install everything into .venv and start the whole system.
#   bash infra/up.sh           # run until Ctrl-C (Web UI on :8233)
#   bash infra/up.sh --once    # run the demo, print the outcome, stop everything and exit
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/duesflow stack "$@"
