#!/usr/bin/env bash
# With 1,000,000 subjects stored: times access packages and destructions through the API.
# Usage: benches/load/requests-1m.sh [count] [subjects walked] [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
walked=${2:-300}
backend=${3:-sqlite}
port=${PORT:-18082}
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
# `sql`: a query's rows, ids as a UUID's text; `id`: the id column as the query selects it.
if [ "$backend" = postgres ]; then
  sql() { psql -qAt "$DERBES_DATABASE_URL" -c "$1"; }
  id=id
else
  sql() { sqlite3 "$dir/derbes.db" "$1" | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/'; }
  id="lower(hex(id))"
fi
sql "SELECT $id FROM subjects ORDER BY random() LIMIT $walked" > "$dir/ids.txt"
echo "== $walked subjects: 10 reads each, then an access request and a destruction request"
python3 benches/load/requests.py "http://127.0.0.1:$port" "$token" "$dir/ids.txt" 10
echo "subjects left: $(sql 'SELECT COUNT(*) FROM subjects')"
