#!/usr/bin/env bash
# Runs every Flowgate test: the Rust suites (against SQLite and, when PostgreSQL is installed, a
# throwaway PostgreSQL server started here), the web console's component tests and, when Chromium is
# installed, its end-to-end tests (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

pgdir=""
cleanup() { [ -n "$pgdir" ] && scripts/postgres.sh stop "$pgdir"; }
trap cleanup EXIT

if eval "$(scripts/postgres.sh start)"; then
  pgdir=$PGDIR
  echo "PostgreSQL test server: $FLOWGATE_TEST_POSTGRES_URL"
elif [ "${FLOWGATE_REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "PostgreSQL is required for this run but could not be started" >&2
  exit 1
else
  echo "PostgreSQL not found: the PostgreSQL tests will be skipped (install the postgresql package to run them)" >&2
fi

if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund)
fi

run_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
  else
    cargo test --no-fail-fast "$@"
  fi
}

run_tests --workspace
if [ -n "$pgdir" ]; then
  echo "The API suite again, on PostgreSQL:"
  FLOWGATE_TEST_BACKEND=postgres run_tests -p flowgate-server --test api
fi
(cd web && npm test)

# End-to-end tests of the console in headless Chromium (Debian's `chromium` package).
if [ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  scripts/e2e.sh
else
  echo "chromium not found: the end-to-end console tests are skipped (apt-get install chromium)" >&2
fi
