"""A small simulated internet for the resolver tests and bench, in a private network and mount
namespace (only `lo`): knotd on 127.0.0.1:53, each domain's policy host on its own loopback
address at port 443 (mtasts-testd, certificates from the test CA), /etc/resolv.conf and the
system CA bundle bind-mounted (in the namespace only) so that postfix-mta-sts-resolver, which
has no --dns-server or --ca-file, sees the same world as `mtasts resolver`.

Standard library only (run with /usr/bin/python3 -S). Nothing here reaches beyond loopback."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import ca as harness_ca  # noqa: E402
import knot as harness_knot  # noqa: E402

NETNS_ENV = "MTASTS_RESOLVER_NETNS"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


FAILURES = []  # what check() saw fail, for the script's exit code


def check(cond, what):
    print(f"{'PASS' if cond else 'FAIL'} {what}", flush=True)
    if not cond:
        FAILURES.append(what)


def metric(port, name, labels=""):
    """The value of one series on the daemon's /metrics (None when absent)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def begin(doc, name, paths=2):
    """A test script's start: `paths` paths from argv (MTASTS TESTD by default; usage and exit 2
    otherwise), the private namespace, a fresh work directory. Returns (*paths, work)."""
    if len(sys.argv) != paths + 1:
        print(doc, file=sys.stderr)
        sys.exit(2)
    given = [os.path.abspath(a) for a in sys.argv[1:]]
    enter_namespace()
    return (*given, tempfile.mkdtemp(prefix=f"mtasts-{name}-"))


def enter_namespace():
    """Re-run the calling script inside a new network + mount namespace (only `lo`, up)."""
    if os.environ.get(NETNS_ENV) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    if os.geteuid() != 0:
        print("needs root (a private network and mount namespace)", file=sys.stderr)
        sys.exit(2)
    env = dict(os.environ, **{NETNS_ENV: "1"})
    args = ["unshare", "--net", "--mount", "--propagation", "private", "--fork", "--kill-child",
            sys.executable, "-S", os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    p = subprocess.Popen(args, env=env)

    def forward(signo, frame):
        try:
            p.send_signal(signal.SIGTERM)
        except OSError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)
    sys.exit(p.wait())


def postgres_socket_url(url):
    """MTASTS_TEST_POSTGRES_URL (tests/harness/with_postgres.py: 127.0.0.1:PORT, unreachable
    from a private network namespace) as a URL for the same server's Unix socket, which is."""
    import glob
    import tempfile as _t
    import urllib.parse
    u = urllib.parse.urlparse(url)
    for base in (_t.gettempdir(), "/tmp"):
        for sock in glob.glob(os.path.join(base, "mtasts-pg-*", f".s.PGSQL.{u.port}")):
            return f"postgresql://{u.username}@{u.path}?host={os.path.dirname(sock)}&port={u.port}"
    raise RuntimeError(f"no Unix socket for {url}")


def die_with_parent():
    harness_knot._die_with_parent()


def wait_port(addr, port, deadline_s, proc=None, what="server"):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {addr}:{port} within {deadline_s}s")


