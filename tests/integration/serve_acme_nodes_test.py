"""Two `mtasts serve` nodes sharing one PostgreSQL, certificates from a real pebble:
with_postgres.py -- with_pebble.py -- serve_acme_nodes_test.py MTASTS

Behind a load balancer the CA may ask any node for a challenge answer. Here pebble always asks
node A (it validates at MTASTS_TEST_ACME_HTTP_PORT / MTASTS_TEST_ACME_TLS_PORT, A's listeners),
but A cannot reach the CA (its ACME directory is a closed port), so node B orders every
certificate: A must answer B's HTTP-01 and TLS-ALPN-01 challenges from the shared store, and
both nodes must serve the certificate B obtained.
"""
import os
import shutil
import signal
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




class Node:
    def __init__(self, name, tmp, https, http, directory):
        self.name, self.tmp, self.https, self.http, self.directory = name, tmp, https, http, directory
        self.admin = knot_mod.free_port()
        self.log_path = os.path.join(tmp, f"node-{name}.log")
        self.proc = None

    def start(self, challenge):
        config = os.path.join(self.tmp, f"node-{self.name}.toml")
        serve_client.write_acme_config(config, db=ENV["MTASTS_TEST_POSTGRES_URL"], https=self.https,
                                       http=self.http, admin=self.admin, directory=self.directory,
                                       cert_dir=os.path.join(self.tmp, "acme-" + self.name),
                                       challenge=challenge, extra="reload_interval = 0.5\n")
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([MTASTS, "serve", "--config", config], stdout=log,
                                     stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(20)
        return None

    def log(self):
        return open(self.log_path).read() if os.path.exists(self.log_path) else ""

    def served(self, domain, root):
        return serve_client.policy_response(self.https, domain, root)

    def metric(self, name):
        return serve_client.metric(self.admin, name)


def stored_challenges(db):
    r = subprocess.run(["psql", db, "-Atc", "SELECT count(*) FROM acme_challenges"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else f"psql failed: {r.stderr.strip()}"


tmp = tempfile.mkdtemp(prefix="mtasts-serve-acme-nodes-")
nodes = []
try:
    root = serve_client.pebble_root(tmp)
    closed = knot_mod.free_port()  # nothing listens: node A cannot reach its CA
    a = Node("a", tmp, int(ENV["MTASTS_TEST_ACME_TLS_PORT"]), int(ENV["MTASTS_TEST_ACME_HTTP_PORT"]),
             f"https://127.0.0.1:{closed}/dir")
    b = Node("b", tmp, knot_mod.free_port(), knot_mod.free_port(), ENV["MTASTS_TEST_ACME_DIRECTORY"])
    nodes = [a, b]
    db = ENV["MTASTS_TEST_POSTGRES_URL"]

    r = subprocess.run([MTASTS, "domain", "add", "h1.acme.test", "--mx", "mx.h1.acme.test", "--db", db],
                       capture_output=True, text=True)
    check("domain add h1.acme.test", r.returncode == 0, r.stderr)
    a.start("http-01")
    b.start("http-01")
    check("HTTP-01: B's order, answered by A from the store; the certificate is served by B",
          until(lambda: b.served("h1.acme.test", root).startswith(b"HTTP/1.1 200"), 90),
          b.log()[-3000:] + a.log()[-2000:])
    check("... and by A, which never reached the CA",
          until(lambda: a.served("h1.acme.test", root).startswith(b"HTTP/1.1 200"), 30), a.log()[-3000:])
    check("B counted one issuance", b.metric("mtasts_acme_certificates_issued_total") == 1,
          str(b.metric("mtasts_acme_certificates_issued_total")))
    check("A issued nothing", a.metric("mtasts_acme_certificates_issued_total") == 0,
          str(a.metric("mtasts_acme_certificates_issued_total")))
    check("A's failures to reach its CA are counted (after its retries)",
          until(lambda: a.metric("mtasts_acme_failures_total") >= 1, 60),
          str(a.metric("mtasts_acme_failures_total")))
    check("the challenge answers are gone from the store once validated",
          until(lambda: stored_challenges(db) == "0", 10), stored_challenges(db))

    # TLS-ALPN-01: pebble connects to A's HTTPS port with ALPN acme-tls/1 for B's order.
    check("B: SIGTERM exit 0", b.stop() == 0)
    r = subprocess.run([MTASTS, "domain", "add", "h2.acme.test", "--mx", "mx.h2.acme.test", "--db", db],
                       capture_output=True, text=True)
    check("domain add h2.acme.test", r.returncode == 0, r.stderr)
    b.start("tls-alpn-01")
    check("TLS-ALPN-01: B's order, answered on A's HTTPS port; served by B",
          until(lambda: b.served("h2.acme.test", root).startswith(b"HTTP/1.1 200"), 90),
          b.log()[-3000:] + a.log()[-2000:])
    check("... and by A",
          until(lambda: a.served("h2.acme.test", root).startswith(b"HTTP/1.1 200"), 30), a.log()[-3000:])
    logs = a.log() + b.log()
    check("A logged no issuance", "certificate issued" not in a.log())
    check("the TLS-ALPN-01 answer is gone from the store too",
          until(lambda: stored_challenges(db) == "0", 10), stored_challenges(db))
    check("no private key in the logs", "PRIVATE KEY" not in logs)
    for n in nodes:
        check(f"{n.name}: SIGTERM exit 0", n.stop() == 0)
finally:
    for n in nodes:
        if n.proc and n.proc.poll() is None:
            n.proc.kill()
            n.proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(finish("serve acme nodes"))
