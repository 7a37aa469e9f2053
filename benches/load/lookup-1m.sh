#!/usr/bin/env bash
# Import 1,000,000 generated subjects (time and peak memory), then look subjects up by IIN under load.
# Usage: benches/load/lookup-1m.sh [count] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
secs=${2:-15}
port=${PORT:-18081}
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
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
