#!/usr/bin/env bash
# A throwaway PostgreSQL for the Delivery Service tests.
#
#   pg-test-server.sh start   installs PostgreSQL if missing, starts a fresh server on a
#                             loopback port and prints its URL (the only line on stdout)
#   pg-test-server.sh stop    stops it and removes its data
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
# Environment: CONCLAVE_PG_PORT (default 55432), CONCLAVE_PG_DIR (default
# /tmp/conclave-pg-test). The server is for tests only: trust authentication on 127.0.0.1,
# fsync off (the tests kill the DS, never the database).
set -euo pipefail

PORT="${CONCLAVE_PG_PORT:-55432}"
DIR="${CONCLAVE_PG_DIR:-/tmp/conclave-pg-test}"
DATA="$DIR/data"

log() { echo "pg-test-server: $*" >&2; }

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install_if_missing() {
    if [ -n "$(find_bin)" ] && [ -x "$(find_bin)/initdb" ]; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        log "PostgreSQL is not installed and we are not root: install the postgresql package"
        exit 1
    fi
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
}

stop() {
    local bin
    bin="$(find_bin)"
    if [ -n "$bin" ] && [ -f "$DATA/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$DATA" -m immediate -w stop >&2 || true
    fi
    rm -rf "$DIR"
}

start() {
    install_if_missing
    local bin
    bin="$(find_bin)"
    stop
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$DIR"
    fi
    as_pg "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2
    as_pg "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c "CREATE DATABASE conclave_test" >&2
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
    echo "postgres://postgres@127.0.0.1:$PORT/conclave_test"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
