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

. scripts/_venv.sh
ensure_venv dev

if [ ! -x node_modules/.bin/prism ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/ensure_chromium.sh || { [ -n "${CI:-}" ] && exit 1; echo "chromium unavailable: browser tests will skip"; }

echo "== ruff"
.venv/bin/ruff check wrapper tests benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== docs: mkdocs build --strict (broken references, missing docstrings, stale configuration table)"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict  # not --quiet: it hides the warnings strict mode counts
echo "== pytest"
.venv/bin/pytest "$@"
