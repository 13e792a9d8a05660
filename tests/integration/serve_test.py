"""`mtasts serve` end to end on loopback: serve_test.py MTASTS [sqlite|postgres]

Starts a real server on free loopback ports with certificates from the harness CA (certbot and
lego layouts, plus broken files), then checks what a sender, an admin and an attacker see:
the policy over verified TLS, status codes, limits (header size, slowloris, idle, rate,
connections), SNI handling, the admin API and its tokens, reloads (store change feed, SIGHUP for
certificates) and a graceful SIGTERM. Prints `ok:`/`FAIL:` lines; exit 0 when all pass.
"""
import gzip
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import ca as ca_mod  # noqa: E402
import knot as knot_mod  # noqa: E402
from checks import check, finish, until  # noqa: E402

MTASTS = os.path.abspath(sys.argv[1])
BACKEND = sys.argv[2] if len(sys.argv) > 2 else "sqlite"




def mtasts(*args, timeout=60):
    return subprocess.run([MTASTS, *args], capture_output=True, text=True, timeout=timeout)


tmp = tempfile.mkdtemp(prefix="mtasts-serve-test-")
server = None
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    ca = ca_mod.CA(os.path.join(tmp, "ca")).create()
    ca.leaves([("mta-sts.a.test", "valid"), ("mta-sts.b.test", "valid"), ("mta-sts.a.test", "expiring")])
    ctx = ssl.create_default_context(cafile=ca.ca_file)

    db = os.environ["MTASTS_TEST_POSTGRES_URL"] if BACKEND == "postgres" else os.path.join(tmp, "mtasts.db")
    certs = os.path.join(tmp, "certs")
    os.makedirs(os.path.join(certs, "live", "mta-sts.a.test"))
    os.makedirs(os.path.join(certs, "certificates"))
    pem, key = ca.leaf("mta-sts.a.test", "valid")
    shutil.copy(pem, os.path.join(certs, "live", "mta-sts.a.test", "fullchain.pem"))
    shutil.copy(key, os.path.join(certs, "live", "mta-sts.a.test", "privkey.pem"))
    pem, key = ca.leaf("mta-sts.b.test", "valid")
    shutil.copy(pem, os.path.join(certs, "certificates", "mta-sts.b.test.crt"))
    shutil.copy(key, os.path.join(certs, "certificates", "mta-sts.b.test.key"))
    with open(os.path.join(certs, "certificates", "corrupt.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with open(os.path.join(certs, "certificates", "corrupt.key"), "w") as f:
        f.write("junk\n")

    r = mtasts("domain", "add", "a.test", "--mx", "mx1.a.test", "--db", db)
    check("domain add a.test", r.returncode == 0, r.stderr)
    r = mtasts("domain", "add", "b.test", "--mx", "*.mx.b.test", "--mode", "enforce", "--max-age", "604800", "--db", db)
    check("domain add b.test", r.returncode == 0, r.stderr)
    r = mtasts("token", "add", "ci", "--db", db, "--json")
    token = json.loads(r.stdout)["token"] if r.returncode == 0 else ""
    check("token add prints the token once", token.startswith("mtasts_"), r.stderr)

    https, http_port, admin = knot_mod.free_port(), knot_mod.free_port(), knot_mod.free_port()
    config = os.path.join(tmp, "serve.toml")
    with open(config, "w") as f:
        f.write(f'''[serve]
db = "{db}"
listen_https = ["127.0.0.1:{https}"]
listen_http = "127.0.0.1:{http_port}"
listen_admin = "127.0.0.1:{admin}"
cert_dir = "{certs}"
threads = 2
header_timeout = 1.0
idle_timeout = 2.0
handshake_timeout = 120
reload_interval = 0.2
requests_per_second = 50
max_connections = 10050
''')
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write('[serve]\nlisten_htps = "127.0.0.1:1"\n')
    r = mtasts("serve", "--config", bad, timeout=20)
    check("config with an unknown key: exit 2 naming it", r.returncode == 2 and "listen_htps" in r.stderr, r.stderr)
    with open(bad, "w") as f:
        f.write('[serve\n')
    r = mtasts("serve", "--config", bad, timeout=20)
    check("config that is not TOML: exit 2", r.returncode == 2 and "config-invalid" in r.stderr, r.stderr)
    r = mtasts("serve", "--db", db, "--listen-https", "not-an-address", "--listen-http", "off", "--listen-admin", "off", timeout=20)
    check("bad listen address: exit 2", r.returncode == 2 and "listen" in r.stdout + r.stderr, r.stdout + r.stderr)
    log_path = os.path.join(tmp, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen([MTASTS, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT)

    def handshake_ok():
        try:
            with socket.create_connection(("127.0.0.1", https), timeout=1) as s:
                with ctx.wrap_socket(s, server_hostname="mta-sts.a.test"):
                    return True
        except OSError:
            return False
    check("serve starts", until(handshake_ok, 20), open(log_path).read())

    def get(host, path="/.well-known/mta-sts.txt", method="GET", headers=None, sni=None, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", https, context=ctx, timeout=5)
        c._tunnel_host = None
        # SNI and certificate name: the policy host, as a sender connects.
        c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=5),
                                 server_hostname=sni or host)
        c.putrequest(method, path, skip_host=True)
        c.putheader("Host", host)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body.encode() if body is not None else None)
        resp = c.getresponse()
        data = resp.read()
        c.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data

    # --- what a sender sees ------------------------------------------------------------------
    st, h, body = get("mta-sts.a.test")
    check("GET policy: 200 over verified TLS", st == 200)
    check("GET policy: text/plain", h.get("content-type", "").startswith("text/plain"))
    check("GET policy: the canonical policy", body == b"version: STSv1\r\nmode: testing\r\nmx: mx1.a.test\r\nmax_age: 86400\r\n", body)
    st, h, body = get("mta-sts.b.test")
    check("lego layout certificate, enforce policy", st == 200 and b"mode: enforce" in body and b"mx: *.mx.b.test" in body)
    st, h, body = get("MTA-STS.B.TEST:443", sni="mta-sts.b.test")
    check("Host with port and upper case", st == 200)
    st, h, body = get("mta-sts.a.test", method="HEAD")
    check("HEAD: headers only", st == 200 and body == b"" and h.get("content-length") == "63", h)
    st, h, _ = get("mta-sts.a.test", method="POST", body="x")
    check("POST on the policy: 405 with Allow", st == 405 and h.get("allow") == "GET, HEAD")
    st, _, _ = get("mta-sts.a.test", path="/index.html")
    check("other paths: 404", st == 404)
    st, _, _ = get("mta-sts.nothosted.test", sni="mta-sts.a.test")
    check("Host not hosted: 404", st == 404)
    st, _, _ = get("not a domain", sni="mta-sts.a.test")
    check("Host that is not a name: 404", st == 404)
    st, h, _ = get("mta-sts.a.test", path="/.well-known/mta-sts.txt?x=1")
    check("query string ignored", st == 200)

    def tls_error(sni, **kw):
        c = ssl.create_default_context(cafile=ca.ca_file)
        if sni is None:
            c.check_hostname = False
        for k, v in kw.items():
            setattr(c, k, v)
        try:
            with socket.create_connection(("127.0.0.1", https), timeout=5) as s:
                with c.wrap_socket(s, server_hostname=sni) as t:
                    return "ok " + t.version()
        except (ssl.SSLError, OSError) as e:
            return str(e)
    check("unknown SNI: unrecognized_name alert", "UNRECOGNIZED_NAME" in tls_error("mta-sts.unknown.test").upper())
    check("no SNI: unrecognized_name alert", "UNRECOGNIZED_NAME" in tls_error(None).upper())
    with warnings.catch_warnings():  # TLSv1_1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        check("TLS 1.1 refused", not tls_error("mta-sts.a.test", maximum_version=ssl.TLSVersion.TLSv1_1).startswith("ok"))
    check("TLS 1.2 accepted", tls_error("mta-sts.a.test", maximum_version=ssl.TLSVersion.TLSv1_2) == "ok TLSv1.2")
    check("TLS 1.3 accepted", tls_error("mta-sts.a.test", minimum_version=ssl.TLSVersion.TLSv1_3) == "ok TLSv1.3")

    def resumed(version, requests):
        """A session ticket from a connection that made REQUESTS requests resumes the next one."""
        c = ssl.create_default_context(cafile=ca.ca_file)
        c.minimum_version = c.maximum_version = version
        session, reused = None, []
        for _ in range(2):
            with c.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=5),
                               server_hostname="mta-sts.a.test", session=session) as t:
                reused.append(t.session_reused)
                for i in range(requests):
                    last = i == requests - 1
                    t.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
                              + (b"Connection: close\r\n" if last else b"") + b"\r\n")
                    got = b""
                    while got.count(b"mode: testing") == 0:
                        d = t.recv(65536)
                        if not d:
                            break
                        got += d
                    if b"200 OK" not in got:
                        return f"no answer: {got!r}"
                session = t.session  # a TLS 1.3 ticket arrives after the handshake, with the answer
        return reused
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        for requests in (1, 3):
            r = resumed(version, requests)
            check(f"{version.name}: the session ticket resumes the next connection ({requests} requests)",
                  r == [False, True], r)

    def raw(payload, sni="mta-sts.a.test", wait=5.0, chunks=None):
        """Send PAYLOAD on one TLS connection; return everything read until the server closes."""
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=wait), server_hostname=sni)
        try:
            s.sendall(payload)
            out = b""
            while True:
                try:
                    d = s.recv(65536)
                except (socket.timeout, ssl.SSLError, ConnectionResetError):
                    break
                if not d:
                    break
                out += d
            return out
        finally:
            s.close()

    req = b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n"
    out = raw(req * 2 + b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nConnection: close\r\n\r\n")
    check("keep-alive and pipelining: three answers on one connection", out.count(b"HTTP/1.1 200 OK") == 3, out[:300])
    # Half-open: the client sends its request and shuts its sending side; the answer still comes.
    hs = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=5), server_hostname="mta-sts.a.test")
    hs.sendall(req)
    socket.socket.shutdown(hs, socket.SHUT_WR)  # the TCP side only: no close_notify
    got = b""
    try:
        while d := hs.recv(65536):
            got += d
    except (OSError, ssl.SSLError):
        pass
    hs.close()
    check("half-open connection: answered, then closed", got.startswith(b"HTTP/1.1 200"), got[:80])
    out = raw(req + b"\x16\x03garbage\r\n\r\n")
    check("pipelined garbage: 200 then 400 and close", out.count(b"HTTP/1.1 200") == 1 and b"HTTP/1.1 400" in out, out[-200:])
    out = raw(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    check("huge header: 431", out.startswith(b"HTTP/1.1 431"), out[:100])
    t0 = time.monotonic()
    out = raw(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-st", wait=15)
    check("slowloris: the server closes an unfinished request", out == b"" and time.monotonic() - t0 < 14)
    t0 = time.monotonic()
    out = raw(req, wait=15)
    check("idle keep-alive: answered, then closed by the server", out.count(b"200 OK") == 1 and time.monotonic() - t0 < 14)
    out = raw(req * 120 + b"GET / HTTP/1.1\r\nHost: mta-sts.a.test\r\nConnection: close\r\n\r\n")
    check("request rate per connection: 429 and close", b"HTTP/1.1 429" in out and out.count(b"200 OK") < 120)

    # --- TLS-RPT reports POSTed over HTTPS (RFC 8460 §5.4) -------------------------------------
    def report(domain, report_id):
        return json.dumps({
            "organization-name": "Example Sender", "report-id": report_id,
            "contact-info": "tlsrpt@sender.example",
            "date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
            "policies": [{"policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing"],
                                     "policy-domain": domain, "mx-host": ["mx1." + domain]},
                          "summary": {"total-successful-session-count": 90, "total-failure-session-count": 2},
                          "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.1",
                                               "receiving-mx-hostname": "mx1." + domain, "failed-session-count": 2}]}]})

    def post(body, ctype, path="/tlsrpt"):
        c = http.client.HTTPSConnection("127.0.0.1", https, timeout=10)
        c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=10),
                                 server_hostname="mta-sts.a.test")
        c.request("POST", path, body=body, headers={"Host": "mta-sts.a.test", "Content-Type": ctype})
        resp = c.getresponse()
        data = resp.read()
        c.close()
        return resp.status, data.decode(errors="replace")
    st, text = post(gzip.compress(report("a.test", "r1").encode()), "application/tlsrpt+gzip")
    check("report POST (gzip): 201 once stored", st == 201 and "stored" in text, f"{st} {text}")
    st, text = post(gzip.compress(report("a.test", "r1").encode()), "application/tlsrpt+gzip")
    check("the same report again: 200, stored once", st == 200 and "already" in text, f"{st} {text}")
    st, text = post(report("b.test", "r2"), "application/tlsrpt+json; charset=utf-8")
    check("report POST (json): 201", st == 201, f"{st} {text}")
    st, text = post(report("stranger.test", "r3"), "application/tlsrpt+json")
    check("report for a domain not hosted: 403", st == 403 and "domain-not-registered" in text, f"{st} {text}")
    st, text = post(report("a.test", "r4"), "application/json")
    check("wrong media type: 415", st == 415, f"{st} {text}")
    st, text = post(b"\x1f\x8b\x08garbage", "application/tlsrpt+gzip")
    check("bad gzip: 400 naming it", st == 400 and "gzip" in text, f"{st} {text}")
    st, text = post(gzip.compress(b"{" * 10 + b"x"), "application/tlsrpt+gzip")
    check("invalid JSON: 400", st == 400, f"{st} {text}")
    st, _, _ = get("mta-sts.a.test", path="/tlsrpt")
    check("GET on the report path: 405", st == 405)
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: post(report("a.test", f"burst-{i}"), "application/tlsrpt+json")[0], range(64)))
    check("64 concurrent reports: every one stored (group commit)", codes == [201] * 64, codes)
    r = mtasts("reports", "summary", "--db", db, "--json")
    summary = json.loads(r.stdout) if r.returncode in (0, 1) and r.stdout.strip() else {}
    per = {d["domain"]: d for d in summary.get("domains", [])}
    check("stored reports are in the summary, each once", per.get("a.test", {}).get("reports") == 65
          and per.get("b.test", {}).get("reports") == 1, r.stdout[:500] + r.stderr)

    # --- port 80 -------------------------------------------------------------------------------
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    c.request("GET", "/.well-known/mta-sts.txt", headers={"Host": "mta-sts.a.test"})
    resp = c.getresponse()
    resp.read()
    check("HTTP: redirect to HTTPS", resp.status == 301 and resp.getheader("Location") == "https://mta-sts.a.test/.well-known/mta-sts.txt")
    c.request("GET", "/.well-known/acme-challenge/unknown-token", headers={"Host": "mta-sts.a.test"})
    resp = c.getresponse()
    resp.read()
    check("HTTP: unknown ACME token 404", resp.status == 404)
    c.close()

    # --- admin API -----------------------------------------------------------------------------
    def api(method, path, body=None, tok=None, port=admin):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = c.getresponse()
        data = resp.read()
        c.close()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data
    st, d = api("GET", "/api/v1/domains")
    check("API without token: 401", st == 401 and d["error"] == "unauthorized")
    st, d = api("GET", "/api/v1/domains", tok="mtasts_" + "0" * 40)
    check("API with a wrong token: 401", st == 401)
    st, d = api("GET", "/api/v1/domains", tok=token)
    check("API list", st == 200 and [x["domain"] for x in d["domains"]] == ["a.test", "b.test"], d)
    st, d = api("GET", "/api/v1/domains?limit=1", tok=token)
    check("API list paging", st == 200 and len(d["domains"]) == 1 and d["next"] == "a.test", d)
    st, d = api("POST", "/api/v1/domains", {"domain": "c.test", "mx": ["mx.c.test"], "mode": "enforce"}, tok=token)
    check("API add: 201 with the record to publish", st == 201 and d["added"] and d["records"][0]["name"] == "_mta-sts.c.test", d)
    check("API add: served at once", until(lambda: get("mta-sts.c.test", sni="mta-sts.a.test")[0] == 200, 5))
    st, d = api("POST", "/api/v1/domains", {"domain": "c.test", "mx": ["mx.c.test"]}, tok=token)
    check("API add twice: 409", st == 409)
    st, d = api("PATCH", "/api/v1/domains/c.test", {"max_age": 99999999}, tok=token)
    check("API bad max_age: 400", st == 400 and d["error"] == "body-invalid", d)
    st, d = api("PATCH", "/api/v1/domains/c.test", {"mode": "testing", "colour": "red"}, tok=token)
    check("API unknown field: 400", st == 400, d)
    st, d = api("PATCH", "/api/v1/domains/c.test", {"mx": []}, tok=token)
    check("API mx removed while enforcing: 422 mx-missing", st == 422 and d["error"] == "mx-missing", d)
    st, d = api("DELETE", "/api/v1/domains/c.test", tok=token)
    check("API remove while enforcing: 409", st == 409 and d["error"] == "unsafe-remove")
    st, d = api("PATCH", "/api/v1/domains/c.test", {"mode": "none"}, tok=token)
    check("API mode none: new id", st == 200 and d["policy_changed"], d)
    st, d = api("DELETE", "/api/v1/domains/c.test", tok=token)
    check("API remove", st == 200 and d["removed"])
    check("API remove: no longer served", until(lambda: get("mta-sts.c.test", sni="mta-sts.a.test")[0] == 404, 5))
    st, d = api("GET", "/api/v1/domains/c.test/history", tok=token)
    check("API history", st == 200 and [v["version"] for v in d["history"]] == [1, 2], d)
    st, d = api("GET", "/api/v1/reports/summary?domain=a.test", tok=token)
    a_sum = (d or {}).get("domains", [{}])[0] if st == 200 else {}
    check("API reports summary: the CLI's JSON for a.test (65 reports, 90 ok + 2 failed each)",
          st == 200 and a_sum.get("domain") == "a.test" and a_sum.get("reports") == 65
          and a_sum.get("successful") == 65 * 90 and a_sum.get("failed") == 65 * 2
          and a_sum.get("verdict"), d)
    st, d = api("GET", "/api/v1/reports/summary", tok=token)
    check("API reports summary: every domain with reports",
          st == 200 and sorted(x["domain"] for x in d["domains"]) == ["a.test", "b.test"], d)
    st, d = api("GET", "/api/v1/reports/summary?since=2030-01-01", tok=token)
    check("API reports summary since a later date: none", st == 200 and d["domains"] == [], d)
    st, d = api("GET", "/api/v1/reports/summary?since=yesterday", tok=token)
    check("API reports summary, bad since: 400 since-invalid", st == 400 and d["error"] == "since-invalid", d)
    st, d = api("GET", "/api/v1/reports/summary")
    check("API reports summary without token: 401", st == 401)
    st, d = api("GET", "/api/v1/audit?domain=c.test", tok=token)
    check("API audit names the token", st == 200 and d["audit"] and all(e["actor"] == "api:ci" for e in d["audit"]), d)
    st, d = api("GET", "/api/v1/nothing", tok=token)
    check("API unknown path: 404", st == 404)
    c = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
    c.request("GET", "/metrics")
    resp = c.getresponse()
    metrics = resp.read().decode()
    c.close()
    check("metrics on the admin listener", resp.status == 200 and "mtasts_serve_requests_total" in metrics)
    # 67 POSTs reached the store (66 stored, 1 duplicate): group commit used 1 to 67 transactions.
    commits = [int(l.split()[-1]) for l in metrics.splitlines() if l.startswith("mtasts_reports_commits_total ")]
    check("report transactions counted", len(commits) == 1 and 1 <= commits[0] <= 67, commits)
    st, _, _ = get("mta-sts.a.test", path="/metrics")
    check("metrics over HTTPS need a token", st == 401)
    st, _, _ = get("mta-sts.a.test", path="/metrics", headers={"Authorization": f"Bearer {token}"})
    check("metrics over HTTPS with a token", st == 200)

    # --- reloads -------------------------------------------------------------------------------
    r = mtasts("domain", "set", "a.test", "--mode", "enforce", "--db", db)
    check("CLI change is served without a restart",
          until(lambda: b"mode: enforce" in get("mta-sts.a.test")[2], 10))

    def serial(sni):
        with socket.create_connection(("127.0.0.1", https), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname=sni) as t:
                return t.getpeercert()["notAfter"]
    before = serial("mta-sts.a.test")
    pem, key = ca.leaf("mta-sts.a.test", "expiring")
    live = os.path.join(certs, "live", "mta-sts.a.test")
    shutil.copy(pem, os.path.join(live, "fullchain.pem.new"))
    os.replace(os.path.join(live, "fullchain.pem.new"), os.path.join(live, "fullchain.pem"))
    server.send_signal(signal.SIGHUP)
    check("SIGHUP: the renewed certificate is served", until(lambda: serial("mta-sts.a.test") != before, 10))
    logs = open(log_path).read()
    check("corrupt certificate file: logged once", logs.count("corrupt.crt") == 1, logs[-2000:])
    check("corrupt certificate file: counted", "mtasts_serve_certificate_problems_total 2" in api("GET", "/metrics")[1].decode())
    check("still serving after the bad file", get("mta-sts.b.test")[0] == 200)

    # --- 10,000 idle connections, then over the limit ------------------------------------------
    def open_connections():
        text = api("GET", "/metrics")[1].decode()
        for line in text.splitlines():
            if line.startswith("mtasts_serve_connections_open "):
                return int(line.split()[1])
        return -1
    # In batches, each accepted before the next: a flood of 10,000 connects overflows the accept
    # queue (somaxconn), the kernel drops the handshakes' last ACKs and the retransmissions come
    # seconds apart. Under ASan beside other tests the first connections then reached the
    # handshake timeout before the last were accepted, and the server never held 10,000 at once
    # (hence also handshake_timeout = 120 in this test's configuration).
    def rss_mb():
        with open(f"/proc/{server.pid}/status") as f:
            return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS:"))
    idle = []
    base = open_connections()
    rss_before = rss_mb()
    for _ in range(20):
        for _ in range(500):
            s = socket.socket()
            s.connect(("127.0.0.1", https))
            idle.append(s)
        until(lambda: open_connections() >= base + len(idle), 10)
    check("10,000 idle connections accepted", until(lambda: open_connections() >= 10000, 10), open_connections())
    check("10,000 idle connections: still serving", get("mta-sts.b.test")[0] == 200)
    # A connection that has sent nothing holds no TLS state (it was ~84 KB each: 840 MB here).
    grew = rss_mb() - rss_before
    check("10,000 idle connections: memory stays small", grew < 150, f"RSS grew {grew} MB")
    extra = []
    for _ in range(100):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", https))
        extra.append(s)
    closed = 0
    for s in extra:
        try:
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
    check("over max_connections: closed at once", closed >= 40, f"{closed} closed")
    for s in idle + extra:
        s.close()
    text = api("GET", "/metrics")[1].decode()
    check("rejected connections counted", "mtasts_serve_connections_rejected_total 0" not in text)
    check("after the flood: serving", until(lambda: get("mta-sts.b.test")[0] == 200, 10))

    # --- graceful shutdown ---------------------------------------------------------------------
    keep = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=10), server_hostname="mta-sts.a.test")
    keep.sendall(req)
    keep.recv(65536)
    t0 = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        rc = server.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    check("SIGTERM: exits 0, idle keep-alive closed", rc == 0 and time.monotonic() - t0 < 10, f"rc={rc}")
    keep.close()
    logs = open(log_path).read()
    check("no secret in the log", token not in logs)
finally:
    if server and server.poll() is None:
        server.kill()
        server.wait()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(finish("serve"))
