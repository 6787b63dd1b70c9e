#!/usr/bin/env bash
# Side-by-side comparison: Redis + Lua (EVALSHA; no persistence and
# appendfsync always), the raw SQLite floor, the disk's fsync rate, and
# mercato's flash-sale path (SQLite FULL/NORMAL with group commit;
# PostgreSQL on a throwaway local server, scripts/with-postgres.sh; memory),
# measured in one run on this machine. Writes benches/results/compare.json,
# renders docs/img/throughput.svg and prints the table.
#
#   benches/compare.sh [ORDERS]        # default 20000 orders per measurement
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-20000}

if [ -z "${MERCATO_COMPARE_INNER:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server (apt-get)…"
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing postgresql (apt-get)…"
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  cargo build --release -p mercato-bench --features postgres --bins
  export MERCATO_COMPARE_INNER=1
  # Runs this script again with MERCATO_PG_URL set, then removes the server.
  exec scripts/with-postgres.sh "$0" "$@"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$work" \
  --daemonize no --protected-mode yes >"$work/redis.log" 2>&1 &
redis_pid=$!
cleanup() { kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

mkdir -p benches/results docs/img
machine="$(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(free -g | awk '/Mem:/{print $2}') GiB"
./target/release/compare --orders "$orders" --redis "redis://127.0.0.1:$port/" \
  --postgres "$MERCATO_PG_URL" --dir "$work" \
  --out benches/results/compare.json --machine "$machine" --date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
./target/release/plot benches/results/compare.json docs/img/throughput.svg
echo "wrote benches/results/compare.json and docs/img/throughput.svg"
