#!/usr/bin/env bash
# The retention scan over 1,000,000 subjects collected over ten years, 60% of whom left on a day
# between their collection and today: `derbes retention scan` (what expired, what is held, what
# expires within 30 days), its wall time and peak memory, on SQLite or PostgreSQL.
# The subjects are imported through derbes; their collection times and lifecycle events are then
# written beneath it with SQL (a benchmark's shortcut: the audit chain does not list them).
# Usage: benches/load/retention-1m.sh [count] [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
backend=${2:-sqlite}
port=${PORT:-18084}
# shellcheck source=import-then-stop.sh
. benches/load/import-then-stop.sh

echo "== collection times over ten years, 60% left (SQL beneath derbes)"
if [ "$backend" = sqlite ]; then
  time sqlite3 "$dir/derbes.db" <<SQL
UPDATE subjects SET created_at = strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2016-12-07', '+' || (abs(random()) % 3650) || ' days');
CREATE TEMP TABLE pick AS SELECT id, lower(hex(id)) AS h, substr(created_at, 1, 10) AS c, randomblob(16) AS r
  FROM subjects WHERE abs(random()) % 10 < 6;
INSERT INTO lifecycle_events (subject_id, n, id, event)
SELECT id, 0, r, json_object('id', $(uuid "lower(hex(r))"), 'subject_id', $(uuid h), 'kind', 'relationship_ended',
  'on', date(c, '+' || (abs(random()) % max(1, CAST(julianday('now') - julianday(c) AS INTEGER))) || ' days'),
  'recorded_at', '2026-12-07T00:00:00Z', 'recorded_by', 'admin:bench')
FROM pick;
SELECT count(*) || ' lifecycle events' FROM lifecycle_events;
SQL
else
  time psql -q -v ON_ERROR_STOP=1 "$DERBES_DATABASE_URL" <<'SQL'
UPDATE subjects SET created_at = to_char(timestamp '2016-12-07' + floor(random() * 3650) * interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
INSERT INTO lifecycle_events (subject_id, n, id, event)
SELECT s.id, 0, s.eid, json_build_object('id', s.eid, 'subject_id', s.id, 'kind', 'relationship_ended',
  'on', to_char(left(s.created_at, 10)::date + floor(random() * greatest(1, current_date - left(s.created_at, 10)::date)) * interval '1 day', 'YYYY-MM-DD'),
  'recorded_at', '2026-12-07T00:00:00Z', 'recorded_by', 'admin:bench')::text
FROM (SELECT id, created_at, gen_random_uuid() AS eid FROM subjects WHERE random() < 0.6) s;
ANALYZE;
SELECT count(*) || ' lifecycle events' FROM lifecycle_events;
SQL
fi

echo "== derbes retention scan on $backend, $count subjects"
for run in 1 2; do
  /usr/bin/time -f "scan $run: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" retention scan > "$dir/scan.txt"
done
head -30 "$dir/scan.txt"
