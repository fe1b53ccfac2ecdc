#!/usr/bin/env bash
# A longer run of the multi-process fault test (crates/flowgate/tests/multiprocess.rs): three
# `flowgate serve` processes on a throwaway PostgreSQL, webhooks sent round-robin, and in every
# round one process SIGKILLed and restarted and another SIGSTOPped past its lease and resumed.
# Usage: scripts/fault-soak.sh [WEBHOOKS] [ROUNDS]   (defaults 3000 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
pgdir=""
trap '[ -n "$pgdir" ] && scripts/postgres.sh stop "$pgdir"' EXIT
eval "$(scripts/postgres.sh start)"
pgdir=$PGDIR
FLOWGATE_FAULT_WEBHOOKS=${1:-3000} FLOWGATE_FAULT_ROUNDS=${2:-10} \
  cargo test --release -p flowgate --test multiprocess -- --nocapture 2>&1 | grep -E "fault run|test result|panicked"
