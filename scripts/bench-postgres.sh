#!/usr/bin/env bash
# The PostgreSQL webhook benchmark: starts a throwaway PostgreSQL (scripts/postgres.sh), then for
# each run a fresh database (the benchmark gives every run a new master key) and `flowgate-bench
# webhook` with PROCESSES servers on it. Prints one JSON line per run.
# Usage: scripts/bench-postgres.sh [PROCESSES] [RUNS] [more flowgate-bench webhook flags...]
#   e.g. scripts/bench-postgres.sh 3 3 --workflow enrich --requests 10000
set -euo pipefail
cd "$(dirname "$0")/.."
processes=${1:-3}
runs=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
cargo build --release -q -p flowgate -p flowgate-bench
pgdir=""
trap '[ -n "$pgdir" ] && scripts/postgres.sh stop "$pgdir"' EXIT
eval "$(scripts/postgres.sh start)"
pgdir=$PGDIR
server=${FLOWGATE_TEST_POSTGRES_URL%/*}
for run in $(seq 1 "$runs"); do
  db="bench_${processes}_${run}"
  psql -q "$FLOWGATE_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
  target/release/flowgate-bench webhook --server-bin target/release/flowgate \
    --database-url "$server/$db" --processes "$processes" --json "$@" | tail -n 1
done
