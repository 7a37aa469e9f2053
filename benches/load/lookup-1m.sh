#!/usr/bin/env bash
# Import 1,000,000 generated subjects (time and peak memory), then look subjects up by IIN under load.
# Usage: benches/load/lookup-1m.sh [count] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
secs=${2:-15}
cargo build --release -q
bin=target/release/derbes
dir=$(mktemp -d)
port=${PORT:-18081}
trap 'if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
"$bin" generate --count "$count" --out "$dir/subjects.csv"
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/first.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "serving" "$dir/first.log" && break; sleep 0.1; done
kill $server; wait $server 2>/dev/null || true
echo "== import $count subjects"
/usr/bin/time -f "import: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" import "$dir/subjects.csv" --category student
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "serving" "$dir/serve.log" && break; sleep 0.1; done
export TOKEN=$("$bin" --data-dir "$dir" token create --role integration --purpose education --name bench 2>/dev/null)
export IINS_FILE="$dir/iins.txt"
cut -d, -f6 "$dir/subjects.csv" | tail -n +2 | shuf -n 20000 --random-source=<(yes) > "$IINS_FILE"
# Warm up first: the first touches of a 3-million-entry index come from disk, not from memory.
wrk -t1 -c4 -d5s -s benches/load/lookup.lua "http://127.0.0.1:$port" > /dev/null
for conns in ${LOOKUP_CONNS:-1 4 16}; do
  echo "== lookup by IIN at $count subjects, $conns connection(s), ${secs}s"
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s benches/load/lookup.lua "http://127.0.0.1:$port" \
    | grep -E "Requests/sec|Latency |50%|99%|unexpected" | head -8
done