def stop(proc, sig=signal.SIGTERM, wait=10):
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class World:
    """domains: {name: {"record": TXT value or None or [values], "policy": body,
    "behaviour": testd https behaviour ("ok", "404", ...; "refused": nothing listens),
    "cert": "valid" or a ca.py kind, "content_type": ..., "mx": [(host, smtp listener spec)],
    "extra": [more zone records], "signed": True (knotd signs the zone: DNSSEC)}}"""

    def __init__(self, work, testd, domains):
        self.work = work
        self.testd_bin = testd
        self.domains = domains
        self.ip = {}  # domain -> the policy host's loopback address
        self.mx_ip = {}  # mx host -> loopback address
        self.alt_ip = {}  # domain -> a second policy host ("alt": another policy, "use_alt": DNS points there)
        self.knot = None
        self.testd = None

    def zone_records(self, name, spec):
        recs = []
        for i, (host, _) in enumerate(spec.get("mx", [])):
            recs.append(f"@ MX {10 * (i + 1)} {host}.")
            recs.append(f"{host}. A {self.mx_ip[host]}")
        recs.append(f"mta-sts A {self.alt_ip[name] if spec.get('use_alt') else self.ip[name]}")
        record = spec.get("record", "v=STSv1; id=20260101T000000")
        for r in ([record] if isinstance(record, str) else (record or [])):
            recs.append(f'_mta-sts TXT "{r}"')
        return recs + list(spec.get("extra", []))

    def signed(self):
        return {name for name, spec in self.domains.items() if spec.get("signed")}

    def zones(self):
        return {name: self.zone_records(name, spec) for name, spec in self.domains.items()}

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        self.ca = harness_ca.CA(os.path.join(self.work, "ca")).create()
        self.bundle = os.path.join(self.work, "ca-bundle.crt")
        with open(self.bundle, "w") as out:
            with open(self.ca.ca_file) as f:
                out.write(f.read())
        n = 0
        for name, spec in self.domains.items():
            n += 1
            self.ip[name] = f"127.0.1.{n}"
            self.alt_ip[name] = f"127.0.3.{n}"
            for j, (host, _) in enumerate(spec.get("mx", [])):
                self.mx_ip[host] = f"127.0.2.{len(self.mx_ip) + 1}"
        self.knot = harness_knot.Knot(os.path.join(self.work, "knot"), self.zones(), port=53,
                                      deadline=60, signed=self.signed()).start()
        self._start_testd()
        self.resolv = os.path.join(self.work, "resolv.conf")
        self.use_nameserver("127.0.0.1")
        subprocess.run(["mount", "--bind", self.resolv, "/etc/resolv.conf"], check=True)
        subprocess.run(["mount", "--bind", self.bundle, SYSTEM_BUNDLE], check=True)
        return self

    def use_nameserver(self, addr, options="attempts:2 timeout:2"):
        """What /etc/resolv.conf (bind-mounted from the work directory) says: knotd at first."""
        with open(self.resolv, "w") as f:
            f.write(f"nameserver {addr}\noptions {options}\n")

    def restart_dns(self, domains=None):
        """New zone contents (e.g. a new TXT id): knotd restarted on the same port."""
        if domains is not None:
            self.domains = domains
        self.knot.stop()
        self.knot = harness_knot.Knot(os.path.join(self.work, "knot"), self.zones(), port=53,
                                      deadline=60, signed=self.signed()).start()

    def _start_testd(self):
        inter = (os.path.join(self.ca.dir, "intermediate.pem"), os.path.join(self.ca.dir, "intermediate.key"))
        listeners = []
        for name, spec in self.domains.items():
            b = spec.get("behaviour", "ok")
            if b != "refused":
                l = {"name": name, "kind": "https", "listen": f"{self.ip[name]}:443", "behaviour": b,
                     "body": spec.get("policy", ""), "idle_timeout_s": 30,
                     "content_type": spec.get("content_type", "text/plain")}
                kind = spec.get("cert", "valid")
                if b == "never-close":
                    pass  # never speaks TLS: no certificate
                elif kind == "valid":
                    l["mint"] = {"ca_cert": inter[0], "ca_key": inter[1], "suffix": ".test"}
                else:
                    l["cert"], l["key"] = self.ca.leaf(f"mta-sts.{name}", kind)
                listeners.append(l)
            if "alt" in spec:
                listeners.append({"name": name + "-alt", "kind": "https", "listen": f"{self.alt_ip[name]}:443",
                                  "behaviour": "ok", "body": spec["alt"], "idle_timeout_s": 30,
                                  "mint": {"ca_cert": inter[0], "ca_key": inter[1], "suffix": ".test"}})
            for host, smtp in spec.get("mx", []):
                if smtp.startswith("sink"):  # the caller runs its own receiving server there
                    continue
                l = {"name": host, "kind": "smtp", "listen": f"{self.mx_ip[host]}:25",
                     "hostname": host, "behaviour": smtp, "idle_timeout_s": 30}
                l["cert"], l["key"] = self.ca.leaf(host, "valid")
                listeners.append(l)
        conf = os.path.join(self.work, "testd.json")
        with open(conf, "w") as f:
            json.dump({"listeners": listeners}, f, indent=1)
        ready = os.path.join(self.work, "testd.ready")
        log = open(os.path.join(self.work, "testd.log"), "w")
        self.testd = subprocess.Popen([self.testd_bin, "--config", conf, "--ready", ready],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=die_with_parent)
        log.close()
        end = time.monotonic() + 60
        while not os.path.exists(ready):
            if self.testd.poll() is not None or time.monotonic() > end:
                raise RuntimeError("mtasts-testd did not start: " + open(os.path.join(self.work, "testd.log")).read()[-2000:])
            time.sleep(0.05)

    def stop(self):
        stop(self.testd)
        if self.knot:
            self.knot.stop()


