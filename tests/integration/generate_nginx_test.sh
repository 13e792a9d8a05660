#!/usr/bin/env bash
# The nginx snippet from `mtasts generate` loaded by a real nginx: `nginx -t`, then a real HTTPS
# fetch of the policy with a test CA, the way a sender fetches it (RFC 8461 §3.3).
#   generate_nginx_test.sh /path/to/mtasts
set -u
mtasts=$1
tmp=$(mktemp -d)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

command -v nginx >/dev/null || { echo "FAIL: nginx is not installed (scripts/setup installs it)"; exit 1; }

# A test CA and an ECDSA P-256 leaf for the policy host.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=mtasts test CA" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mta-sts.example.com" \
  -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:mta-sts.example.com\nbasicConstraints=CA:FALSE\n' > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/ext.cnf" -out "$tmp/leaf.pem" 2>/dev/null
expect "test certificate made" "[ -s '$tmp/leaf.pem' ]"

"$mtasts" generate --domain example.com --mx mx1.example.com --mx '*.mx.example.net' \
  --mode enforce --max-age 604800 --server nginx --out "$tmp/out" --web-root "$tmp/www" \
  --tls-cert "$tmp/leaf.pem" --tls-key "$tmp/leaf.key" >/dev/null
expect "generate wrote nginx.conf" "[ -s '$tmp/out/nginx.conf' ]"
expect "generate wrote no other snippet" "[ ! -e '$tmp/out/apache.conf' ] && [ ! -e '$tmp/out/Caddyfile' ]"
mkdir -p "$tmp/www/.well-known"
cp "$tmp/out/mta-sts.txt" "$tmp/www/.well-known/mta-sts.txt"
echo "<html>not the policy</html>" > "$tmp/www/index.html"

start_nginx() {
  local https=$1 http=$2
  # The snippet as generated, moved from the public ports to loopback test ports.
  sed -e "s/listen 443 ssl;/listen 127.0.0.1:$https ssl;/" -e "s/listen 80;/listen 127.0.0.1:$http;/" \
    -e '/listen \[::\]/d' "$tmp/out/nginx.conf" > "$tmp/site.conf"
  cat > "$tmp/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include /etc/nginx/mime.types;
    include $tmp/site.conf;
}
CONF
  nginx -t -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx-t.log" 2>&1 || return 2
  nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx.log" 2>&1 &
  nginx_pid=$!
  # Ready when it answers; gone when the port was taken.
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$http/" && return 0
    kill -0 "$nginx_pid" 2>/dev/null || { nginx_pid=; return 1; }
    sleep 0.05
  done
  return 1
}

started=
for _ in 1 2 3 4 5; do
  https=$((20000 + RANDOM % 20000))
  http=$((https + 1))
  start_nginx "$https" "$http"
  rc=$?
  if [ $rc -eq 2 ]; then cat "$tmp/nginx-t.log"; break; fi
  if [ $rc -eq 0 ]; then started=1; break; fi
done
expect "nginx -t accepts the generated snippet" "grep -q 'test is successful' '$tmp/nginx-t.log'"
if [ -z "$started" ]; then
  bad "nginx started"; cat "$tmp/error.log" 2>/dev/null
  echo "nginx: $pass passed, $fail failed"; exit 1
fi
ok "nginx started on 127.0.0.1:$https"

fetch() {  # fetch PATH [curl options...]: status code, headers in $tmp/h, body in $tmp/b
  local path=$1; shift
  curl -s --cacert "$tmp/ca.pem" --resolve "mta-sts.example.com:$https:127.0.0.1" \
    -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$@" "https://mta-sts.example.com:$https$path"
}
code=$(fetch /.well-known/mta-sts.txt)
expect "policy answers 200 over verified HTTPS" "[ '$code' = 200 ]"
expect "policy is text/plain" "grep -qi '^content-type: text/plain' '$tmp/h'"
expect "policy body is exactly the generated file" "cmp -s '$tmp/b' '$tmp/out/mta-sts.txt'"
expect "fetched policy lints clean" "'$mtasts' policy lint '$tmp/b' >/dev/null"
expect "fetched policy is enforce with both patterns" \
  "'$mtasts' policy lint --json '$tmp/b' | grep -q '\"mx\":\\[\"mx1.example.com\",\"\\*.mx.example.net\"\\]'"
code=$(fetch /)
expect "other paths answer 404, no redirect" "[ '$code' = 404 ]"
code=$(fetch /index.html)
expect "other files are not served" "[ '$code' = 404 ]"
code=$(fetch /.well-known/mta-sts.txt --tls-max 1.1)
expect "TLS 1.1 is refused" "[ '$code' = 000 ]"
code=$(fetch /.well-known/mta-sts.txt --tlsv1.3)
expect "TLS 1.3 works" "[ '$code' = 200 ]"
code=$(curl -s -o /dev/null -w '%{http_code}' --resolve "mta-sts.example.com:$https:127.0.0.1" \
  "https://mta-sts.example.com:$https/.well-known/mta-sts.txt")
expect "the certificate is really verified (no CA: refused)" "[ '$code' = 000 ]"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: mta-sts.example.com' \
  "http://127.0.0.1:$http/.well-known/mta-sts.txt")
expect "plain HTTP does not serve or redirect the policy" "[ '$code' = 404 ]"

echo "nginx: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
