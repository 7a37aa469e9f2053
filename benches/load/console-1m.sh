#!/usr/bin/env bash
# The console's pages with 1,000,000 subjects and 100,000 requests stored: wrk on loopback
# against each page, signed in as the DPO (and as a staff member of `education` for Today and the
# queue, which select the requests their purposes reach), with the health check as the reference
# in the same run.
# Usage: benches/load/console-1m.sh [subjects] [requests] [seconds per page]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-1000000}
requests=${2:-100000}
seconds=${3:-10}
port=${PORT:-18083}
# shellcheck source=import-and-serve.sh
. benches/load/import-and-serve.sh
otp=$("$bin" --data-dir "$dir" users create dpo --role dpo --name "Әлия Серікова")
staff_otp=$("$bin" --data-dir "$dir" users create staff --role staff --purpose education --name "Болат Ахметов")
sqlite3 "$dir/derbes.db" "SELECT lower(hex(id)) FROM subjects ORDER BY random() LIMIT $requests" \
  | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/' > "$dir/ids.txt"
eval "$(python3 benches/load/console.py "http://127.0.0.1:$port" "$token" "$dir/ids.txt" "$requests" "$otp" "$staff_otp")"
page() {
  printf '%s: ' "$1${2:+ ($2)}"
  wrk -t1 -c4 -d"${seconds}s" --latency -H "Cookie: derbes-session=${3:-$cookie}" "http://127.0.0.1:$port$1" \
    | awk '/Requests\/sec/ {rps=$2} $1 == "50%" {p50=$2} $1 == "99%" {p99=$2} /Non-2xx/ {bad=$0} END {print rps " req/s, p50 " p50 ", p99 " p99 (bad ? ", " bad : "")}'
}
echo "== pages, 4 connections, ${seconds} s each"
page /api/v1/health
page /console
page /console/requests
page "/console/requests?due=overdue"
page "/console/requests/$request"
page "/console/subjects/$subject?purpose=education"
page /console/audit
page /console/policy
page /console/account
page /console/reconfirmations
page /console staff "$staff_cookie"
page /console/requests staff "$staff_cookie"
