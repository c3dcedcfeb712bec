#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the integration tests, on 127.0.0.1 only.
#
#   scripts/pg-test-server.sh start   # installs PostgreSQL if needed, starts, prints the admin URI
#   scripts/pg-test-server.sh uri     # prints the admin URI of the running cluster
#   scripts/pg-test-server.sh stop    # stops the cluster and deletes all its data
#
# The tests get MLFLOWD_TEST_PG_URI=<admin URI> and create one database per mlflowd.
# Durability is off (fsync, synchronous_commit, full_page_writes): data is disposable.
# Settings: MLFLOWD_PG_PORT (25432), MLFLOWD_PG_DIR (/tmp/mlflowd-pg-test-<port>). The port is
# below the kernel's ephemeral range (32768-60999): no outgoing connection can be holding it.
set -euo pipefail

PORT="${MLFLOWD_PG_PORT:-25432}"
DIR="${MLFLOWD_PG_DIR:-/tmp/mlflowd-pg-test-$PORT}"
PASSWORD="mlflowd-test"
HERE="$(cd "$(dirname "$0")" && pwd)"

pgbin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "pg-test-server: PostgreSQL server binaries not found (install postgresql-15)" >&2
  exit 1
}

# initdb and pg_ctl refuse to run as root: use the postgres user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

uri() {
  echo "postgresql://postgres:$PASSWORD@127.0.0.1:$PORT/postgres"
}

running() {
  [ -f "$DIR/data/postmaster.pid" ] && as_owner "$(pgbin)/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
  "$HERE/install-deps.sh"
  local bin
  bin="$(pgbin)"
  if running; then
    uri
    return
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  echo "$PASSWORD" >"$DIR/pw"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$DIR"
  as_owner "$bin/initdb" -D "$DIR/data" -U postgres -A scram-sha-256 --pwfile="$DIR/pw" \
    --no-sync -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; exit 1; }
  if ! as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=400 -c shared_buffers=128MB" start >/dev/null; then
    cat "$DIR/log" >&2
    exit 1
  fi
  uri
}

stop() {
  if [ -d "$DIR/data" ]; then
    as_owner "$(pgbin)/pg_ctl" -D "$DIR/data" -w -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  uri) uri ;;
  *) echo "usage: $0 start|stop|uri" >&2; exit 2 ;;
esac
