#!/usr/bin/env bash
# Runs CMD... against a throwaway PostgreSQL cluster:
#
#   scripts/with-postgres.sh cargo test -p mercato-postgres
#   scripts/with-postgres.sh sh -c './target/release/examples/mercato check --store "postgres:$MERCATO_PG_URL" scenarios/*.json'
#   (the runner built with `cargo build --release --features postgres --example mercato`)
#
# Finds initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin, runs initdb in
# a temporary directory (as the `mercato` system user when run as root,
# creating it if needed), starts the server on 127.0.0.1 and a free port,
# exports MERCATO_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres, runs
# CMD, then stops the server and removes the directory. Exits with CMD's
# status. Extra postgresql.conf lines can be passed in MERCATO_PG_CONF
# (newline-separated), e.g. MERCATO_PG_CONF="fsync=off".
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

bindir=""
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    bindir=$(dirname "$(command -v initdb)")
else
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        [ -x "$d/initdb" ] && bindir=$d
    done
fi
if [ -z "$bindir" ]; then
    echo "error: PostgreSQL is not installed: apt-get install -y postgresql" >&2
    exit 2
fi

runas=()
if [ "$(id -u)" = 0 ]; then
    id -u mercato >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mercato
    runas=(runuser -u mercato --)
fi

dir=$(mktemp -d /tmp/mercato-pg.XXXXXX)
chmod 755 "$dir"
[ "${#runas[@]}" -gt 0 ] && chown mercato: "$dir"
cleanup() {
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

"${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000)))
{
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 200"
    echo "shared_buffers = 256MB"
    printf '%s\n' "${MERCATO_PG_CONF:-}"
} >>"$dir/data/postgresql.conf"
"${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 2; }

export MERCATO_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export MERCATO_PG_BIN="$bindir"
echo "with-postgres: $MERCATO_PG_URL ($bindir)" >&2
set +e
"$@"
status=$?
set -e
exit $status
