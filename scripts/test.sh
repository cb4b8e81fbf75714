#!/usr/bin/env bash
# Install DecisionGraph with its dev extra into .venv (created if missing) and run the
# whole test suite on 2 workers. Extra arguments go to pytest, e.g.
#   bash scripts/test.sh tests/cli -k import
# Exits with pytest's code; "no tests collected" (5) is a failure too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q -e ".[dev]"

status=0
.venv/bin/pytest -n 2 -p xdist "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
fi
exit "$status"