# --- socketmap client ------------------------------------------------------------------------
def netstring(payload):
    return str(len(payload)).encode() + b":" + payload + b","


class Socketmap:
    def __init__(self, addr, timeout=30):
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(addr)
        else:
            self.sock = socket.create_connection(addr, timeout=timeout)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_reply(self):
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + 1 + n + 1:
                    payload = self.buf[colon + 1:colon + 1 + n]
                    assert self.buf[colon + 1 + n:colon + 2 + n] == b",", self.buf
                    self.buf = self.buf[colon + 2 + n:]
                    return payload.decode("utf-8", "replace")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk

    def query(self, name, key):
        payload = f"{name} {key}".encode()
        self.send_raw(b"%d:%s," % (len(payload), payload))
        return self.read_reply()

    def close(self):
        self.sock.close()


def start_peer(work, port, zones=None, log_name="peer.log"):
    """postfix-mta-sts-resolver's mta-sts-daemon on 127.0.0.1:port, internal cache."""
    conf = os.path.join(work, "peer.yml")
    lines = ["host: 127.0.0.1", f"port: {port}", "reuse_port: true", "cache:", "  type: internal",
             "  options:", "    cache_size: 100000", "default_zone:", "  strict_testing: false",
             "  timeout: 4", "zones:"]
    for zname, z in (zones or {}).items():
        lines += [f"  {zname}:", f"    strict_testing: {'true' if z.get('strict_testing') else 'false'}",
                  "    timeout: 4"]
    if not zones:
        lines[-1] = "zones: {}"
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    log = open(os.path.join(work, log_name), "w")
    proc = subprocess.Popen(["mta-sts-daemon", "-c", conf, "-v", "warn", "--disable-uvloop"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent)
    log.close()
    wait_port("127.0.0.1", port, 30, proc, "mta-sts-daemon")
    return proc


def start_mtasts(mtasts, work, world, listen, config_text="", extra=(), log_name="mtasts.log", db=None):
    conf = os.path.join(work, "resolver.toml")
    with open(conf, "w") as f:
        f.write(config_text)
    args = [mtasts, "resolver", "--config", conf, "--dns-server", "127.0.0.1:53",
            "--ca-file", world.bundle, "--db", db or os.path.join(work, "resolver.db")]
    for l in listen:
        args += ["--listen", l]
    args += list(extra)
    log = open(os.path.join(work, log_name), "a")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent)
    log.close()
    for l in listen:
        if l.startswith("unix:"):
            end = time.monotonic() + 30
            while not os.path.exists(l[5:]):
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("mtasts resolver did not start: " + open(os.path.join(work, log_name)).read()[-2000:])
                time.sleep(0.05)
        else:
            host, port = l.rsplit(":", 1)
            wait_port(host, int(port), 30, proc, "mtasts resolver")
    return proc
