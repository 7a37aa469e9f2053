#!/usr/bin/env bash
# With 1,000,000 subjects stored: times access packages and destructions through the API.
# Usage: benches/load/requests-1m.sh [count] [subjects walked]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
walked=${2:-300}
cargo build --release -q
bin=target/release/derbes
dir=$(mktemp -d)
port=${PORT:-18082}
trap 'if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
"$bin" generate --count "$count" --out "$dir/subjects.csv"
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/first.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "serving" "$dir/first.log" && break; sleep 0.1; done
token=$(grep -o 'dbs_[A-Za-z0-9_-]*' "$dir/first.log" | head -1)
kill $server; wait $server 2>/dev/null || true
echo "== import $count subjects"
/usr/bin/time -f "import: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" import "$dir/subjects.csv" --category student
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "serving" "$dir/serve.log" && break; sleep 0.1; done
sqlite3 "$dir/derbes.db" "SELECT lower(hex(id)) FROM subjects ORDER BY random() LIMIT $walked" \
  | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/' > "$dir/ids.txt"
echo "== $walked subjects: 10 reads each, then an access request and a destruction request"
python3 benches/load/requests.py "http://127.0.0.1:$port" "$token" "$dir/ids.txt" 10
echo "subjects left: $(sqlite3 "$dir/derbes.db" 'SELECT COUNT(*) FROM subjects')"
