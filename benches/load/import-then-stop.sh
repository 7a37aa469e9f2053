# Sourced by the retention load scripts, with `count`, `backend` and `port` set: `count`
# subjects imported through derbes (import-and-serve.sh, on a database of its own on
# PostgreSQL), then the server stopped so that SQL can write beneath derbes. Sets what
# import-and-serve.sh sets, and `uuid`, which turns SQLite's 32 hex digits into a UUID's text.
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
stop_server
uuid() { echo "substr($1,1,8)||'-'||substr($1,9,4)||'-'||substr($1,13,4)||'-'||substr($1,17,4)||'-'||substr($1,21,12)"; }
