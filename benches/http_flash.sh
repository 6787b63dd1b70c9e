#!/usr/bin/env bash
# A flash sale over HTTP with a real load generator (wrk): the release-built
# server (examples/server.rs) on 127.0.0.1, one SKU with UNITS units at a
# flash price (a `price` promotion, one unit per customer), 2 × UNITS
# registered buyers (POST /customers before the sale, not timed), and wrk
# with benches/http_flash.lua: every request places a one-unit order for
# the next buyer or pays one placed before, so demand is twice the stock.
# When the stock is all sold (GET /stock/phone shows on_hand 0 and nothing
# reserved) wrk is stopped (SIGINT) and prints its figures for the sale. Afterwards,
# through the API: sold == UNITS (on_hand 0, reserved 0, available 0),
# UNITS `order.placed.v1` and `order.paid.v1` events in the feed, one per
# buyer, and wrk counted UNITS places and UNITS payments. The server is
# started and stopped (SIGTERM, exit 0) for each connection count, on a new
# store each time. For the ratio, the in-process `flash_sale` example runs
# the same sale (place + pay per order, one unit per buyer, the same number
# of callers) on the same store kind in the same run.
#
#   benches/http_flash.sh [--units N] [--connections "8 64"] [--postgres] [--smoke]
#
#   --postgres   the server on PostgreSQL (`--store postgres:URL`, a durable
#                throwaway cluster started by scripts/with-postgres.sh);
#                default: the embedded SQLite store (synchronous=FULL, as
#                the server opens it)
#   --smoke      300 units at 4 connections, no in-process comparison: a
#                quick check that the sale over HTTP sells exactly its stock
#
# Needs wrk (installed with apt-get when missing), curl and python3. Not run
# by CI (it measures; minutes on a small machine).
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
units=5000
conns="8 64"
postgres=0
compare=1
while [ $# -gt 0 ]; do
  case "$1" in
    --units) units=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --postgres) postgres=1; shift ;;
    --smoke) units=300; conns=4; compare=0; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$postgres" = 1 ] && [ -z "${MERCATO_PG_URL:-}" ]; then
  # Re-run inside a throwaway cluster with PostgreSQL's default durability.
  exec scripts/with-postgres.sh "$0" "${args[@]}"
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (apt-get)…"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

target=${CARGO_TARGET_DIR:-target}
features=()
[ "$postgres" = 1 ] && features=(--features postgres)
cargo build --release -p mercato "${features[@]}" --example server --example flash_sale
server_bin=$target/release/examples/server
flash_bin=$target/release/examples/flash_sale

