#!/usr/bin/env bash
# HTTP load on loopback: create (10 fields) and purpose-bound read, on SQLite or PostgreSQL.
# Usage: benches/load/run.sh [sqlite|postgres] [seconds]
# Needs: wrk (Debian package), curl, sqlite3 or psql, a release build (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:-sqlite}
secs=${2:-10}
# BENCH_BIN: a derbes already built (to compare builds); otherwise the release build, made here.
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release -q; fi
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/derbes}
dir=$(mktemp -d)
port=${PORT:-18080}
# The load comes from one address with one token: the rate limits are off for it.
printf '[limits]\ntoken_requests_per_second = 0\naddress_requests_per_second = 0\n' > "$dir/bench.toml"
args=(--config "$dir/bench.toml" --data-dir "$dir" --listen "127.0.0.1:$port")
if [ "$backend" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS derbes_bench" -c "CREATE DATABASE derbes_bench"
  args+=(--database-url "postgres://postgres@127.0.0.1:5432/derbes_bench")
fi
env -u DERBES_TEST_POSTGRES_URL "$bin" serve "${args[@]}" > "$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q "serving" "$dir/serve.log" && break; sleep 0.1; done
# Without a terminal, the first admin token is written to a private file.
export TOKEN=$(cat "$dir/first-admin-token" 2>/dev/null || grep -o 'dbs_[A-Za-z0-9_-]*' "$dir/serve.log" | head -n1)
url="http://127.0.0.1:$port"
# Server CPU time (user+system, clock ticks) from /proc, to report CPU per request beside the rate.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
load() { # name, script, extra wrk args...
  local name=$1 script=$2; shift 2
  local before after out
  before=$(cpu_ticks)
  out=$(wrk -t2 -c"${CONNS:-64}" -d"${secs}s" --latency -s "$script" "$@" "$url")
  after=$(cpu_ticks)
  echo "$out" | grep -E "Requests/sec|Latency |99%|unexpected" | head -6
  local rps
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v rps="$rps" -v s="$secs" \
    'BEGIN { printf "  server CPU per request: %.0f µs\n", t / hz / (rps * s) * 1e6 }'
}

echo "== create subject (10 fields), $backend, ${secs}s"
SEED=0 load create benches/load/create.lua

export IDS_FILE="$dir/ids.txt"
if [ "$backend" = postgres ]; then
  psql -qAt -h 127.0.0.1 -U postgres -d derbes_bench -c "SELECT id FROM subjects LIMIT 20000" > "$IDS_FILE"
else
  sqlite3 "$dir/derbes.db" "SELECT lower(hex(id)) FROM subjects LIMIT 20000" \
    | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/' > "$IDS_FILE"
fi
echo "== purpose-bound read (education), $backend, ${secs}s, $(wc -l < "$IDS_FILE") subjects"
load read benches/load/read.lua

# Consents: one parent, linked to every subject (8 s of links cycling through them), gives
# consent for them on paper; then batches of decisions over the same subjects.
export PARENT=$(curl -sf -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"category":"legal_representative","fields":{"surname":"Нұрланов","given_name":"Серік","iin":"800504307708"}}' \
  "$url/api/v1/subjects" | sed -E 's/.*"id":"([^"]+)".*/\1/')
wrk -t2 -c16 -d8s -s benches/load/link.lua "$url" > /dev/null
# Consents and decisions go to the subjects linked in those 8 s (on PostgreSQL, not all of them),
# at most LINKED of them: builds that link at different speeds are compared on as many subjects
# (a decision's first read of a subject fills the cache, so their number moves the figure).
export IDS_FILE="$dir/linked.txt"
if [ "$backend" = postgres ]; then
  psql -qAt -h 127.0.0.1 -U postgres -d derbes_bench -c "SELECT subject_id FROM representatives LIMIT ${LINKED:-1000000}" > "$IDS_FILE"
else
  sqlite3 "$dir/derbes.db" "SELECT lower(hex(subject_id)) FROM representatives LIMIT ${LINKED:-1000000}" \
    | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/' > "$IDS_FILE"
fi
echo "== record a consent (parent, paper), $backend, ${secs}s, $(wc -l < "$IDS_FILE") subjects"
load consent benches/load/consent.lua
echo "== decisions in batches of 100 (half consent-based), $backend, ${secs}s; decisions/s = 100 x requests/s"
load decisions benches/load/decisions.lua
