#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL cluster in a temporary directory on a loopback port,
# for the PostgreSQL half of the test suite. Usage:
#   eval "$(scripts/postgres.sh start)"   # exports FLOWGATE_TEST_POSTGRES_URL and PGDIR
#   scripts/postgres.sh stop "$PGDIR"
#   scripts/postgres.sh pause "$PGDIR" / resume "$PGDIR"   # stop and restart the server, keeping its data
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && echo "$found"
}

as_owner() {
  # PostgreSQL refuses to run as root: run it as the `postgres` system user then.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
    if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
      echo "echo 'PostgreSQL server binaries not found (install the postgresql package)' >&2; false"
      exit 0
    fi
    dir=$(mktemp -d /tmp/flowgate-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = "0" ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    as_owner "$initdb" -D "$dir/data" -U flowgate --auth=trust -E UTF8 >/dev/null
    echo "-h 127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=300" > "$dir/options"
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$(cat "$dir/options")" start >/dev/null
    echo "export PGDIR=$dir"
    echo "export FLOWGATE_TEST_POSTGRES_URL=postgres://flowgate@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    pg_ctl=$(find_bin pg_ctl)
    as_owner "$pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  pause)
    dir=${2:?usage: postgres.sh pause DIR}
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    dir=${2:?usage: postgres.sh resume DIR}
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/log" -w -o "$(cat "$dir/options")" start >/dev/null
    ;;
  *)
    echo "usage: $0 start | stop DIR | pause DIR | resume DIR" >&2
    exit 2
    ;;
esac
