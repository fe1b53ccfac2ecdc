#!/usr/bin/env bash
# End-to-end tests of the web console in headless Chromium against a real `flowgate serve` and the
# Spot/Slack stand-ins: builds what they need, then runs `npm run e2e` in web/ (screenshots go to
# web/e2e/artifacts/, or $FLOWGATE_E2E_ARTIFACTS). Needs Node 20+, cargo, Debian's `chromium` and `sqlite3`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v "${CHROMIUM_BIN:-/usr/bin/chromium}" >/dev/null || {
  echo "e2e: ${CHROMIUM_BIN:-/usr/bin/chromium} not found (apt-get install -y chromium, or set CHROMIUM_BIN)" >&2
  exit 1
}

command -v sqlite3 >/dev/null || {
  echo "e2e: sqlite3 not found (apt-get install -y sqlite3); web/e2e/builder.test.mjs seeds 100,000 executions with it" >&2
  exit 1
}

target=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
bin_dir=$(mktemp -d "${TMPDIR:-/tmp}/flowgate-e2e-bin.XXXXXX")
trap 'rm -rf "$bin_dir"' EXIT

cargo build -p flowgate-standins --example e2e_env
cp "$target/debug/examples/e2e_env" "$bin_dir/"
# The console is built (npm ci + npm run build) and embedded by the server's build script. Copy the
# binary at once and check it embeds this tree's console build: a shared target dir may be relinked
# by another checkout's build in between.
for attempt in 1 2 3; do
  cargo build -p flowgate
  cp "$target/debug/flowgate" "$bin_dir/"
  entry=$(basename "$(ls web/dist/assets/index-*.js | head -1)")
  grep -q "$entry" "$bin_dir/flowgate" && break
  [ "$attempt" = 3 ] && { echo "e2e: $target/debug/flowgate does not embed web/dist ($entry)" >&2; exit 1; }
done
export FLOWGATE_BIN="${FLOWGATE_BIN:-$bin_dir/flowgate}"
export FLOWGATE_E2E_ENV_BIN="${FLOWGATE_E2E_ENV_BIN:-$bin_dir/e2e_env}"

cd web
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run e2e
