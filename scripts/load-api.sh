#!/usr/bin/env bash
# Measures the API's throughput on PostgreSQL: a fresh database on the
# cluster scripts/with-postgres.sh runs, a sipbridge serving it (no
# FreeSWITCH: the API does not need one), an organization and its API key
# (sipbridge admin create-key), then cmd/loadapi, which creates the trunks
# through the API and loads each path in turn. Extra arguments go to loadapi.
#
#   scripts/load-api.sh                      # 100 trunks, 16 clients, 10 s per path
#   SIPBRIDGE_BIN=/tmp/old/sipbridge scripts/load-api.sh -d 20s
#
# Environment: SIPBRIDGE_BIN (default: built from this tree), TRUNKS (100),
# CLIENTS (16), LOAD_ADDR (127.0.0.1:18080), LOAD_DB (sipbridge_load: the
# database, dropped and made again), PPROF_ADDR (passed to the
# server, e.g. 127.0.0.1:6060, to profile it while loaded), KEEP=1 leaves
# the server running after the measurement (stop it with kill <pid>).
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNKS=${TRUNKS:-100}
CLIENTS=${CLIENTS:-16}
LOAD_ADDR=${LOAD_ADDR:-127.0.0.1:18080}
DB=${LOAD_DB:-sipbridge_load}
WORK=$(mktemp -d /tmp/sipbridge-load.XXXXXX)

log() { echo "load-api: $*" >&2; }

BIN=${SIPBRIDGE_BIN:-}
if [ -z "$BIN" ]; then
  BIN=$WORK/sipbridge
  go build -o "$BIN" ./cmd/sipbridge
fi
go build -o "$WORK/loadapi" ./cmd/loadapi

TEST_DSN=$(scripts/with-postgres.sh printenv TEST_DATABASE_URL)
ADMIN_DSN=${TEST_DSN%/*}/postgres?sslmode=disable
DSN=${TEST_DSN%/*}/$DB?sslmode=disable
PSQL=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V -r | head -1)
PSQL=${PSQL:-psql}
"$PSQL" "$ADMIN_DSN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null

export DATABASE_URL=$DSN
export SECRET_KEY=${SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}
export SIPBRIDGE_VAR_DIR=$WORK/var
export SIPBRIDGE_ADDR=$LOAD_ADDR
export FS_ESL_ADDR=127.0.0.1:9 # nothing listens: the API runs without a switch
export FS_GEN_DIR=$WORK/var/freeswitch
KEY=$("$BIN" admin create-key --org load 2>>"$WORK/server.log" | tail -1)

"$BIN" serve >>"$WORK/server.log" 2>&1 &
PID=$!
if [ "${KEEP:-}" != 1 ]; then
  trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
fi
for _ in $(seq 100); do
  curl -fsS "http://$LOAD_ADDR/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
log "sipbridge pid $PID on $LOAD_ADDR, log $WORK/server.log, load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$WORK/loadapi" -url "http://$LOAD_ADDR" -key "$KEY" -trunks "$TRUNKS" -c "$CLIENTS" "$@"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${KEEP:-}" = 1 ]; then
  log "server left running: pid $PID, key $KEY"
fi
