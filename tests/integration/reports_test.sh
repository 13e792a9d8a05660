#!/usr/bin/env bash
# `mtasts reports ingest|summary|prune` end to end on a store: reports_test.sh MTASTS DB VECTORS
# (DB: a SQLite file name, or "postgres" for $MTASTS_TEST_POSTGRES_URL from with_postgres.py;
# VECTORS: tests/vectors/report_mail, whose *.expected.json say what each input holds).
set -u
mtasts=$1
db=$2
vectors=$3
[ "$db" = postgres ] && db=${MTASTS_TEST_POSTGRES_URL:?not set: run through with_postgres.py}
tmp=$(mktemp -d)
lmtp_pid=
trap '[ -n "$lmtp_pid" ] && kill "$lmtp_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
[ "${db#postgres}" = "$db" ] && db="$tmp/$db"
PY=/usr/bin/python3
pass=0
fail=0
run() {  # run NAME WANT_RC ARGS...
  local name=$1 want=$2
  shift 2
  timeout 120 "$mtasts" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass=$((pass + 1)); echo "ok: $name"
  else fail=$((fail + 1)); echo "FAIL: $name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err" | head -30; fi
}
has() {  # has NAME PYEXPR (d = the JSON on stdout, e = the expectations of the vectors)
  if "$PY" -S -c "
import json, os, sys
d = json.load(open('$tmp/out'))
e = json.load(open('$tmp/expected.json'))
sys.exit(0 if ($2) else 1)" 2>"$tmp/pyerr"; then
    pass=$((pass + 1)); echo "ok: $1"
  else fail=$((fail + 1)); echo "FAIL: $1"; head -c 3000 "$tmp/out"; echo; cat "$tmp/pyerr"; fi
}
grep_out() {  # grep_out NAME PATTERN: a line of the human output matches
  if grep -qE "$2" "$tmp/out"; then pass=$((pass + 1)); echo "ok: $1"
  else fail=$((fail + 1)); echo "FAIL: $1: no line matches $2"; head -40 "$tmp/out"; fi
}

