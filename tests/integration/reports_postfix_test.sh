#!/usr/bin/env bash
# End to end with a real Postfix: mail to the rua mailbox goes in over SMTP, Postfix delivers it
# with LMTP to `mtasts reports lmtp`, the report lands in the store; a refused and a broken report
# bounce with mtasts' 5xx. Everything on 127.0.0.1, a private Postfix instance in a temp dir.
#   reports_postfix_test.sh MTASTS VECTORS    (needs root and the postfix package)
set -u
mtasts=$1
vectors=$2
PY=/usr/bin/python3
tmp=$(mktemp -d)
chmod 755 "$tmp"
pf="$tmp/postfix"
lmtp_pid=
cleanup() {
  [ -f "$pf/main.cf" ] && postfix -c "$pf" stop >/dev/null 2>&1
  [ -n "$lmtp_pid" ] && kill "$lmtp_pid" 2>/dev/null && wait "$lmtp_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
# wait_for SECONDS CMD...: poll (no fixed sleeps as the check), bounded.
wait_for() {
  local limit=$1
  shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
db="$tmp/reports.db"
"$mtasts" domain add example.com --mx mx1.example.com --db "$db" >/dev/null || { echo "FAIL: domain add"; exit 1; }

# 1. mtasts reports lmtp on a free port.
"$mtasts" reports lmtp --listen 127.0.0.1:0 --db "$db" --hostname lmtp.test 2>"$tmp/lmtp.log" &
lmtp_pid=$!
wait_for 30 grep -q "listening on" "$tmp/lmtp.log" || { echo "FAIL: lmtp did not start"; cat "$tmp/lmtp.log"; exit 1; }
lmtp_port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/lmtp.log")
smtp_port=$("$PY" -S -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
echo "lmtp on $lmtp_port, postfix smtpd on $smtp_port"

# 2. A private Postfix: smtpd on loopback, example.com delivered by LMTP to mtasts.
mkdir -p "$pf/queue" "$pf/data"
chown postfix "$pf/data"  # master.lock and the caches; the queue subdirectories Postfix makes itself
cat >"$pf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.com
virtual_transport = lmtp:inet:127.0.0.1:$lmtp_port
lmtp_host_lookup = native
smtp_host_lookup = native
alias_maps =
alias_database =
smtputf8_enable = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
CF
cat >"$pf/master.cf" <<CF
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
if ! postfix -c "$pf" start >"$tmp/postfix-start.log" 2>&1; then
  echo "FAIL: postfix did not start"; cat "$tmp/postfix-start.log" "$pf/maillog" 2>/dev/null; exit 1
fi
wait_for 30 "$PY" -S -c "import socket; socket.create_connection(('127.0.0.1', $smtp_port), 1)" \
  || { echo "FAIL: postfix smtpd not listening"; cat "$tmp/postfix-start.log" "$pf/maillog" 2>/dev/null; exit 1; }
ok "postfix started"

# 3. Mail: the Google report, the same again, one for an unregistered domain, one without report.
send() {  # send FILE [REPLACE_FROM REPLACE_TO]
  "$PY" -S - "$smtp_port" "$@" <<'PYEOF'
import smtplib, sys, gzip, base64, re
port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
if len(sys.argv) > 4:  # rewrite the report inside: policy-domain -> another domain
    m = re.search(rb"Content-Transfer-Encoding: base64\r\n\r\n(.*?)\r\n--", data, re.S)
    report = gzip.decompress(base64.b64decode(m.group(1))).replace(sys.argv[3].encode(), sys.argv[4].encode())
    report = report.replace(b'"report-id":"', b'"report-id":"other-')
    enc = base64.encodebytes(gzip.compress(report)).replace(b"\n", b"\r\n").rstrip()
    data = data[:m.start(1)] + enc + data[m.end(1):]
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.sendmail("noreply-smtp-tls-reporting@google.test", ["tlsrpt@example.com"], data)
PYEOF
}
send "$vectors/001-google-tlsrpt-gzip-base64.eml" && ok "sent the Google report" || bad "sending the Google report"
stored() {
  "$mtasts" reports summary --db "$db" --json >"$tmp/summary" 2>/dev/null &&
    "$PY" -S -c "import json,sys; d=json.load(open('$tmp/summary')); sys.exit(0 if d['domains'] and d['domains'][0]['reports'] == $1 else 1)"
}
if wait_for 60 stored 1; then ok "Postfix delivered over LMTP; the report is in the store"
else bad "the report did not arrive"; tail -20 "$pf/maillog" "$tmp/lmtp.log"; fi
wait_for 30 grep -q "status=sent (250 2.0.0 report" "$pf/maillog" && ok "Postfix logged mtasts' 250" || { bad "no 250 in the maillog"; tail -20 "$pf/maillog"; }

send "$vectors/001-google-tlsrpt-gzip-base64.eml" && ok "sent it again"
wait_for 60 grep -q "was already stored" "$pf/maillog" && ok "the second copy: 250 already stored" || { bad "no duplicate answer"; tail -20 "$pf/maillog"; }
stored 1 && ok "still one report in the store" || bad "stored twice"

send "$vectors/001-google-tlsrpt-gzip-base64.eml" example.com other.example && ok "sent a report for other.example"
wait_for 60 grep -q "status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.7.1 domain-not-registered" "$pf/maillog" \
  && ok "refused: Postfix bounced with mtasts' 550 5.7.1" || { bad "no 550 bounce"; tail -20 "$pf/maillog"; }

send "$vectors/010-err-no-report.eml" && ok "sent a mail without a report"
wait_for 60 grep -q "said: 554 5.6.0 mime-no-report" "$pf/maillog" \
  && ok "invalid: Postfix bounced with mtasts' 554 5.6.0" || { bad "no 554 bounce"; tail -20 "$pf/maillog"; }
stored 1 && ok "nothing else stored" || bad "something else was stored"
grep -q "lmtp: stored Google Inc." "$tmp/lmtp.log" && ok "mtasts logged the delivery" || { bad "no log line"; cat "$tmp/lmtp.log"; }

echo "reports postfix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
