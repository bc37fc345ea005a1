#!/usr/bin/env bash
# The second command of the README: install what the tests need, lint, and run the whole suite.
# Needs PostgreSQL and Redis (defaults: 127.0.0.1:5432 user postgres, 127.0.0.1:6379; see README to change).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite drives: chromium for the Web UI test (tests/e2e; Playwright's own browser download cannot
# work here) and nginx-light, the TLS terminator in front of the dev server (tests/infra/test_tls.py). Install the
# missing ones with one apt-get when this user may; otherwise stop now with one line, not with a failure minutes into
# the suite.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$EUID" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's ${missing[*]} for the tests (apt-get install ${missing[*]})"
    # The nginx package starts a system nginx on port 80 when it may; the tests run their own. Forbid service starts
    # for this install (policy-rc.d, unless the machine has its own), and stop and disable one that started anyway.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
      trap 'rm -f "$policy"' EXIT
      printf '#!/bin/sh\n# infra/test.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      own_policy=1
    fi
    had_pid=; [ -e /run/nginx.pid ] && had_pid=1
    installed=1
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 ||
      installed=
    if [ -n "$own_policy" ]; then rm -f "$policy"; trap - EXIT; fi
    if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
      if [ -d /run/systemd/system ]; then
        systemctl disable --now nginx.service >/dev/null 2>&1 || true
      elif [ -z "$had_pid" ] && [ -e /run/nginx.pid ]; then
        /usr/sbin/nginx -s quit >/dev/null 2>&1 || true
      fi
    fi
    if [ -z "$installed" ]; then
      echo "error: 'apt-get install ${missing[*]}' failed; install Debian's ${missing[*]}, then run this again" >&2
      exit 2
    fi
  else
    echo "error: the tests need Debian's ${missing[*]}: run 'sudo apt-get install ${missing[*]}', then run this again" >&2
    exit 2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
