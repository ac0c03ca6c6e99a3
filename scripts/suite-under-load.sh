#!/usr/bin/env bash
# The whole suite N times in a row (default 3) while two CPU-bound processes run beside it (issue 7, point 6):
# tests wait on state, so a busy machine makes them slower, never red.
#   scripts/suite-under-load.sh [RUNS] [pytest args…]      e.g. REDIS_URL=redis://127.0.0.1:6379/13 scripts/suite-under-load.sh 3
set -u
runs=${1:-3}; shift || true
cd "$(dirname "$0")/.."
burn() { if command -v stress >/dev/null; then exec stress --cpu 1; else exec python3 -c 'while True: pass'; fi; }
burn & b1=$!; burn & b2=$!
trap 'kill $b1 $b2 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  .venv/bin/pytest -q -p no:cacheprovider "$@"; rc=$?
  echo "suite-under-load: run $i of $runs: exit $rc in $(( $(date +%s) - start )) s (2 CPU burners beside it)"
  [ "$rc" -eq 0 ] || failed=1
done
exit $failed
