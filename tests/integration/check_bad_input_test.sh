#!/usr/bin/env bash
# `mtasts check` with bad input and a broken network: every case ends (a hang guard of 60 s
# wraps each run), with a finding or a clear error, never a crash.
#   check_bad_input_test.sh /path/to/mtasts
set -u
mtasts=$1
tmp=$(mktemp -d)
udp_pid=
cleanup() { [ -n "$udp_pid" ] && kill "$udp_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0
fail=0
PY=/usr/bin/python3

# run NAME WANT_RC ARGS...: runs mtasts check, keeps stdout in $tmp/out.
run() {
  local name=$1 want=$2
  shift 2
  timeout 60 "$mtasts" check "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    pass=$((pass + 1)); echo "ok: $name"
  else
    fail=$((fail + 1)); echo "FAIL: $name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err" | head -20
  fi
}
# has NAME PYEXPR: the JSON on stdout satisfies PYEXPR (d is the document).
has() {
  if "$PY" -S -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
    pass=$((pass + 1)); echo "ok: $1"
  else
    fail=$((fail + 1)); echo "FAIL: $1"; head -c 2000 "$tmp/out"; echo
  fi
}
codes='[f["code"] for f in d["findings"]]'

# A port where nothing listens: DNS queries are refused at once.
closed=$("$PY" -S -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A DNS "server" that reads and never answers: every query times out.
"$PY" -S -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True: s.recvfrom(4096)
' >"$tmp/udp.port" &
udp_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/udp.port" ] && break; sleep 0.05; done
silent=$(cat "$tmp/udp.port")

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
common=(--ca-file "$tmp/ca.pem" --timeout 2 --connect-to :443:127.0.0.1:$closed --connect-to :25:127.0.0.1:$closed)

run "invalid name: exit 1" 1 "not a domain" --json --dns-server 127.0.0.1:$closed "${common[@]}"
has "invalid name: domain-invalid" "'domain-invalid' in $codes and d['status'] == 'error'"
long=$(printf 'a%.0s.' $(seq 1 130))com
run "name over 253 octets: exit 1" 1 "$long" --json --dns-server 127.0.0.1:$closed "${common[@]}"
has "name over 253 octets: domain-invalid" "'domain-invalid' in $codes"
run "empty label: exit 1" 1 "a..example.test" --json --dns-server 127.0.0.1:$closed "${common[@]}"
has "empty label: domain-invalid" "'domain-invalid' in $codes"
run "DNS refused: exit 1" 1 example.test --json --dns-server 127.0.0.1:$closed "${common[@]}"
has "DNS refused: dns-error, not sts-record-missing" "'dns-error' in $codes and 'sts-record-missing' not in $codes"
run "DNS silent (timeouts): exit 1" 1 example.test --json --dns-server 127.0.0.1:$silent "${common[@]}"
has "DNS silent: dns-error" "'dns-error' in $codes"
run "several domains, one invalid: array in input order" 1 "bad name" example.test --json \
  --dns-server 127.0.0.1:$closed "${common[@]}"
has "array in input order" "isinstance(d, list) and d[0]['domain'] == 'bad name' and d[1]['domain'] == 'example.test'"
run "--jsonl streams one line per domain" 1 a.test b.test --jsonl --dns-server 127.0.0.1:$closed "${common[@]}"
if [ "$(wc -l <"$tmp/out")" -eq 2 ]; then pass=$((pass + 1)); echo "ok: two JSON lines"; else fail=$((fail + 1)); echo "FAIL: jsonl lines"; fi
run "--csv header and rows" 1 a.test --csv --dns-server 127.0.0.1:$closed "${common[@]}"
if head -1 "$tmp/out" | grep -q '^domain,status,code,severity,message,fix$'; then pass=$((pass + 1)); echo "ok: csv header"; else fail=$((fail + 1)); echo "FAIL: csv header"; fi
printf 'a.test\n# a comment\n\nb.test\n' >"$tmp/list"
run "--from-file with comments" 1 --from-file "$tmp/list" --json --dns-server 127.0.0.1:$closed "${common[@]}"
has "--from-file read two domains" "len(d) == 2"

# Usage and I/O errors: exit 2, nothing on stdout.
run "no domain: exit 2" 2
run "bad --dns-server: exit 2" 2 example.test --dns-server 'not an address:x'
run "bad --connect-to: exit 2" 2 example.test --connect-to 'a:b'
run "missing --ca-file: exit 2" 2 example.test --ca-file "$tmp/none.pem"
run "missing --from-file: exit 2" 2 --from-file "$tmp/none.txt"
run "bad --timeout: exit 2" 2 example.test --timeout 0
echo "{not json" >"$tmp/state.json"
run "corrupt --state: exit 2" 2 example.test --state "$tmp/state.json" --dns-server 127.0.0.1:$closed

echo "check-bad-input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
