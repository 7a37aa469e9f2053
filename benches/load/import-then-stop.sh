# Sourced by the retention load scripts, with `count`, `backend` and `port` set: a database of
# its own on PostgreSQL (dropped at exit), `count` subjects imported through derbes
# (import-and-serve.sh), then the server stopped so that SQL can write beneath derbes. Sets
# what import-and-serve.sh sets, and `uuid`, which turns SQLite's 32 hex digits into a UUID's
# text.
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
if [ "$backend" = postgres ]; then
  db="derbes_bench_$$"
  psql -q "$pg_admin" -c "CREATE DATABASE $db"
  export DERBES_DATABASE_URL="${pg_admin%/*}/$db"
fi
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
kill "$server"; wait "$server" 2>/dev/null || true
server=
if [ "$backend" = postgres ]; then
  trap 'rm -rf "$dir"; psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db"' EXIT
fi
uuid() { echo "substr($1,1,8)||'-'||substr($1,9,4)||'-'||substr($1,13,4)||'-'||substr($1,17,4)||'-'||substr($1,21,12)"; }
