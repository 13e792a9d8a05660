#!/usr/bin/env bash
# kill -9 in the middle of a bulk ingest, then the same ingest again: every report whose line
# was printed (acknowledged) is in the store, and nothing is stored twice.
#   reports_kill_test.sh MTASTS DB MAKE_REPORTS_PY   (DB: a SQLite file name, or "postgres")
set -u
mtasts=$1
db=$2
make_reports=$3
[ "$db" = postgres ] && db=${MTASTS_TEST_POSTGRES_URL:?not set: run through with_postgres.py}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ "${db#postgres}" = "$db" ] && db="$tmp/$db"
n=6000
fail=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fail=$((fail + 1)); fi
}

/usr/bin/python3 -S "$make_reports" "$tmp/in" "$n"
# Small batches: many commits, so the kill lands between and inside transactions.
"$mtasts" reports ingest "$tmp/in" --db "$db" --any-domain --batch 25 >"$tmp/first" 2>"$tmp/first.err" &
pid=$!
# Wait (bounded) until a good part has been acknowledged, then kill -9.
for _ in $(seq 1 6000); do
  [ "$(grep -c ': stored ' "$tmp/first")" -ge 500 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid"
rc=$?
acked=$(grep -c ': stored ' "$tmp/first")
echo "first run: exit $rc, $acked of $n acknowledged before the kill"
check "the first run was killed, not finished" [ "$rc" -eq 137 ]
check "it had acknowledged some reports" [ "$acked" -ge 500 ]
check "and not all of them" [ "$acked" -lt "$n" ]

timeout 600 "$mtasts" reports ingest "$tmp/in" --db "$db" --any-domain >"$tmp/second" 2>"$tmp/second.err"
rc=$?
check "the second run succeeds" [ "$rc" -eq 0 ]
# Every path acknowledged the first time is a duplicate the second time: it was on disk.
grep ': stored ' "$tmp/first" | sed 's/: stored .*//' | sort >"$tmp/acked"
grep ': duplicate ' "$tmp/second" | sed 's/: duplicate .*//' | sort >"$tmp/dups"
check "every acknowledged report survived the kill" [ -z "$(comm -23 "$tmp/acked" "$tmp/dups")" ]
stored2=$(grep -c ': stored ' "$tmp/second")
dup2=$(grep -c ': duplicate ' "$tmp/second")
echo "second run: $stored2 stored, $dup2 duplicate"
check "second run accounts for every file" [ $((stored2 + dup2)) -eq "$n" ]
"$mtasts" reports summary --db "$db" --json >"$tmp/summary"
reports=$(/usr/bin/python3 -S -c "import json; print(sum(d['reports'] for d in json.load(open('$tmp/summary'))['domains']))")
check "the store holds each report exactly once ($reports of $n)" [ "$reports" -eq "$n" ]

echo "reports kill: $([ $fail -eq 0 ] && echo passed || echo "$fail failed")"
[ "$fail" -eq 0 ]
