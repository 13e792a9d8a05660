#!/usr/bin/env bash
# Self-test of mtasts-testd (tests/harness/testd/README.md): starts it with one listener per
# behaviour and checks each from the outside with curl, openssl s_client and bash /dev/tcp.
# Usage: bash testd_selftest.sh /path/to/mtasts-testd
# Offline, loopback only. No fixed sleeps: readiness is polled with a deadline, and every client
# runs under `timeout`. Prints `testd: N passed, M failed`; exits 1 on any failure, 2 on setup.
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash testd_selftest.sh /path/to/mtasts-testd" >&2
  exit 2
fi
case $1 in
  /*) TESTD=$1 ;;
  *) TESTD=$PWD/$1 ;;
esac
for tool in curl openssl python3 timeout; do
  command -v "$tool" >/dev/null || { echo "testd_selftest.sh: $tool is required" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mtasts-testd.XXXXXX") || exit 2
TESTD_PID=""
cleanup() {
  if [ -n "$TESTD_PID" ]; then
    kill -TERM "$TESTD_PID" 2>/dev/null
    wait "$TESTD_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
cd "$TMP" || exit 2
export LC_ALL=C

PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1: $2"; }
check() {  # check NAME CONDITION-EXIT-CODE REASON
  if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "$3"; fi
}

# ---------------------------------------------------------------------------------------------
# A throwaway PKI: root -> intermediate -> leaf (ECDSA P-256). The listeners serve leaf +
# intermediate, clients trust only the root, so the chain file is really used.

cat >ca.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.example.test, DNS:mx1.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
make_pki() {
  local k
  for k in root int leaf; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key || return 1
  done
  openssl req -new -x509 -config ca.cnf -extensions root -key root.key -sha256 -days 2 \
    -subj "/CN=testd selftest root" -out root.pem || return 1
  openssl req -new -config ca.cnf -key int.key -subj "/CN=testd selftest intermediate" \
    -out int.csr || return 1
  openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 2 -sha256 -days 2 \
    -extfile ca.cnf -extensions intermediate -out int.pem || return 1
  openssl req -new -config ca.cnf -key leaf.key -subj "/CN=mta-sts.example.test" \
    -out leaf.csr || return 1
  openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial 3 -sha256 -days 2 \
    -extfile ca.cnf -extensions leaf -out leaf.pem || return 1
  cat leaf.pem int.pem >chain.pem
}
make_pki >pki.log 2>&1 || { cat pki.log; echo "testd_selftest.sh: cannot make certificates" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Config: one listener per behaviour.

POLICY='version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n'
https() {  # https NAME BEHAVIOUR
  printf '{"name": "%s", "kind": "https", "listen": "127.0.0.1:0", "cert": "%s", "key": "%s", "behaviour": "%s", "body": "%s"},\n' \
    "$1" "$TMP/chain.pem" "$TMP/leaf.key" "$2" "$POLICY"
}
smtp() {  # smtp NAME BEHAVIOUR [EXTRA-JSON]
  printf '{"name": "%s", "kind": "smtp", "listen": "127.0.0.1:0", "hostname": "mx1.example.test", "cert": "%s", "key": "%s", "behaviour": "%s"%s},\n' \
    "$1" "$TMP/chain.pem" "$TMP/leaf.key" "$2" "${3:-}"
}
MINT_POLICY='version: STSv1\r\nmode: enforce\r\nmx: mx1.{domain}\r\nmx: {host}.{x}\r\nmax_age: 86400\r\n'
printf '# minted before the ready file\nmta-sts.pre.mint.test\n\nMTA-STS.Pre2.Mint.Test\n' >names.txt
HTTPS_BEHAVIOURS="ok 404 500 redirect html large drip reset h2only garbage never-close huge no-content-type head-differs"
SMTP_BEHAVIOURS="starttls no-starttls tls10-only silent garbage starttls-refused close-after-banner"
{
  echo '{"listeners": ['
  for b in $HTTPS_BEHAVIOURS; do https "https-$b" "$b"; done
  for b in $SMTP_BEHAVIOURS; do smtp "smtp-$b" "$b"; done
  smtp smtp-idle starttls ', "idle_timeout_s": 1'
  echo '{"name": "https-ipv4-any-port", "kind": "https", "listen": "127.0.0.1:0", "cert": "'"$TMP/chain.pem"'", "key": "'"$TMP/leaf.key"'"},'
  # Certificates minted per SNI name under .mint.test (no fallback certificate for https; the
  # example.test one for smtp), one policy template for every host.
  echo '{"name": "https-mint", "kind": "https", "listen": "127.0.0.1:0", "mint": {"ca_cert": "'"$TMP/int.pem"'", "ca_key": "'"$TMP/int.key"'", "suffix": ".mint.test", "names_file": "'"$TMP/names.txt"'"}, "body": "'"$MINT_POLICY"'"},'
  echo '{"name": "smtp-mint", "kind": "smtp", "listen": "127.0.0.1:0", "hostname": "mx.mint.test", "cert": "'"$TMP/chain.pem"'", "key": "'"$TMP/leaf.key"'", "mint": {"ca_cert": "'"$TMP/int.pem"'", "ca_key": "'"$TMP/int.key"'", "suffix": ".mint.test"}}'
  echo ']}'
} >config.json

# A mint listener without its CA key, or minting a names file entry outside its suffix: exit 2.
echo '{"listeners": [{"name": "m", "kind": "https", "mint": {"ca_cert": "'"$TMP/int.pem"'"}}]}' >bad.json
timeout 10 "$TESTD" --config bad.json --ready bad.ready 2>bad.err
rc=$?
[ $rc -eq 2 ] && [ ! -e bad.ready ] && grep -q ca_key bad.err
check "mint without ca_key exits 2" $? "rc=$rc, stderr: $(cat bad.err)"
echo 'mta-sts.elsewhere.test' >bad-names.txt
echo '{"listeners": [{"name": "m", "kind": "https", "mint": {"ca_cert": "'"$TMP/int.pem"'", "ca_key": "'"$TMP/int.key"'", "suffix": ".mint.test", "names_file": "'"$TMP/bad-names.txt"'"}}]}' >bad.json
timeout 10 "$TESTD" --config bad.json --ready bad.ready 2>bad.err
rc=$?
[ $rc -eq 2 ] && [ ! -e bad.ready ] && grep -q elsewhere bad.err
check "mint names file outside the suffix exits 2" $? "rc=$rc, stderr: $(cat bad.err)"

# A bad config is refused with exit 2 before anything is bound.
echo '{"listeners": [{"name": "x", "kind": "https", "behaviour": "teapot", "cert": "a", "key": "b"}]}' >bad.json
timeout 10 "$TESTD" --config bad.json --ready bad.ready 2>bad.err
rc=$?
[ $rc -eq 2 ] && [ ! -e bad.ready ] && grep -q teapot bad.err
check "bad config exits 2" $? "rc=$rc, stderr: $(cat bad.err)"

"$TESTD" --config config.json --ready ready.json 2>testd.log &
TESTD_PID=$!
deadline=$((SECONDS + 15))
until [ -s ready.json ]; do
  if ! kill -0 "$TESTD_PID" 2>/dev/null; then
    echo "testd_selftest.sh: mtasts-testd exited early:" >&2; cat testd.log >&2; exit 2
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "testd_selftest.sh: no ready file after 15 s" >&2; cat testd.log >&2; exit 2
  fi
  sleep 0.05
done
declare -A PORT
while read -r name port; do PORT[$name]=$port; done < <(python3 -c '
import json, sys
for name, port in json.load(open(sys.argv[1]))["listeners"].items():
    print(name, port)' ready.json)
[ ${#PORT[@]} -eq 25 ]
check "ready file lists every listener" $? "got ${#PORT[@]}: $(cat ready.json)"

# ---------------------------------------------------------------------------------------------
# HTTPS

HOST=mta-sts.example.test
POLICY_PATH=/.well-known/mta-sts.txt
fetch() {  # fetch NAME [curl args...]: sets RC, CODE, CTYPE, SIZE; body in body.out, stderr in curl.err
  local name=$1 port=${PORT[$1]}
  shift
  CODE=$(timeout 20 curl -sS --cacert root.pem --resolve "$HOST:$port:127.0.0.1" \
    -o body.out -D headers.out -w '%{http_code} %{size_download} %{content_type}' \
    "$@" "https://$HOST:$port$POLICY_PATH" 2>curl.err)
  RC=$?
  read -r CODE SIZE CTYPE <<<"$CODE"
}

fetch https-ok
printf '%b' "$POLICY" >expected.txt
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && [ "$CTYPE" = text/plain ] && cmp -s body.out expected.txt
check "https ok: 200 text/plain policy, chain verifies against the root" $? \
  "rc=$RC code=$CODE type=$CTYPE $(cat curl.err)"

out=$(timeout 20 curl -sS --cacert root.pem --resolve "$HOST:${PORT[https-ok]}:127.0.0.1" \
  -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
  "https://$HOST:${PORT[https-ok]}/other" "https://$HOST:${PORT[https-ok]}$POLICY_PATH" 2>&1)
[ "${out//$'\n'/ }" = "404 1 200 0" ]
check "https ok: 404 for other paths, keep-alive reuses the connection" $? "$out"

# The client allows TLS 1.1 (security level 0), so a failure is the server's refusal.
timeout 20 openssl s_client -connect "127.0.0.1:${PORT[https-ok]}" -servername $HOST \
  -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >sclient.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'alert protocol version' sclient.out
check "https ok: TLS 1.1 refused" $? "rc=$rc $(tail -5 sclient.out)"

fetch https-404
[ $RC -eq 0 ] && [ "$CODE" = 404 ]
check "https 404" $? "rc=$RC code=$CODE"

fetch https-500
[ $RC -eq 0 ] && [ "$CODE" = 500 ]
check "https 500" $? "rc=$RC code=$CODE"

fetch https-redirect
[ $RC -eq 0 ] && [ "$CODE" = 301 ] &&
  grep -qi '^location: https://elsewhere.example.test/.well-known/mta-sts.txt' headers.out
check "https redirect: 301 with Location" $? "rc=$RC code=$CODE $(cat headers.out)"

fetch https-html
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && [ "$CTYPE" = text/html ]
check "https html: 200 text/html" $? "rc=$RC code=$CODE type=$CTYPE"

fetch https-no-content-type
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && [ -z "$CTYPE" ] && cmp -s body.out expected.txt &&
  ! grep -qi '^content-type:' headers.out
check "https no-content-type: 200 policy without a Content-Type header" $? \
  "rc=$RC code=$CODE type=$CTYPE $(cat headers.out)"

fetch https-head-differs
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && [ "$CTYPE" = text/plain ] && cmp -s body.out expected.txt
check "https head-differs: GET answers the policy" $? "rc=$RC code=$CODE type=$CTYPE"
fetch https-head-differs -I
[ $RC -eq 0 ] && [ "$CODE" = 405 ] && grep -qi '^allow: GET' headers.out
check "https head-differs: HEAD answers 405" $? "rc=$RC code=$CODE $(cat headers.out)"

fetch https-large
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && [ "$SIZE" = 102400 ] && [ "$(head -n1 body.out)" = "version: STSv1"$'\r' ] &&
  ! grep -qv '^[a-z_-]*: [^ ].*'$'\r''$' body.out
check "https large: 100 KiB of valid policy lines" $? "rc=$RC code=$CODE size=$SIZE"

fetch https-large --max-filesize 65536
[ $RC -eq 63 ]
check "https large: refused by a 64 KiB limit" $? "rc=$RC"

start=$SECONDS
fetch https-drip --max-time 3
[ $RC -eq 28 ] && [ "$CODE" = 200 ] && [ "$SIZE" -ge 1 ] && [ "$SIZE" -le 4 ] && [ $((SECONDS - start)) -le 6 ]
check "https drip: headers, then a byte a second until the client times out" $? \
  "rc=$RC code=$CODE size=$SIZE $(cat curl.err)"

fetch https-reset
[ $RC -eq 56 ] && grep -qi 'reset' curl.err
check "https reset: TLS completes, request answered by RST" $? "rc=$RC $(cat curl.err)"

fetch https-h2only --http1.1
[ $RC -eq 35 ] && grep -qi 'no application protocol' curl.err
check "https h2only: HTTP/1.1 client gets no_application_protocol" $? "rc=$RC $(cat curl.err)"

timeout 20 openssl s_client -connect "127.0.0.1:${PORT[https-h2only]}" -servername $HOST \
  -CAfile root.pem </dev/null >sclient.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -qi 'no application protocol' sclient.out
check "https h2only: client without ALPN refused" $? "rc=$rc $(tail -5 sclient.out)"

fetch https-h2only --http2
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && cmp -s body.out expected.txt && grep -q '^HTTP/2 200' headers.out
check "https h2only: h2 client gets the policy" $? "rc=$RC code=$CODE $(cat curl.err)"

fetch https-garbage
[ $RC -ne 0 ] && [ $RC -ne 28 ] && [ "$CODE" = 000 ]
check "https garbage: not HTTP" $? "rc=$RC code=$CODE $(cat curl.err)"

start=$SECONDS
fetch https-never-close --max-time 2
[ $RC -eq 28 ] && [ $((SECONDS - start)) -le 5 ]
check "https never-close: TLS handshake never completes" $? "rc=$RC $(cat curl.err)"

exec {fd}<>"/dev/tcp/127.0.0.1/${PORT[https-never-close]}"
read -r -t 1 -u $fd line
rc=$?
exec {fd}>&-
[ $rc -gt 128 ]
check "https never-close: TCP accepted, nothing sent" $? "read rc=$rc"

fetch https-huge --max-filesize 65536
[ $RC -eq 63 ]
check "https huge: Content-Length over a 64 KiB limit" $? "rc=$RC $(cat curl.err)"

size=$(set -o pipefail; timeout 20 curl -sS --cacert root.pem \
  --resolve "$HOST:${PORT[https-huge]}:127.0.0.1" -D headers.out \
  "https://$HOST:${PORT[https-huge]}$POLICY_PATH" 2>curl.err | head -c 65536 | wc -c)
[ "$size" = 65536 ] && grep -qi '^content-length: 1073741824' headers.out
check "https huge: 1 GiB announced, streamed until the client stops at 64 KiB" $? \
  "size=$size $(cat headers.out curl.err)"

# Minted certificates: one per SNI name, each verifying for its name alone, with its own key.
grep -q 'https-mint: minted 2 certificates' testd.log
check "https mint: names file minted before ready" $? "$(grep mint testd.log)"
mint_fetch() {  # mint_fetch HOST: body in body.out, sets RC and CODE
  CODE=$(timeout 20 curl -sS --cacert root.pem --resolve "$1:${PORT[https-mint]}:127.0.0.1" \
    -o body.out -w '%{http_code}' "https://$1:${PORT[https-mint]}$POLICY_PATH" 2>curl.err)
  RC=$?
}
mint_fetch mta-sts.a.mint.test
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.a.mint.test\r\nmx: mta-sts.a.mint.test.{x}\r\nmax_age: 86400\r\n' >expected-a.txt
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && cmp -s body.out expected-a.txt
check "https mint: certificate minted on the fly, {domain} and {host} in the body" $? \
  "rc=$RC code=$CODE $(cat curl.err) $(od -c body.out | head -5)"
mint_fetch mta-sts.pre.mint.test
[ $RC -eq 0 ] && [ "$CODE" = 200 ] && grep -q 'mx: mx1.pre.mint.test' body.out
check "https mint: pre-minted name" $? "rc=$RC code=$CODE $(cat curl.err)"
leaf_of() {  # leaf_of PORT NAME [s_client args]: the served leaf's SAN and key
  timeout 20 openssl s_client -connect "127.0.0.1:$1" -servername "$2" "${@:3}" </dev/null 2>/dev/null |
    openssl x509 -noout -ext subjectAltName -pubkey 2>/dev/null
}
a=$(leaf_of "${PORT[https-mint]}" mta-sts.a.mint.test)
b=$(leaf_of "${PORT[https-mint]}" mta-sts.b.mint.test)
a2=$(leaf_of "${PORT[https-mint]}" MTA-STS.A.mint.test)
grep -q 'DNS:mta-sts.a.mint.test$' <<<"$a" && grep -q 'DNS:mta-sts.b.mint.test$' <<<"$b" &&
  [ "$(grep -v DNS: <<<"$a")" != "$(grep -v DNS: <<<"$b")" ] && [ "$a" = "$a2" ] &&
  [ "$(grep -c 'BEGIN PUBLIC KEY' <<<"$a")" = 1 ]
check "https mint: a leaf per name (SAN = the name, own key), cached, case-insensitive" $? "a=$a b=$b"
timeout 20 openssl s_client -connect "127.0.0.1:${PORT[https-mint]}" \
  -servername mta-sts.example.test </dev/null >sclient.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -qi 'alert internal error' sclient.out
check "https mint: a name outside the suffix and no fallback: no handshake" $? \
  "rc=$rc $(tail -5 sclient.out)"
mint_sclient() {  # mint_sclient VERIFY-NAME [s_client args...]
  printf 'EHLO client.example.test\r\nQUIT\r\n' | timeout 20 openssl s_client -starttls smtp \
    -connect "127.0.0.1:${PORT[smtp-mint]}" -CAfile root.pem -verify_hostname "$1" \
    -verify_return_error -ign_eof "${@:2}" >sclient.out 2>&1
  RC=$?
}
mint_sclient mx2.c.mint.test -servername mx2.c.mint.test
[ $RC -eq 0 ] && grep -q 'Verify return code: 0 (ok)' sclient.out && grep -q '^221 ' sclient.out
check "smtp mint: STARTTLS with a leaf minted for the SNI name" $? "rc=$RC $(tail -8 sclient.out)"
mint_sclient mx1.example.test -noservername
[ $RC -eq 0 ] && grep -q 'Verify return code: 0 (ok)' sclient.out
check "smtp mint: no SNI gets the fallback certificate" $? "rc=$RC $(tail -8 sclient.out)"

# ---------------------------------------------------------------------------------------------
# SMTP over /dev/tcp

smtp_open() {  # smtp_open LISTENER: opens fd $S
  exec {S}<>"/dev/tcp/127.0.0.1/${PORT[$1]}"
}
smtp_close() { exec {S}>&-; }
smtp_reply() {  # reads one (multi-line) reply into REPLY_TEXT; returns 1 on EOF/timeout
  local line
  REPLY_TEXT=""
  while IFS= read -r -t 5 -u $S line; do
    line=${line%$'\r'}
    REPLY_TEXT+="$line"$'\n'
    [ "${line:3:1}" = "-" ] || return 0
  done
  return 1
}
smtp_cmd() {  # smtp_cmd LINE: sends it, reads the reply
  printf '%s\r\n' "$1" >&$S
  smtp_reply
}
code() { echo "${REPLY_TEXT:0:3}"; }

smtp_open smtp-starttls
smtp_reply && [[ $REPLY_TEXT == "220 mx1.example.test ESMTP"* ]]
check "smtp starttls: 220 banner with hostname" $? "$REPLY_TEXT"
smtp_cmd "EHLO client.example.test" && [[ $REPLY_TEXT == "250-mx1.example.test"* ]] &&
  grep -qx '250[- ]STARTTLS' <<<"$REPLY_TEXT" && grep -qx '250[- ]PIPELINING' <<<"$REPLY_TEXT" &&
  [[ $(printf %s "$REPLY_TEXT" | tail -n1) == "250 "* ]]
check "smtp starttls: EHLO offers STARTTLS" $? "$REPLY_TEXT"
ok=0
for c in "HELO client.example.test" NOOP RSET "noop"; do
  if ! { smtp_cmd "$c" && [ "$(code)" = 250 ]; }; then ok=1; echo "    $c -> $REPLY_TEXT"; fi
done
check "smtp starttls: HELO, NOOP, RSET answered 250" $ok ""
smtp_cmd "FROB x" && [ "$(code)" = 500 ]
check "smtp starttls: unknown command 500" $? "$REPLY_TEXT"
smtp_cmd "NOOP $(head -c 1200 /dev/zero | tr '\0' x)" && [ "$(code)" = 500 ] &&
  smtp_cmd NOOP && [ "$(code)" = 250 ]
check "smtp starttls: over-long line 500, session goes on" $? "$REPLY_TEXT"
printf 'RSET\r\nNOOP\r\nQUIT\r\n' >&$S
smtp_reply && [ "$(code)" = 250 ] && smtp_reply && [ "$(code)" = 250 ] && smtp_reply && [ "$(code)" = 221 ] &&
  ! IFS= read -r -t 5 -u $S line
check "smtp starttls: pipelined commands, QUIT 221 then close" $? "$REPLY_TEXT"
smtp_close

# The TLS part: s_client does EHLO + STARTTLS, then sends our EHLO and QUIT over TLS.
sclient() {  # sclient LISTENER [s_client args...]: output in sclient.out, sets RC
  local port=${PORT[$1]}
  shift
  printf 'EHLO client.example.test\r\nQUIT\r\n' | timeout 20 openssl s_client -starttls smtp \
    -connect "127.0.0.1:$port" -servername mx1.example.test -CAfile root.pem \
    -verify_hostname mx1.example.test -verify_return_error -ign_eof "$@" >sclient.out 2>&1
  RC=$?
}
sclient smtp-starttls
[ $RC -eq 0 ] && grep -q 'Verify return code: 0 (ok)' sclient.out &&
  grep -Eq 'Protocol *: TLSv1\.[23]' sclient.out && grep -q '^250-mx1.example.test' sclient.out &&
  ! sed -n '/^250-mx1/,$p' sclient.out | grep -q STARTTLS && grep -q '^221 ' sclient.out
check "smtp starttls: TLS 1.2+ with verified chain, EHLO again without STARTTLS, QUIT 221" $? \
  "rc=$RC $(tail -15 sclient.out)"

smtp_open smtp-no-starttls
smtp_reply && smtp_cmd "EHLO client.example.test" && [ "$(code)" = 250 ] &&
  ! grep -q STARTTLS <<<"$REPLY_TEXT" && smtp_cmd STARTTLS && [ "$(code)" = 502 ]
check "smtp no-starttls: not offered, STARTTLS 502" $? "$REPLY_TEXT"
smtp_close

sclient smtp-tls10-only
[ $RC -ne 0 ]
check "smtp tls10-only: modern client fails the handshake" $? "rc=$RC"
sclient smtp-tls10-only -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
[ $RC -eq 0 ] && grep -Eq 'Protocol *: TLSv1$' sclient.out && grep -q '^221 ' sclient.out
check "smtp tls10-only: TLS 1.0 client succeeds" $? "rc=$RC $(tail -15 sclient.out)"

smtp_open smtp-silent
! IFS= read -r -t 2 -u $S line && [ -z "${line:-}" ]
check "smtp silent: no banner" $? "got: ${line:-}"
smtp_close

smtp_open smtp-garbage
junk=$(timeout 5 dd bs=64 count=1 <&$S 2>/dev/null | od -An -c | tr -d ' \n')
[ -n "$junk" ] && [[ $junk != 220* ]]
check "smtp garbage: binary junk instead of a banner" $? "got: $junk"
smtp_close

smtp_open smtp-starttls-refused
smtp_reply && smtp_cmd "EHLO client.example.test" && grep -q STARTTLS <<<"$REPLY_TEXT" &&
  smtp_cmd STARTTLS && [ "$REPLY_TEXT" = $'454 4.7.0 TLS not available\n' ]
check "smtp starttls-refused: offered, then 454" $? "$REPLY_TEXT"
smtp_close

smtp_open smtp-close-after-banner
smtp_reply && [ "$(code)" = 220 ] && ! IFS= read -r -t 5 -u $S line
rc=$?
check "smtp close-after-banner" $rc "$REPLY_TEXT"
smtp_close

start=$SECONDS
smtp_open smtp-idle
smtp_reply && [ "$(code)" = 220 ] && smtp_reply && [[ $REPLY_TEXT == "421 4.4.2 "* ]] &&
  ! IFS= read -r -t 5 -u $S line && [ $((SECONDS - start)) -le 4 ]
check "smtp idle_timeout_s: 421 then close" $? "$REPLY_TEXT"
smtp_close

# ---------------------------------------------------------------------------------------------

kill -TERM "$TESTD_PID"
deadline=$((SECONDS + 10))
while kill -0 "$TESTD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
kill -0 "$TESTD_PID" 2>/dev/null && kill -KILL "$TESTD_PID"
wait "$TESTD_PID"
rc=$?
TESTD_PID=""
[ $rc -eq 0 ]
check "SIGTERM: graceful exit 0" $? "rc=$rc"

if [ $FAIL -ne 0 ]; then
  echo "--- testd log ---"
  tail -50 "$TMP/testd.log"
fi
echo "testd: $PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
