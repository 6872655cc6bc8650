#!/usr/bin/env bash
# Installs and starts what the test suite needs and cannot get from pip:
#   redis-server (the tests start their own private instance on a free port),
#   PostgreSQL (a role and database for the tests), Chromium (browser tests).
# Idempotent: does nothing where everything is already in place.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
    if [ "$apt_updated" = "0" ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server"
    apt_install redis-server
fi

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    echo "installing chromium"
    apt_install chromium
fi

PG_HOST="${TEST_PG_HOST:-127.0.0.1}"
PG_PORT="${TEST_PG_PORT:-5432}"
if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "installing postgresql"
        apt_install postgresql
    fi
    cluster=$(ls /etc/postgresql | sort -V | tail -1)
    echo "starting postgresql $cluster"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || $SUDO pg_ctlcluster "$cluster" main start
    for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 0.5; done
fi

# A password role works whether the server trusts local TCP connections or asks for md5/scram.
PG_USER=fbqbo
PG_DB=fbqbo_test
if ! PGPASSWORD=fbqbo psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qtAc 'select 1' >/dev/null 2>&1; then
    echo "creating PostgreSQL role $PG_USER and database $PG_DB"
    run_as_postgres() { if [ "$(id -u)" = "0" ]; then su postgres -c "$1"; else sudo -u postgres bash -c "$1"; fi; }
    run_as_postgres "psql -h $PG_HOST -p $PG_PORT -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN CREATE ROLE $PG_USER LOGIN PASSWORD 'fbqbo' CREATEDB; END IF; END \\\$\\\$;\"" \
        || run_as_postgres "psql -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN CREATE ROLE $PG_USER LOGIN PASSWORD 'fbqbo' CREATEDB; END IF; END \\\$\\\$;\""
    run_as_postgres "psql -h $PG_HOST -p $PG_PORT -qtAc \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\" | grep -q 1 || createdb -h $PG_HOST -p $PG_PORT -O $PG_USER $PG_DB" \
        || run_as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\" | grep -q 1 || createdb -O $PG_USER $PG_DB"
fi
echo "system dependencies ready (redis-server, postgresql, chromium)"
