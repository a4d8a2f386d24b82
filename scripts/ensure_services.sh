#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis that the trade engine needs are up.
#
# Reads DATABASE_URL and REDIS_URL (environment first, then ./.env, then the
# same defaults as tradeengine/settings.py). Only services on this machine
# (127.0.0.1 / localhost / ::1) are managed; remote URLs are left alone.
#
# On a fresh Debian/Ubuntu machine PostgreSQL and Redis are installed with
# apt-get when missing, started without systemd, and the database is created.
# A PostgreSQL cluster installed by this script (or one that refuses the
# password-less `postgres` login) is switched to `trust` for local
# connections: this is meant for development and test machines only.
#
# Idempotent, and silent when everything is already in place; prints one line
# per action taken.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WAIT_SECONDS="${ENSURE_SERVICES_WAIT:-30}"
PG_CLUSTER="${ENSURE_PG_CLUSTER:-main}"  # Debian cluster name under /etc/postgresql/<version>/

say() { printf 'ensure_services: %s\n' "$*"; }
die() { printf 'ensure_services: ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# Run privileged commands directly as root, through sudo otherwise.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then
        SUDO=(sudo)
    fi
fi

APT_UPDATED=0
apt_install() {
    have apt-get || die "cannot install $* (no apt-get); install it by hand"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    say "installing $* with apt-get"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- configuration ---------------------------------------------------------

# Value of KEY from ./.env (KEY=value, optional `export` and quotes), if any.
dotenv_value() {
    local key="$1" file="$ROOT_DIR/.env" line value
    [ -f "$file" ] || return 0
    line="$(grep -E "^[[:space:]]*(export[[:space:]]+)?${key}[[:space:]]*=" "$file" | tail -n 1 || true)"
    [ -n "$line" ] || return 0
    value="${line#*=}"
    value="${value#"${value%%[![:space:]]*}"}"
    value="${value%"${value##*[![:space:]]}"}"
    case "$value" in
        \"*\") value="${value#\"}"; value="${value%\"}" ;;
        \'*\') value="${value#\'}"; value="${value%\'}" ;;
    esac
    printf '%s' "$value"
}

setting() {
    local key="$1" default="$2" value
    value="${!key:-}"
    [ -n "$value" ] || value="$(dotenv_value "$key")"
    [ -n "$value" ] || value="$default"
    printf '%s' "$value"
}

# Split scheme://[user[:password]@]host[:port][/path][?query] into URL_* vars.
parse_url() {
    local url="$1" rest hostport userinfo
    URL_SCHEME="${url%%://*}"
    rest="${url#*://}"
    rest="${rest%%\?*}"
    rest="${rest%%#*}"
    URL_PATH=""
    if [[ "$rest" == */* ]]; then
        URL_PATH="${rest#*/}"
        rest="${rest%%/*}"
    fi
    URL_USER=""
    URL_PASSWORD=""
    hostport="$rest"
    if [[ "$rest" == *@* ]]; then
        userinfo="${rest%@*}"
        hostport="${rest##*@}"
        URL_USER="${userinfo%%:*}"
        if [[ "$userinfo" == *:* ]]; then
            URL_PASSWORD="${userinfo#*:}"
        fi
    fi
    URL_PORT=""
    if [[ "$hostport" == \[* ]]; then
        URL_HOST="${hostport#\[}"
        URL_HOST="${URL_HOST%%\]*}"
        if [[ "$hostport" == *\]:* ]]; then
            URL_PORT="${hostport##*\]:}"
        fi
    else
        URL_HOST="${hostport%%:*}"
        if [[ "$hostport" == *:* ]]; then
            URL_PORT="${hostport##*:}"
        fi
    fi
}

is_local_host() {
    case "$1" in
        "" | 127.0.0.1 | localhost | ::1 | localhost.localdomain) return 0 ;;
        *) return 1 ;;
    esac
}

# --- PostgreSQL --------------------------------------------------------------

PG_VERSION=""
pg_find_cluster_version() {
    local v
    PG_VERSION=""
    [ -d /etc/postgresql ] || return 0
    for v in $(ls /etc/postgresql 2>/dev/null | sort -V); do
        if [ -f "/etc/postgresql/$v/$PG_CLUSTER/postgresql.conf" ]; then
            PG_VERSION="$v"
        fi
    done
}

pg_server_installed() {
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

pg_ready() {
    have pg_isready && pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 3 >/dev/null 2>&1
}

pg_wait_ready() {
    local i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        pg_ready && return 0
        sleep 0.5
    done
    return 1
}

# psql as the postgres superuser over TCP, never prompting for a password.
pg_psql() {
    PGCONNECT_TIMEOUT=5 psql -X -w -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

PG_HBA_MARKER="# trade engine dev/test: password-less local connections (scripts/ensure_services.sh)"

pg_hba_file() {
    local file=""
    if have runuser && [ "$(id -u)" -eq 0 ]; then
        file="$(cd / && runuser -u postgres -- psql -X -w -p "$PG_PORT" -tAc 'SHOW hba_file' 2>/dev/null || true)"
    fi
    if [ -z "$file" ]; then
        pg_find_cluster_version
        [ -n "$PG_VERSION" ] && file="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf"
    fi
    printf '%s' "$file"
}

pg_trust_local() {
    local hba tmp
    hba="$(pg_hba_file)"
    [ -n "$hba" ] && "${SUDO[@]}" test -f "$hba" || die "cannot find pg_hba.conf to allow password-less local connections"
    if "${SUDO[@]}" grep -qF "$PG_HBA_MARKER" "$hba"; then
        return 0
    fi
    say "allowing password-less (trust) local connections in $hba"
    "${SUDO[@]}" test -f "$hba.orig" || "${SUDO[@]}" cp -p "$hba" "$hba.orig"
    tmp="$(mktemp)"
    {
        printf '%s\n' "$PG_HBA_MARKER"
        printf 'local   all   all                 trust\n'
        printf 'host    all   all   127.0.0.1/32  trust\n'
        printf 'host    all   all   ::1/128       trust\n'
        printf '\n'
        "${SUDO[@]}" cat "$hba"
    } >"$tmp"
    # Overwrite in place so the file keeps its owner and mode.
    "${SUDO[@]}" sh -c 'cat "$1" > "$2"' sh "$tmp" "$hba"
    rm -f "$tmp"
    say "reloading PostgreSQL configuration"
    if have runuser && [ "$(id -u)" -eq 0 ] \
        && (cd / && runuser -u postgres -- psql -X -w -p "$PG_PORT" -tAc 'SELECT pg_reload_conf()' >/dev/null 2>&1); then
        :
    elif [ -n "$PG_VERSION" ] && have pg_ctlcluster; then
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" reload >/dev/null
    else
        die "reload PostgreSQL by hand to apply $hba"
    fi
    sleep 1
}

pg_start_cluster() {
    pg_find_cluster_version
    if [ -z "$PG_VERSION" ]; then
        local v
        v="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
        [ -n "$v" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
        have pg_createcluster || die "pg_createcluster not found (install postgresql-common)"
        say "creating PostgreSQL $v cluster '$PG_CLUSTER'"
        "${SUDO[@]}" pg_createcluster -p "$PG_PORT" "$v" "$PG_CLUSTER" >/dev/null
        PG_VERSION="$v"
        PG_INSTALLED_HERE=1
    fi
    say "starting PostgreSQL $PG_VERSION cluster '$PG_CLUSTER'"
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start \
        || say "pg_ctlcluster start failed; waiting in case it is already starting"
}

ensure_postgres() {
    local db_url db_name db_user db_password out q_name
    db_url="$(setting DATABASE_URL 'postgres://postgres@127.0.0.1:5432/tradeengine')"
    parse_url "$db_url"
    case "$URL_SCHEME" in
        postgres | postgresql | pgsql | postgis) ;;
        *) return 0 ;;  # not PostgreSQL: nothing to manage
    esac
    is_local_host "$URL_HOST" || return 0

    PG_PORT="${URL_PORT:-5432}"
    db_name="${URL_PATH:-tradeengine}"
    db_user="${URL_USER:-postgres}"
    db_password="$URL_PASSWORD"
    PG_INSTALLED_HERE=0

    if ! pg_ready; then
        if ! pg_server_installed; then
            apt_install postgresql
            PG_INSTALLED_HERE=1
        fi
        have pg_isready || apt_install postgresql-client
        # The package may have started the cluster itself (systemd machines).
        if ! pg_ready; then
            pg_start_cluster
        fi
        pg_wait_ready || die "PostgreSQL is not accepting connections on 127.0.0.1:$PG_PORT after ${WAIT_SECONDS}s (see /var/log/postgresql/)"
    fi
    pg_find_cluster_version

    # Fresh Debian clusters use peer (socket) and scram-sha-256 (TCP) auth;
    # the project connects as `postgres` without a password.
    if [ "$PG_INSTALLED_HERE" -eq 1 ]; then
        pg_trust_local
    fi
    if ! out="$(pg_psql -tAc 'SELECT 1' 2>&1)"; then
        case "$out" in
            *"password authentication failed"* | *"no password supplied"* | *"Peer authentication failed"* | \
                *"Ident authentication failed"* | *"no pg_hba.conf entry"*)
                pg_trust_local
                out="$(pg_psql -tAc 'SELECT 1' 2>&1)" \
                    || die "still cannot connect as postgres to 127.0.0.1:$PG_PORT: $out"
                ;;
            *) die "cannot connect as postgres to 127.0.0.1:$PG_PORT: $out" ;;
        esac
    fi

    if [ "$db_user" != "postgres" ]; then
        q_name="${db_user//\'/\'\'}"
        if [ "$(pg_psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='$q_name'")" != "1" ]; then
            say "creating PostgreSQL role $db_user"
            # psql only interpolates :"var" / :'var' in scripts, not in -c.
            if [ -n "$db_password" ]; then
                echo "CREATE ROLE :\"u\" LOGIN CREATEDB PASSWORD :'p';" \
                    | pg_psql -v "u=$db_user" -v "p=$db_password" -f - >/dev/null
            else
                echo "CREATE ROLE :\"u\" LOGIN CREATEDB;" | pg_psql -v "u=$db_user" -f - >/dev/null
            fi
        fi
    fi

    q_name="${db_name//\'/\'\'}"
    if [ "$(pg_psql -tAc "SELECT 1 FROM pg_database WHERE datname='$q_name'")" != "1" ]; then
        say "creating database $db_name"
        PGCONNECT_TIMEOUT=5 createdb -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -O "$db_user" -- "$db_name"
    fi

    # The exchange's tables grow by thousands of rows a second: without
    # autovacuum their statistics go stale within minutes and the planner
    # turns index lookups into scans of whole tables.
    if [ "$(pg_psql -tAc 'SHOW autovacuum')" != "on" ]; then
        say "turning PostgreSQL's autovacuum on (it was off): ALTER SYSTEM SET autovacuum = on"
        pg_psql -c 'ALTER SYSTEM SET autovacuum = on' >/dev/null
        pg_psql -tAc 'SELECT pg_reload_conf()' >/dev/null
    fi
}

# --- Redis -------------------------------------------------------------------

# True when a Redis server answers on 127.0.0.1:$REDIS_PORT (PONG, or NOAUTH
# when it wants a password: it is up either way).
redis_up() {
    local reply=""
    if have redis-cli; then
        reply="$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || true)"
    else
        reply="$(timeout 5 bash -c '
            exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
            printf "PING\r\n" >&3
            IFS= read -r line <&3 && printf "%s" "$line"
        ' bash "$REDIS_PORT" 2>/dev/null || true)"
    fi
    case "$reply" in
        PONG* | +PONG* | NOAUTH* | -NOAUTH*) return 0 ;;
        *) return 1 ;;
    esac
}

ensure_redis() {
    local redis_url i
    redis_url="$(setting REDIS_URL 'redis://127.0.0.1:6379/0')"
    parse_url "$redis_url"
    [ "$URL_SCHEME" = "redis" ] || return 0
    is_local_host "$URL_HOST" || return 0
    REDIS_PORT="${URL_PORT:-6379}"

    redis_up && return 0

    if ! have redis-server; then
        apt_install redis-server
        # The package may have started it itself (systemd machines).
        redis_up && return 0
    fi

    say "starting redis-server on 127.0.0.1:$REDIS_PORT"
    "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
    "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis \
        --logfile /var/log/redis/redis-server.log >/dev/null

    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        redis_up && return 0
        sleep 0.5
    done
    die "Redis is not answering on 127.0.0.1:$REDIS_PORT after ${WAIT_SECONDS}s (see /var/log/redis/redis-server.log)"
}

ensure_postgres
ensure_redis
