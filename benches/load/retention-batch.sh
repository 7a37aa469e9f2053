#!/usr/bin/env bash
# A retention batch of `expired` subjects executed: `count` students are imported through
# derbes, all collected in 2012; `expired` of them left in 2014 (their files' and contracts'
# periods long over). Then `derbes retention propose` for the rule with the most expired
# subjects, `approve`, and `derbes retention run` timed (wall time and peak memory): every
# item's destruction with its audit event and mark, the destruction log synced once a page.
# Collection times and lifecycle events are written beneath derbes with SQL (a benchmark's
# shortcut: the audit chain does not list them).
# CATEGORY=site_visitor: visits instead (`derbes generate --category site_visitor`), `expired`
# of them made in 2012, no lifecycle events. RULE: the rule to propose (else the one with the
# most expired subjects); RULE=analytics_data depersonalizes the visits.
# Usage: [CATEGORY=site_visitor] [RULE=rule] benches/load/retention-batch.sh [count] [sqlite|postgres] [expired]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-200000}
backend=${2:-sqlite}
expired=${3:-100000}
port=${PORT:-18085}
# shellcheck source=import-then-stop.sh
. benches/load/import-then-stop.sh

if [ "${CATEGORY:-student}" = site_visitor ]; then
  # Visits: `expired` of them made in 2012 with consent to analytics until 2012-12-01 (their
  # analytics period long over), the others today without. The consents are copies of one
  # recorded through derbes (its terms are the declaration's), written beneath derbes.
  echo "== $expired visits made in 2012, with consent to analytics until 2012-12-01 (SQL beneath derbes)"
  if [ "$backend" = sqlite ]; then
    first=$(sqlite3 "$dir/derbes.db" "SELECT $(uuid "lower(hex(id))") FROM subjects ORDER BY id LIMIT 1")
  else
    first=$(psql -qAt "$DERBES_DATABASE_URL" -c "SELECT id FROM subjects ORDER BY id LIMIT 1")
  fi
  printf 'subject,purpose,evidence_sha256,until\n%s,analytics,%s,2099-12-31\n' "$first" "$(printf form | sha256sum | cut -c1-64)" > "$dir/consent.csv"
  "$bin" --data-dir "$dir" consents import "$dir/consent.csv"
  if [ "$backend" = sqlite ]; then
    sqlite3 "$dir/derbes.db" <<SQL
CREATE TEMP TABLE pick AS SELECT id, lower(hex(id)) AS h, randomblob(16) AS r FROM subjects ORDER BY id LIMIT $expired;
UPDATE subjects SET created_at = '2012-09-01T04:00:00.000000Z' WHERE id IN (SELECT id FROM pick);
CREATE TEMP TABLE template AS SELECT event FROM consent_events LIMIT 1;
DELETE FROM consent_events;
INSERT INTO consent_events (subject_id, n, id, purpose, at, event)
SELECT p.id, 0, p.r, 'analytics', '2012-09-01T04:00:00.000000Z', json_set(t.event, '$.id', $(uuid "lower(hex(p.r))"),
  '$.subject_id', $(uuid p.h), '$.term.date', '2012-12-01', '$.at', '2012-09-01T04:00:00Z')
FROM pick p, template t;
SQL
  else
    psql -q -v ON_ERROR_STOP=1 "$DERBES_DATABASE_URL" <<SQL
CREATE TEMP TABLE pick AS SELECT id, gen_random_uuid() AS eid FROM subjects ORDER BY id LIMIT $expired;
UPDATE subjects SET created_at = '2012-09-01T04:00:00.000000Z' WHERE id IN (SELECT id FROM pick);
CREATE TEMP TABLE template AS SELECT event FROM consent_events LIMIT 1;
DELETE FROM consent_events;
INSERT INTO consent_events (subject_id, n, id, purpose, at, event)
SELECT p.id, 0, p.eid, 'analytics', '2012-09-01T04:00:00.000000Z',
  jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.event::jsonb, '{id}', to_jsonb(p.eid::text)),
    '{subject_id}', to_jsonb(p.id::text)), '{term,date}', '"2012-12-01"'), '{at}', '"2012-09-01T04:00:00Z"')::text
FROM pick p, template t;
ANALYZE;
SQL
  fi
elif [ "$backend" = sqlite ]; then
  echo "== collected in 2012; $expired left in 2014 (SQL beneath derbes)"
  sqlite3 "$dir/derbes.db" <<SQL
UPDATE subjects SET created_at = '2012-09-01T04:00:00.000000Z';
CREATE TEMP TABLE pick AS SELECT id, lower(hex(id)) AS h, randomblob(16) AS r FROM subjects ORDER BY id LIMIT $expired;
INSERT INTO lifecycle_events (subject_id, n, id, event)
SELECT id, 0, r, json_object('id', $(uuid "lower(hex(r))"), 'subject_id', $(uuid h), 'kind', 'relationship_ended',
  'on', '2014-06-01', 'recorded_at', '2026-12-07T00:00:00Z', 'recorded_by', 'admin:bench')
FROM pick;
SQL
else
  echo "== collected in 2012; $expired left in 2014 (SQL beneath derbes)"
  psql -q -v ON_ERROR_STOP=1 "$DERBES_DATABASE_URL" <<SQL
UPDATE subjects SET created_at = '2012-09-01T04:00:00.000000Z';
INSERT INTO lifecycle_events (subject_id, n, id, event)
SELECT s.id, 0, s.eid, json_build_object('id', s.eid, 'subject_id', s.id, 'kind', 'relationship_ended',
  'on', '2014-06-01', 'recorded_at', '2026-12-07T00:00:00Z', 'recorded_by', 'admin:bench')::text
FROM (SELECT id, gen_random_uuid() AS eid FROM subjects ORDER BY id LIMIT $expired) s;
ANALYZE;
SQL
fi

derbes() { "$bin" --data-dir "$dir" "$@"; }
rule=${RULE:-$(derbes retention scan --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max(r["expired"], key=lambda g: g["subjects"])["rule"])')}
echo "== propose and approve the batch of $rule on $backend"
/usr/bin/time -f "propose: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" retention propose "$rule" --as bench | tee "$dir/proposed.txt"
batch=$(grep -o 'batch [0-9a-f-]*' "$dir/proposed.txt" | head -1 | cut -d' ' -f2)
/usr/bin/time -f "approve: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" retention approve "$batch" --as bench
echo "== execute"
/usr/bin/time -f "run: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" retention run --as bench
echo "destruction log: $(wc -l < "$dir/destructions.log") line(s)"
derbes audit verify >/dev/null 2>&1 && echo "audit chain verifies" || echo "audit verify: see derbes audit verify"
if [ "$(grep -o 'depersonalize' "$dir/proposed.txt" | head -1)" = depersonalize ]; then
  echo "== release the records kept (k-anonymity)"
  /usr/bin/time -f "release: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" retention release "$rule" --format csv --out "$dir/release.csv"
  echo "released: $(($(wc -l < "$dir/release.csv") - 1)) record(s)"
fi