export MERCATO_ADMIN_TOKEN=bench-admin-token-0123456789
export MERCATO_SHOP_TOKEN=bench-shop-token-0123456789
work=$(mktemp -d)
server_pid=""
wrk_pid=""
cleanup() {
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

admin() { # PATH KEY BODY
  curl -sf -H "Authorization: Bearer $MERCATO_ADMIN_TOKEN" -H "Idempotency-Key: $2" \
    -H 'Content-Type: application/json' -d "$3" "http://$addr$1" >/dev/null
}
stock_json() {
  curl -sf -H "Authorization: Bearer $MERCATO_SHOP_TOKEN" "http://$addr/stock/phone"
}
field() { # JSON FIELD
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

echo "== flash sale over HTTP: $units units, connections: $conns, store: $([ "$postgres" = 1 ] && echo PostgreSQL || echo 'SQLite FULL')"
echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for c in $conns; do
  # A new store for each run.
  if [ "$postgres" = 1 ]; then
    store=(--store "postgres:$MERCATO_PG_URL" --schema "http_flash_$c")
  else
    store=(--db "$work/http-$c.db")
  fi
  "$server_bin" "${store[@]}" --addr 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  addr=""
  for _ in $(seq 300); do
    addr=$(sed -n 's/^listening on //p' "$work/server.out")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$work/server.err" >&2; exit 1; }

  admin /admin/catalog cat-phone '{"sku": "phone", "price": "1999.00"}'
  admin /admin/promotions promo-flash \
    '{"id": "flash", "kind": "price", "price": "999.00", "per_customer_limit": 1, "scope": {"skus": ["phone"]}}'
  admin /stock/phone/adjust stock-phone "{\"location\": \"main\", \"delta\": $units, \"reason\": \"flash sale stock\"}"
  buyers=$((2 * units))
  # Register the buyers: 16 keep-alive connections (setup, not timed).
  python3 - "$addr" "$buyers" <<'EOF'
import concurrent.futures, http.client, json, os, sys
host, port = sys.argv[1].rsplit(":", 1)
n, width = int(sys.argv[2]), 16
token = os.environ["MERCATO_ADMIN_TOKEN"]
def register(start):
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    for b in range(start, n, width):
        c.request("POST", "/customers", body=json.dumps({"id": f"b{b}"}),
                  headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"cust-b{b}",
                           "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 200:
            raise SystemExit(f"registering b{b}: {r.status}")
with concurrent.futures.ThreadPoolExecutor(width) as pool:
    list(pool.map(register, range(width)))
EOF

  threads=2
  [ "$c" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$c" -d600s --timeout 30s --latency -s benches/http_flash.lua "http://$addr" \
    -- "$buyers" "$threads" >"$work/wrk.out" 2>"$work/wrk.err" &
  wrk_pid=$!
  # Stop wrk once every unit is sold (placed and paid), or after 5 minutes.
  for _ in $(seq 3000); do
    # Keys come sorted: available, on_hand, reserved.
    case "$(stock_json)" in *'"on_hand":0,"reserved":0}'*) break ;; esac
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  wrk_pid=""
  sed 's/^/  wrk: /' "$work/wrk.out" | grep -v '^  wrk: @@' || true
  [ -s "$work/wrk.err" ] && sed 's/^/  wrk stderr: /' "$work/wrk.err" | head -5

  # Check through the API: the stock, the feed, wrk's own counts.
  s=$(stock_json)
  read -r placed paid rejected errors <<<"$(sed -n 's/^@@ placed \([0-9]*\) paid \([0-9]*\) rejected \([0-9]*\) errors \([0-9]*\) reads [0-9]*$/\1 \2 \3 \4/p' "$work/wrk.out")"
  read -r p50 p90 p99 pmax <<<"$(sed -n 's/^@@ latency_us p50 \([0-9]*\) p90 \([0-9]*\) p99 \([0-9]*\) max \([0-9]*\)$/\1 \2 \3 \4/p' "$work/wrk.out")"
  read -r requests duration_us <<<"$(sed -n 's/^@@ requests \([0-9]*\) duration_us \([0-9]*\)$/\1 \2/p' "$work/wrk.out")"
  feed=$(python3 - "$addr" <<'EOF'
import json, sys, urllib.request
addr, after, placed, paid, buyers = sys.argv[1], 0, 0, 0, set()
token = __import__("os").environ["MERCATO_ADMIN_TOKEN"]
while True:
    req = urllib.request.Request(f"http://{addr}/events?after={after}&limit=1000",
                                 headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    for e in page["events"]:
        if e["type"] == "order.placed.v1":
            placed += sum(l["qty"] for l in e["data"]["lines"])
            buyers.add(e["data"]["customer"])
        elif e["type"] == "order.paid.v1":
            paid += 1
    if page["next"] == after:
        break
    after = page["next"]
print(placed, paid, len(buyers))
EOF
)
  read -r feed_units feed_paid feed_buyers <<<"$feed"
  problems=""
  [ "$(field "$s" on_hand)" = 0 ] || problems+=" on_hand=$(field "$s" on_hand)"
  [ "$(field "$s" reserved)" = 0 ] || problems+=" reserved=$(field "$s" reserved)"
  [ "$(field "$s" available)" = 0 ] || problems+=" available=$(field "$s" available)"
  [ "$feed_units" = "$units" ] || problems+=" units_placed=$feed_units"
  [ "$feed_paid" = "$units" ] || problems+=" orders_paid=$feed_paid"
  [ "$feed_buyers" = "$units" ] || problems+=" buyers=$feed_buyers"
  [ "$placed" = "$units" ] || problems+=" wrk_placed=$placed"
  [ "$paid" = "$units" ] || problems+=" wrk_paid=$paid"
  [ "$errors" = 0 ] || problems+=" wrk_errors=$errors"

  kill -TERM "$server_pid"
  if ! wait "$server_pid"; then problems+=" server_exit_nonzero"; fi
  server_pid=""

  secs=$(python3 -c "print(f'{$duration_us/1e6:.2f}')")
  orders_s=$(python3 -c "print(round($units/($duration_us/1e6)))")
  req_s=$(python3 -c "print(round($requests/($duration_us/1e6)))")
  echo "HTTP c=$c: $units orders (place + pay) in $secs s = $orders_s orders/s; $requests requests = $req_s requests/s ($rejected places refused: insufficient stock); latency per request p50 $((p50/1000)).$(( (p50%1000)/100 )) ms, p90 $((p90/1000)).$(( (p90%1000)/100 )) ms, p99 $((p99/1000)).$(( (p99%1000)/100 )) ms, max $((pmax/1000)) ms"
  if [ -n "$problems" ]; then
    echo "  FAILED:$problems"
    failed=1
  else
    echo "  verified: sold == stock ($units; on_hand 0, reserved 0), $units placed and paid orders in the feed, one per buyer"
  fi

  if [ "$compare" = 1 ]; then
    if [ "$postgres" = 1 ]; then
      fstore=(--store "postgres:$MERCATO_PG_URL" --schema "flash_$c")
    else
      fstore=(--store "sqlite:$work/flash-$c.db")
    fi
    j=$("$flash_bin" --units "$units" --buyers "$units" --limit 1 --threads "$c" "${fstore[@]}" --json | tail -1)
    in_rate=$(field "$j" orders_per_s)
    echo "in-process flash_sale --threads $c: $(printf '%.0f' "$in_rate") orders/s (place + pay), p50 $(field "$j" p50_us) µs, p99 $(field "$j" p99_us) µs per order, ok: $(field "$j" ok); HTTP / in-process = $(python3 -c "print(f'{$orders_s/$in_rate:.2f}')")"
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$failed"
