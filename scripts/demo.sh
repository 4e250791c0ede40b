#!/usr/bin/env bash
# The main job, offline: installs the package into .venv when missing, then runs `together-wrapper demo`, a small
# Stage-1 batch through the real client against an embedded fake Together server on loopback (no key, no network).
#
#   scripts/demo.sh                 writes demo-out/ (results.jsonl, dashboard.html, ledger.db)
#   scripts/demo.sh --rows 100      extra arguments go to `together-wrapper demo`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv dev
exec .venv/bin/together-wrapper demo "$@"
