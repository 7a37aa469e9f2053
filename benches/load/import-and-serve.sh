# Sourced by the 1M-subject load scripts, with `count` and `port` set: builds derbes, generates
# `count` subjects, starts derbes once (key file, first admin token in `$token`), imports them
# (time and peak memory printed), and serves them. Sets `bin`, `dir` and `server`; the trap stops
# the server and removes `dir`. With `backend=postgres`: on a PostgreSQL database of its own
# (`$DERBES_DATABASE_URL`, made from PG_ADMIN_URL), dropped at exit.
# BENCH_BIN: a derbes already built (to compare builds); otherwise the release build, made here.
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release -q; fi
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/derbes}
dir=$(mktemp -d)
# The load comes from one address with one token: the rate limits are off for it. The console
# is reached over plain HTTP on loopback: its cookie without `Secure`.
printf '[limits]\ntoken_requests_per_second = 0\naddress_requests_per_second = 0\n[console]\nsecure_cookies = false\n' > "$dir/bench.toml"
export DERBES_CONFIG="$dir/bench.toml"
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
db=
if [ "${backend:-sqlite}" = postgres ]; then
  db="derbes_bench_$$"
  psql -q "$pg_admin" -c "CREATE DATABASE $db"
  export DERBES_DATABASE_URL="${pg_admin%/*}/$db"
fi
stop_server() { if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; server=; }
trap 'stop_server; rm -rf "$dir"; if [ -n "$db" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db"; fi' EXIT
wait_serving() { for _ in $(seq 1 100); do grep -q "serving" "$1" && break; sleep 0.1; done; }
category=${CATEGORY:-student}
"$bin" generate --count "$count" --category "$category" --out "$dir/subjects.csv"
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/first.log" 2>&1 &
server=$!
wait_serving "$dir/first.log"
token=$(cat "$dir/first-admin-token" 2>/dev/null || grep -o 'dbs_[A-Za-z0-9_-]*' "$dir/first.log" | head -1)
kill $server; wait $server 2>/dev/null || true
echo "== import $count subjects"
/usr/bin/time -f "import: %e s wall, %M KiB peak RSS" "$bin" --data-dir "$dir" import "$dir/subjects.csv" --category "$category"
"$bin" --data-dir "$dir" serve --listen "127.0.0.1:$port" > "$dir/serve.log" 2>&1 &
server=$!
wait_serving "$dir/serve.log"
