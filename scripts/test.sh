#!/usr/bin/env bash
# The test command (README, .ci/run): sets up everything on a fresh machine, then lint, types, tests.
#
#   scripts/test.sh              everything: ruff, mypy --strict, then pytest (all tiers that can run here)
#   scripts/test.sh -k breaker   extra arguments go to pytest
#
# Installs, when missing: the virtualenv .venv with the package and its dev extras, Prism (npm, into
# node_modules/), and Debian's chromium for the browser tier. Under CI=true a tier that cannot run fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi

if [ ! -x node_modules/.bin/prism ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/ensure_chromium.sh || { [ -n "${CI:-}" ] && exit 1; echo "chromium unavailable: browser tests will skip"; }

echo "== ruff"
.venv/bin/ruff check wrapper tests benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