# The golden inputs (not their expectations) in one directory; the sums they promise.
mkdir -p "$tmp/in"
for f in "$vectors"/*; do
  case "$f" in *.expected.json|*.py|*.md) ;; *) cp "$f" "$tmp/in/" ;; esac
done
"$PY" -S - "$vectors" >"$tmp/expected.json" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
out = {"valid": 0, "invalid": 0, "successful": 0, "failed": 0, "orgs": {}, "errors": {}}
for name in sorted(os.listdir(d)):
    if not name.endswith(".expected.json"):
        continue
    e = json.load(open(os.path.join(d, name)))
    if e["valid"]:
        out["valid"] += 1
        out["successful"] += e["successful"]
        out["failed"] += e["failed"]
        out["orgs"][e["organization"]] = out["orgs"].get(e["organization"], 0) + 1
    else:
        out["invalid"] += 1
        out["errors"][name.split(".")[0]] = e["error"]
print(json.dumps(out))
PYEOF

run "ingest before the domain is registered: refused" 1 reports ingest "$tmp/in/001-google-tlsrpt-gzip-base64.eml" --db "$db"
grep_out "refused line names the domain" "001-google.*: refused \[domain-not-registered\] .*example.com"
run "register example.com" 0 domain add example.com --mx mx1.example.com --db "$db"
run "ingest the golden mails and files: exit 1 (some are invalid)" 1 reports ingest "$tmp/in" --db "$db" --json
has "every valid one stored, every invalid one named" "d['stored'] == e['valid'] and d['invalid'] == e['invalid'] and d['duplicate'] == 0 and d['refused'] == 0 and d['failed'] == 0"
has "each invalid file carries its error code" "all(f['error']['code'] == e['errors'][os.path.basename(f['path']).split('.')[0]] for f in d['files'] if f['outcome'] == 'invalid')" 
run "ingest again: exit 0 only when nothing is invalid" 1 reports ingest "$tmp/in" --db "$db" --json
has "the second time everything valid is a duplicate" "d['stored'] == 0 and d['duplicate'] == e['valid']"
run "summary --json" 0 reports summary --db "$db" --json
has "one domain, each report counted once" "len(d['domains']) == 1 and d['domains'][0]['domain'] == 'example.com' and d['domains'][0]['reports'] == e['valid']"
has "session sums match the vectors" "d['domains'][0]['successful'] == e['successful'] and d['domains'][0]['failed'] == e['failed']"
has "success_rate" "abs(d['domains'][0]['success_rate'] - e['successful'] / (e['successful'] + e['failed'])) < 1e-9"
has "by organization: report counts per sender" "{k: v['reports'] for k, v in d['domains'][0]['by_organization'].items()} == e['orgs']"
has "by result type: every RFC 8460 type seen" "set(['starttls-not-supported','certificate-host-mismatch','certificate-expired','certificate-not-trusted','validation-failure','tlsa-invalid','dnssec-invalid','dane-required','sts-policy-fetch-error','sts-policy-invalid','sts-webpki-invalid']) <= set(d['domains'][0]['by_result_type'])"
has "by_result_type adds up to the failed sessions" "sum(d['domains'][0]['by_result_type'].values()) == e['failed']"
has "a verdict in words: failures make it unsafe" "d['domains'][0]['verdict_code'] == 'unsafe' and d['domains'][0]['verdict'].startswith('Not safe to enforce')"
has "top failures name sending IPs" "any(f['sending_mta_ips'] for f in d['domains'][0]['top_failures'])"
run "summary, human" 0 reports summary --db "$db" --domain example.com
grep_out "human summary: verdict line" "^  verdict: Not safe to enforce"
grep_out "human summary: Google listed" "Google Inc\."
run "summary --since tomorrow-ish: nothing" 0 reports summary --db "$db" --since 2030-01-01 --json
has "since filters by report start" "d['domains'] == []"
run "summary --domain with no reports" 0 reports summary --db "$db" --domain nothing.example --json
has "no-data verdict" "d['domains'][0]['reports'] == 0 and d['domains'][0]['verdict_code'] == 'no-data'"
run "summary --since nonsense: exit 1" 1 reports summary --db "$db" --since yesterday

# A clean domain over 7 days: the verdict says enforcing is safe.
"$PY" -S - "$tmp/clean" <<'PYEOF'
import gzip, json, os, sys
os.makedirs(sys.argv[1])
for i in range(8):
    day = "2026-11-%02d" % (10 + i)
    r = {"organization-name": "Google Inc.", "date-range": {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"},
         "contact-info": "smtp-tls-reporting@google.com", "report-id": day + "_clean.example@google.com",
         "policies": [{"policy": {"policy-type": "sts", "policy-domain": "clean.example"},
                       "summary": {"total-successful-session-count": 100, "total-failure-session-count": 0}}]}
    open(os.path.join(sys.argv[1], day + ".json.gz"), "wb").write(gzip.compress(json.dumps(r).encode()))
PYEOF
run "unregistered clean.example refused" 1 reports ingest "$tmp/clean" --db "$db"
run "--any-domain accepts it" 0 reports ingest "$tmp/clean" --db "$db" --any-domain
run "summary of the clean domain" 0 reports summary --db "$db" --domain clean.example --json
has "safe verdict after 8 clean days" "d['domains'][0]['verdict_code'] == 'safe' and d['domains'][0]['success_rate'] == 1.0 and len(d['domains'][0]['by_day']) == 8"

# Maildir: cur/ and new/ are read, tmp/ (mail being delivered) is not.
mkdir -p "$tmp/Maildir/cur" "$tmp/Maildir/new" "$tmp/Maildir/tmp"
"$PY" -S - "$tmp/Maildir" "$vectors/001-google-tlsrpt-gzip-base64.eml" <<'PYEOF'
import sys
src = open(sys.argv[2], "rb").read()
for sub, rid in (("cur", "maildir-cur"), ("new", "maildir-new"), ("tmp", "maildir-tmp")):
    data = src.replace(b"Report-ID: <", b"Report-ID: <" + rid.encode())
    open(f"{sys.argv[1]}/{sub}/1795300000.M1P1.host:2,S" if sub == "cur" else f"{sys.argv[1]}/{sub}/1795300000.M2P2.host", "wb").write(data)
PYEOF
run "Maildir: a known report again is a duplicate, tmp/ skipped" 0 reports ingest "$tmp/Maildir" --db "$db" --json
has "two files read (cur, new), tmp skipped" "len(d['files']) == 2 and d['duplicate'] == 2"

# Bad input: a 17 MB file, a missing path, an unusable store.
head -c 17000000 /dev/zero | tr '\0' 'a' >"$tmp/huge.eml"
run "a 17 MB file: invalid" 1 reports ingest "$tmp/huge.eml" --db "$db"
grep_out "too large, named" "huge.eml: invalid \[input-too-large\]"
run "missing path: exit 2" 2 reports ingest "$tmp/nope" --db "$db"
run "bad store: exit 2" 2 reports summary --db /nonexistent/dir/x.db

# Retention.
run "prune nothing recent" 0 reports prune --older-than 36500 --db "$db" --json
has "nothing deleted" "d['deleted'] == 0"
run "prune everything" 0 reports prune --older-than 0 --db "$db" --json
has "all reports deleted" "d['deleted'] == e['valid'] + 8"
run "summary after prune" 0 reports summary --db "$db" --json
has "empty" "d['domains'] == []"

# The LMTP daemon with --metrics: its counters move with a delivered and with a rejected report.
run "lmtp --metrics with a host name, not an address: exit 2" 2 reports lmtp --metrics nonsense --listen 127.0.0.1:0 --db "$db"
grep -q "listen-failed" "$tmp/err" && { pass=$((pass + 1)); echo "ok: the error names it"; } || { fail=$((fail + 1)); echo "FAIL: no listen-failed"; cat "$tmp/err"; }
"$mtasts" reports lmtp --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --db "$db" 2>"$tmp/lmtp.log" &
lmtp_pid=$!
for _ in $(seq 150); do grep -q "metrics on" "$tmp/lmtp.log" && break; sleep 0.2; done
lmtp_port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/lmtp.log")
metrics_port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/lmtp.log")
if [ -n "$lmtp_port" ] && [ -n "$metrics_port" ]; then pass=$((pass + 1)); echo "ok: lmtp --metrics starts and names both ports"
else fail=$((fail + 1)); echo "FAIL: lmtp --metrics did not start"; cat "$tmp/lmtp.log"; fi
if "$PY" -S - "$lmtp_port" "$metrics_port" "$vectors" <<'PYEOF'
import email.message, gzip, json, re, smtplib, sys, urllib.error, urllib.request
lmtp, port, vectors = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
failures = []
def check(name, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + name + ("" if cond else f": {detail}"))
    if not cond:
        failures.append(name)
def scrape():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return text, values
def deliver(mail):
    with smtplib.LMTP("127.0.0.1", lmtp, timeout=30) as c:
        try:
            refused = c.sendmail("noreply@sender.example", ["tlsrpt@example.com"], mail)
            return 250 if not refused else refused["tlsrpt@example.com"][0]
        except smtplib.SMTPDataError as e:
            return e.smtp_code
        except smtplib.SMTPRecipientsRefused as e:
            return e.recipients["tlsrpt@example.com"][0]
text, before = scrape()
check("/metrics answers Prometheus text", "# TYPE mtasts_reports_received_total counter" in text, text[:300])
stored = 'mtasts_reports_received_total{outcome="stored"}'
invalid = 'mtasts_reports_received_total{outcome="invalid"}'
reason = 'mtasts_reports_rejected_total{outcome="invalid",reason="mime-no-report"}'
report = {"organization-name": "LMTP Sender", "contact-info": "tlsrpt@sender.example", "report-id": "lmtp-metrics-1",
          "date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
          "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com"},
                        "summary": {"total-successful-session-count": 10, "total-failure-session-count": 0}}]}
msg = email.message.EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "tlsrpt@sender.example", "tlsrpt@example.com", "Report Domain: example.com"
msg["TLS-Report-Domain"], msg["TLS-Report-Submitter"] = "example.com", "sender.example"
msg.set_content("This is an aggregate TLS report.")
msg.add_attachment(gzip.compress(json.dumps(report).encode()), maintype="application", subtype="tlsrpt+gzip",
                   filename="sender.example!example.com!1795132800!1795219199.json.gz")
code = deliver(msg.as_bytes())
_, after = scrape()
check("a new report over LMTP: 250", code == 250, code)
check("stored counter +1", after.get(stored, 0) == before.get(stored, 0) + 1, (before.get(stored), after.get(stored)))
check("connections counted", after.get("mtasts_lmtp_connections_total", 0) >= before.get("mtasts_lmtp_connections_total", 0) + 1, after)
code = deliver(open(f"{vectors}/010-err-no-report.eml", "rb").read())
_, last = scrape()
check("a mail without a report: 554", code == 554, code)
check("invalid counter +1", last.get(invalid, 0) == after.get(invalid, 0) + 1, (after.get(invalid), last.get(invalid)))
check("rejected counter names the reason", last.get(reason, 0) == after.get(reason, 0) + 1, sorted(k for k in last if "rejected" in k))
check("stored counter unchanged by the rejection", last.get(stored) == after.get(stored))
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
    check("another path: 404", False, "answered 200")
except urllib.error.HTTPError as e:
    check("another path: 404", e.code == 404, e.code)
sys.exit(1 if failures else 0)
PYEOF
then pass=$((pass + 1)); echo "ok: lmtp metrics"
else fail=$((fail + 1)); echo "FAIL: lmtp metrics"; cat "$tmp/lmtp.log"; fi
kill "$lmtp_pid" 2>/dev/null
wait "$lmtp_pid" 2>/dev/null
grep -q "lmtp: stopped" "$tmp/lmtp.log" && { pass=$((pass + 1)); echo "ok: lmtp stops on SIGTERM"; } || { fail=$((fail + 1)); echo "FAIL: lmtp did not stop cleanly"; cat "$tmp/lmtp.log"; }

echo "reports ($([ "${db#postgres}" = "$db" ] && echo sqlite || echo postgresql)): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
