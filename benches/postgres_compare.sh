#!/usr/bin/env bash
# PostgreSQL figures of docs/performance.md, all against one throwaway
# server (scripts/with-postgres.sh, PostgreSQL's default durability:
# fsync=on, synchronous_commit=on) in one run:
#
#   1. pgbench TPC-B: `pgbench -i`, then `pgbench -c 8 -j 2 -T $SECONDS`;
#   2. mercato place+pay through group commit, 8 caller threads, one process
#      (examples/flash_sale.rs on postgres);
#   2b. the same with orders in flight on 2 threads (flash_sale --inflight:
#      8, then 64 in flight);
#   3. the flash sale on one hot SKU across 4 processes (flash_sale
#      --processes 4, each process one engine with 2 caller threads):
#      optimistic (the default), then decided under the chain head's row
#      lock (--locked), then locked with 16 orders in flight per thread;
#   4. the classic hot-row loop from 4 clients (4 server processes):
#      `UPDATE stock SET n = n - 1 WHERE sku = 'phone' AND n > 0`;
#   5. 2 and 4 again with synchronous_commit=off (ALTER SYSTEM on the same
#      server), to show what the disk's flush costs.
#
# Usage: benches/postgres_compare.sh [SECONDS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MERCATO_PG_COMPARE_INNER:-}" ]; then
    cargo build --release --features postgres --example flash_sale >&2
    export MERCATO_PG_COMPARE_INNER=1
    exec scripts/with-postgres.sh "$0" "$@"
fi

secs=${1:-20}
url=$MERCATO_PG_URL
pgbench=${MERCATO_PG_BIN:-/nonexistent}/pgbench
[ -x "$pgbench" ] || pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
flash=./target/release/examples/flash_sale

echo "== date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== server: $(psql "$url" -Atc 'select version()')"
echo "== settings: $(psql "$url" -Atc "select string_agg(name || '=' || setting, ' ') from pg_settings where name in ('fsync','synchronous_commit','wal_sync_method','shared_buffers')")"

psql "$url" -c "CREATE DATABASE bench"
burl=${url%/postgres}/bench

echo "== 1. pgbench TPC-B: pgbench -i -s 1; pgbench -c 8 -j 2 -T $secs"
"$pgbench" -q -i -s 1 "$burl" >/dev/null 2>&1
"$pgbench" -c 8 -j 2 -T "$secs" "$burl" 2>/dev/null | grep -E "^(tps|latency average|number of transactions actually)"

place_pay() {
    "$flash" --fresh --store "postgres:$url" --threads 8 --units "$1" --buyers "$(($1 / 2))" --limit 2 --json | tail -1
}
place_pay_inflight() {
    "$flash" --fresh --store "postgres:$url" --threads 2 --inflight "$2" --units "$1" --buyers "$(($1 / 2))" --limit 2 --json | tail -1
}
flash4() {
    local units=$1
    shift
    "$flash" --fresh --store "postgres:$url" --processes 4 --threads 2 --units "$units" --buyers "$((units / 2))" --limit 2 "$@" --json | tail -1
}
hot_row() {
    psql "$burl" -c "DROP TABLE IF EXISTS stock; CREATE TABLE stock (sku text PRIMARY KEY, n bigint NOT NULL); INSERT INTO stock VALUES ('phone', 1000000000)"
    echo "UPDATE stock SET n = n - 1 WHERE sku = 'phone' AND n > 0;" >"$tmp/hot.sql"
    "$pgbench" -n -c 4 -j 4 -T "$1" -f "$tmp/hot.sql" "$burl" 2>/dev/null | grep -E "^(tps|latency average|number of transactions actually)"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== 2. mercato place+pay, group commit, 8 caller threads, 1 process (one JSON line)"
place_pay 10000
echo "== 2b. the same, orders in flight (Engine::submit): 2 threads x 4 (8 in flight), then 2 x 32 (64)"
place_pay_inflight 10000 4
place_pay_inflight 10000 32
echo "== 3. mercato flash sale, one hot SKU, 4 processes x 2 threads (one JSON line each)"
flash4 2000
echo "-- the same, Concurrency::Locked (--locked)"
flash4 4000 --locked
echo "-- locked, 16 orders in flight per thread (--locked --inflight 16)"
flash4 20000 --locked --inflight 16
echo "== 4. hot-row loop, 4 clients: UPDATE stock SET n = n - 1 WHERE sku = 'phone' AND n > 0"
hot_row "$secs"

echo "== 5. the same server with synchronous_commit=off"
psql "$url" -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
echo "-- pgbench TPC-B -c 8 -T $secs"
"$pgbench" -c 8 -j 2 -T "$secs" "$burl" 2>/dev/null | grep -E "^(tps|latency average)"
echo "-- mercato place+pay, 8 threads"
place_pay 20000
echo "-- mercato flash sale, 4 processes"
flash4 2000
echo "-- locked, 16 in flight per thread"
flash4 20000 --locked --inflight 16
echo "-- hot-row loop, 4 clients"
hot_row "$secs"
