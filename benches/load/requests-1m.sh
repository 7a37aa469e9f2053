#!/usr/bin/env bash
# With 1,000,000 subjects stored: times access packages and destructions through the API.
# Usage: benches/load/requests-1m.sh [count] [subjects walked]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
walked=${2:-300}
port=${PORT:-18082}
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
sqlite3 "$dir/derbes.db" "SELECT lower(hex(id)) FROM subjects ORDER BY random() LIMIT $walked" \
  | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/' > "$dir/ids.txt"
echo "== $walked subjects: 10 reads each, then an access request and a destruction request"
python3 benches/load/requests.py "http://127.0.0.1:$port" "$token" "$dir/ids.txt" 10
echo "subjects left: $(sqlite3 "$dir/derbes.db" 'SELECT COUNT(*) FROM subjects')"
