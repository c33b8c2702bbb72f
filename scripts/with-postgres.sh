#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a real PostgreSQL.
#
# If TEST_DATABASE_URL is already set it is used as is. Otherwise this script
# installs PostgreSQL from Debian's packages when it is missing, starts a
# private cluster (data under $PGTEST_DIR, default /tmp/sipbridge-pgtest,
# port $PGTEST_PORT, default 55432, loopback only), creates the test database
# and exports its DSN. The cluster is left running for the next run; stop it
# with: scripts/with-postgres.sh --stop
set -euo pipefail

PGTEST_DIR=${PGTEST_DIR:-/tmp/sipbridge-pgtest}
PGTEST_PORT=${PGTEST_PORT:-55432}
DB=sipbridge_test

log() { echo "with-postgres: $*" >&2; }

as_pg() {
  # PostgreSQL refuses to run as root: run as the postgres user then.
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_pg() {
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and this is not root: install the 'postgresql' package or set TEST_DATABASE_URL"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
}

BINDIR=$(find_bindir || true)

if [ "${1:-}" = "--stop" ]; then
  [ -n "$BINDIR" ] && [ -d "$PGTEST_DIR/data" ] && as_pg "$BINDIR/pg_ctl" -D "$PGTEST_DIR/data" -m fast stop || true
  exit 0
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if [ -z "$BINDIR" ]; then
    install_pg
    BINDIR=$(find_bindir)
  fi
  mkdir -p "$PGTEST_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PGTEST_DIR"
  if [ ! -s "$PGTEST_DIR/data/PG_VERSION" ]; then
    log "creating a cluster in $PGTEST_DIR/data"
    as_pg "$BINDIR/initdb" -D "$PGTEST_DIR/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  fi
  if ! as_pg "$BINDIR/pg_ctl" -D "$PGTEST_DIR/data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PGTEST_PORT"
    as_pg "$BINDIR/pg_ctl" -D "$PGTEST_DIR/data" -l "$PGTEST_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PGTEST_PORT -k $PGTEST_DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  fi
  PSQL="$BINDIR/psql"
  [ -x "$PSQL" ] || PSQL=psql
  if ! "$PSQL" -h 127.0.0.1 -p "$PGTEST_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    "$PSQL" -h 127.0.0.1 -p "$PGTEST_PORT" -U postgres -qc "CREATE DATABASE $DB" >/dev/null
  fi
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PGTEST_PORT/$DB?sslmode=disable"
  log "TEST_DATABASE_URL=$TEST_DATABASE_URL"
fi

exec "$@"
