#!/usr/bin/env bash
# `mtasts domain` end to end on a store: domain_test.sh MTASTS DB
# (DB: a SQLite path, or the PostgreSQL URL in $MTASTS_TEST_POSTGRES_URL when DB is "postgres").
set -u
mtasts=$1
db=$2
[ "$db" = postgres ] && db=${MTASTS_TEST_POSTGRES_URL:?not set: run through with_postgres.py}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ "${db#postgres}" = "$db" ] && db="$tmp/$db"
PY=/usr/bin/python3
pass=0
fail=0
run() {  # run NAME WANT_RC ARGS...
  local name=$1 want=$2
  shift 2
  timeout 60 "$mtasts" domain "$@" --db "$db" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass=$((pass + 1)); echo "ok: $name"
  else fail=$((fail + 1)); echo "FAIL: $name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err" | head -20; fi
}
has() {  # has NAME PYEXPR (d = the JSON on stdout)
  if "$PY" -S -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
    pass=$((pass + 1)); echo "ok: $1"
  else fail=$((fail + 1)); echo "FAIL: $1"; head -c 2000 "$tmp/out"; echo; fi
}

run "add" 0 add Example.COM --mx mx1.example.com --mx '*.mx.example.net' --rua mailto:tlsrpt@example.com --json
has "add: normalized name, testing, version 1" "d['domain'] == 'example.com' and d['policy']['mode'] == 'testing' and d['version'] == 1 and d['created'] is True"
id1=$("$PY" -S -c "import json; print(json.load(open('$tmp/out'))['id'])")
has "add: the TXT record to publish" "d['records'][0] == {'name': '_mta-sts.example.com', 'type': 'TXT', 'value': 'v=STSv1; id=$id1;'}"
run "add twice: exit 1" 1 add example.com --mx mx1.example.com
run "add without mx: exit 1" 1 add other.example --json
has "add without mx: mx-missing" "d['errors'][0]['code'] == 'mx-missing'"
run "add bad name: exit 1" 1 add "not a domain" --mx mx1.example.com
run "set mode enforce" 0 set example.com --mode enforce --max-age 1209600 --json
has "set: new version and id" "d['version'] == 2 and d['policy_changed'] and d['previous_id'] == '$id1' and d['id'] != '$id1'"
run "set rua only: id stays" 0 set example.com --rua mailto:other@example.com --json
has "set rua: policy unchanged" "d['version'] == 2 and not d['policy_changed']"
run "set unknown: exit 1" 1 set nope.example --mode none
run "list" 0 list --json
has "list: one domain" "len(d) == 1 and d[0]['policy']['max_age'] == 1209600"
run "show (no live lookups)" 0 show example.com --no-live --json
has "show: history of two versions" "[h['version'] for h in d['history']] == [1, 2]"
run "remove while enforcing: refused" 1 remove example.com --json
has "remove: unsafe-remove" "d['errors'][0]['code'] == 'unsafe-remove'"
run "mode none" 0 set example.com --mode none
run "remove" 0 remove example.com
run "list: empty" 0 list --json
has "list: empty array" "d == []"
run "add again: versions continue" 0 add example.com --mx mx1.example.com --json
has "add again: version 4" "d['version'] == 4"
# Bulk: JSON Lines in, CSV out, CSV back in: nothing changes, ids stay.
printf '%s\n' '{"domain":"a.example","mode":"enforce","max_age":604800,"mx":["mx1.a.example","*.mx.example.net"],"rua":["mailto:r@a.example"]}' \
  '{"domain":"b.example","mx":["mx.b.example"]}' '{bad' '{"domain":"c.example","mode":"enforce"}' \
  '{"domain":"d.example","mode":"none"}' >"$tmp/in.jsonl"
run "import with two bad lines: exit 1" 1 import "$tmp/in.jsonl" --json
has "import: 3 added, 2 failed with line numbers" "d['added'] == 3 and d['failed'] == 2 and [e['line'] for e in d['errors']] == [3, 4]"
timeout 60 "$mtasts" domain export --db "$db" --format csv >"$tmp/all.csv" 2>"$tmp/err"
if [ "$(head -1 "$tmp/all.csv")" = "domain,mode,max_age,mx,rua" ] && [ "$(wc -l <"$tmp/all.csv")" -eq 5 ]; then
  pass=$((pass + 1)); echo "ok: export csv"
else fail=$((fail + 1)); echo "FAIL: export csv"; cat "$tmp/all.csv"; fi
run "re-import the export: all unchanged" 0 import "$tmp/all.csv" --json
has "re-import: 4 unchanged" "d['unchanged'] == 4 and d['added'] == 0 and d['changed'] == 0"
run "bad store location: exit 2" 2 list --db /nonexistent/dir/x.db

echo "domain ($("$mtasts" domain list --db "$db" --json >/dev/null 2>&1 && echo "${db%%:*}")): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
