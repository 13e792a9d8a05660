"""`mtasts serve` getting its certificates by ACME from a real pebble:
with_pebble.py -- serve_acme_test.py MTASTS

Names under acme.test resolve to 127.0.0.1 for pebble (with_pebble.py's knotd); pebble validates
HTTP-01 at MTASTS_TEST_ACME_HTTP_PORT and TLS-ALPN-01 at MTASTS_TEST_ACME_TLS_PORT, where serve's
own listeners answer. Phase 1: HTTP-01 for one domain. Phase 2: a restart with TLS-ALPN-01
preferred and a second domain; the first certificate comes back from the store.
"""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import knot as knot_mod  # noqa: E402
import serve_client  # noqa: E402
from checks import check, finish, until  # noqa: E402

MTASTS = os.path.abspath(sys.argv[1])
ENV = os.environ




tmp = tempfile.mkdtemp(prefix="mtasts-serve-acme-")
server = None
try:
    db = os.path.join(tmp, "mtasts.db")
    acme_dir = os.path.join(tmp, "acme-certs")
    root = serve_client.pebble_root(tmp)
    https, http_port = int(ENV["MTASTS_TEST_ACME_TLS_PORT"]), int(ENV["MTASTS_TEST_ACME_HTTP_PORT"])
    admin = knot_mod.free_port()

    def start(challenge):
        config = os.path.join(tmp, "serve.toml")
        serve_client.write_acme_config(config, db=db, https=https, http=http_port, admin=admin,
                                       directory=ENV["MTASTS_TEST_ACME_DIRECTORY"], cert_dir=acme_dir,
                                       challenge=challenge, extra='acme_email = "hostmaster@acme.test"\n')
        log = open(os.path.join(tmp, f"serve-{challenge}.log"), "w")
        return subprocess.Popen([MTASTS, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT)

    def served(domain):
        return serve_client.policy_response(https, domain, root)

    def metric(name):
        return serve_client.metric(admin, name)

    r = subprocess.run([MTASTS, "domain", "add", "h.acme.test", "--mx", "mx.h.acme.test", "--db", db],
                       capture_output=True, text=True)
    check("domain add h.acme.test", r.returncode == 0, r.stderr)
    server = start("http-01")
    check("HTTP-01: certificate obtained and served, verified against pebble's root",
          until(lambda: served("h.acme.test").startswith(b"HTTP/1.1 200"), 90),
          open(os.path.join(tmp, "serve-http-01.log")).read()[-3000:])
    check("HTTP-01: counted", metric("mtasts_acme_certificates_issued_total") == 1)
    key = os.path.join(acme_dir, "certificates", "mta-sts.h.acme.test.key")
    check("key file is 0600", os.path.exists(key) and stat.S_IMODE(os.stat(key).st_mode) == 0o600)
    server.send_signal(signal.SIGTERM)
    check("SIGTERM: exit 0", server.wait(20) == 0)

    shutil.rmtree(acme_dir)  # the store is the source: a fresh node copies from it
    r = subprocess.run([MTASTS, "domain", "add", "a.acme.test", "--mx", "mx.a.acme.test", "--db", db],
                       capture_output=True, text=True)
    check("domain add a.acme.test", r.returncode == 0, r.stderr)
    server = start("tls-alpn-01")
    check("restart: the first certificate comes back from the store",
          until(lambda: served("h.acme.test").startswith(b"HTTP/1.1 200"), 30))
    check("TLS-ALPN-01 on serve's HTTPS port: certificate obtained and served",
          until(lambda: served("a.acme.test").startswith(b"HTTP/1.1 200"), 90),
          open(os.path.join(tmp, "serve-tls-alpn-01.log")).read()[-3000:])
    r = subprocess.run([MTASTS, "domain", "add", "n.acme.test", "--mx", "mx.n.acme.test", "--db", db],
                       capture_output=True, text=True)
    check("a domain added while serving gets its certificate without waiting for the next pass",
          until(lambda: served("n.acme.test").startswith(b"HTTP/1.1 200"), 90),
          open(os.path.join(tmp, "serve-tls-alpn-01.log")).read()[-3000:])
    logs = open(os.path.join(tmp, "serve-tls-alpn-01.log")).read() + open(os.path.join(tmp, "serve-http-01.log")).read()
    check("no private key in the logs", "PRIVATE KEY" not in logs)
    server.send_signal(signal.SIGTERM)
    check("SIGTERM: exit 0", server.wait(20) == 0)
finally:
    if server and server.poll() is None:
        server.kill()
        server.wait()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(finish("serve acme"))
