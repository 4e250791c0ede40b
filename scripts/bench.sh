#!/usr/bin/env bash
# The benchmark command (README): sets up .venv with the package and its dev + bench extras, then runs every
# benchmark the README lists, each printing its table. Benchmarks are not tests (scripts/test.sh never runs them).
#
#   scripts/bench.sh                  all of them (about 6 minutes on a 2-core machine)
#   scripts/bench.sh clients import   only the named ones: clients pipeline import streaming limiter ledger batch
#   BENCH_QUICK=1 scripts/bench.sh    fewer requests and rounds: a smoke run of the same tables (~4 minutes)
#
# Each table has its baselines measured in the same run (issue 11: the bare generated call on the wrapper's httpx
# options and transport; raw httpx; the openai and together SDKs) and prints a verdict line per target.
# Bounded: each benchmark has its own time limit and the whole run at most BENCH_BUDGET seconds (default 1200).
#
# Everything talks to loopback servers it starts itself (the fake Together server runs in its own process).
# The limiter benchmark adds a Redis row when 127.0.0.1:6379 answers, the ledger one a PostgreSQL row when
# 127.0.0.1:5432 does; neither is required. Exits non-zero if any benchmark failed or overran its time bound.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
  "$python" -m venv .venv
fi
stamp=.venv/.installed-bench-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,bench]'
  touch "$stamp"
fi
py=.venv/bin/python

quick=${BENCH_QUICK:-}
budget=${BENCH_BUDGET:-1200}  # seconds for the whole run; each benchmark also has its own bound below
# name | bound in seconds | command (full) | command (BENCH_QUICK=1)
benchmarks=(
  "clients|480|benchmarks/bench_clients.py --rounds 5|benchmarks/bench_clients.py --sync-requests 500 --async-requests 1000 --rounds 2 --warmup 50"
  "pipeline|240|benchmarks/pipeline_overhead.py --split-calls 1000|benchmarks/pipeline_overhead.py --calls 300 --rounds 2 --split-calls 500"
  "import|150|benchmarks/bench_import.py --runs 11|benchmarks/bench_import.py --runs 5"
  "streaming|150|benchmarks/streaming.py --streams 50 --rounds 3|benchmarks/streaming.py --streams 20 --rounds 1"
  "limiter|120|benchmarks/limiter_precision.py|benchmarks/limiter_precision.py --seconds 4"
  "ledger|90|benchmarks/ledger_overhead.py|benchmarks/ledger_overhead.py --calls 500"
  "batch|300|benchmarks/batch_10k.py --rounds 1|benchmarks/batch_10k.py --rows 2000 --rounds 1"
)

wanted=" $* "
failed=()
started=$(date +%s)
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
     "$($py -c 'import platform; print("Python", platform.python_version())'), $(uname -sr)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
for entry in "${benchmarks[@]}"; do
  IFS='|' read -r name bound full short <<<"$entry"
  if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then
    continue
  fi
  script=${full%% *}
  if [ ! -f "$script" ]; then
    echo "== $name: $script is missing, skipped"
    continue
  fi
  left=$(( budget - ($(date +%s) - started) ))
  if [ "$left" -lt 30 ]; then
    echo "== $name: skipped, the ${budget}s budget of this run is spent"
    failed+=("$name")
    continue
  fi
  [ "$left" -lt "$bound" ] && bound=$left
  command=$full
  [ -n "$quick" ] && command=$short
  echo
  echo "== $name: $py $command   (bound ${bound}s)"
  t0=$(date +%s)
  # shellcheck disable=SC2086  # the command's words are split on purpose
  if ! timeout --kill-after=10 "$bound" "$py" $command; then
    echo "== $name FAILED or exceeded ${bound}s"
    failed+=("$name")
  fi
  echo "== $name took $(( $(date +%s) - t0 )) s"
done
echo
echo "== all benchmarks took $(( $(date +%s) - started )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== failed: ${failed[*]}"
  exit 1
fi
