#!/usr/bin/python3 -S
"""Run `mtasts check` against the simulated internet, one scenario file per deployment.

    run_scenarios.py MTASTS_BINARY TESTD_BINARY [SCENARIO...] [--dry-run] [--jobs N] [--keep]
                     [--verbose] [--scenarios-dir DIR]

SCENARIO is a name (scenarios/NAME.toml) or a path; none means every file in the scenarios
folder. Starts, once for the whole run: a test CA (ca.py) with every certificate the scenarios
name, one knotd (knot.py) serving every scenario's zone, one nginx for the well-behaved policy hosts
(SNI, one port) and one mtasts-testd for misbehaving policy hosts and every SMTP server. Then runs,
for each scenario, a few at a time:

    MTASTS check DOMAIN --json --dns-server 127.0.0.1:P --ca-file ca.pem --timeout 5
           --connect-to mta-sts.DOMAIN:443:127.0.0.1:P --connect-to MX:25:127.0.0.1:P ... [--state F]

(an MX with per-address servers gets `--connect-to ADDRESS:25:127.0.0.1:P` per address instead)

and compares its JSON with the scenario's [expect] table. Then one more run checks every
stateless scenario's domain at once (--from-file, --threads 2, --json): each domain must be judged
as in its own run, and the array must keep the input order. One line per scenario (and one for
that bulk run), then `scenarios: N passed, M failed`; exit 1 when any failed, 2 when the harness itself could not start.

--dry-run starts everything, prints each scenario's check command, and checks that the servers
answer as the scenario says (DNS records, policy host status/content type/certificate, SMTP
banner/STARTTLS/certificate), without running mtasts. README.md describes the scenario format.
"""
import argparse
import codecs
import ipaddress
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # ssl.TLSVersion.TLSv1 in probes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ca as ca_mod  # noqa: E402
import knot as knot_mod  # noqa: E402
import serve_host as serve_mod  # noqa: E402

CHECK_TIMEOUT = 5  # --timeout given to mtasts check
DEFAULT_MAX_SECONDS = 30  # a check that takes longer fails (the deadline must hold)

HTTPS_BEHAVIOURS = ("ok", "404", "500", "redirect", "html", "large", "drip", "reset", "h2only",
                    "garbage", "never-close", "huge", "no-content-type", "head-differs",
                    "chunked", "truncated")
SMTP_BEHAVIOURS = ("starttls", "no-starttls", "tls10-only", "silent", "garbage",
                   "starttls-refused", "close-after-banner", "starttls-lowercase", "banner-421",
                   "ehlo-rejected")
# Handled by the harness itself: nothing listens on the port given to --connect-to.
HARNESS_BEHAVIOURS = ("refused",)
SMTP_TLS_BEHAVIOURS = ("starttls", "tls10-only", "starttls-refused",  # need a certificate
                       "starttls-lowercase")
SEVERITIES = ("error", "warning", "info")
STATUSES = ("ok", "warning", "error")

# Every code of DESIGN.md's finding table; a scenario naming another code is a typo.
DESIGN_CODES = frozenset({
    "sts-record-missing", "sts-record-multiple", "sts-record-invalid", "sts-policy-host-missing",
    "sts-policy-fetch-error", "sts-policy-not-found", "sts-policy-redirect",
    "sts-policy-content-type", "sts-policy-too-large", "sts-policy-invalid", "sts-webpki-invalid",
    "certificate-expiring", "mx-not-in-policy", "policy-mx-unused", "mx-missing",
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "tls-version-weak", "tlsrpt-record-missing",
    "tlsrpt-record-multiple", "tlsrpt-record-invalid", "mode-testing", "mode-none",
    "max-age-short", "max-age-long", "policy-id-stale",
})
# DESIGN.md's table is the minimum set; these further codes of `mtasts check` (src/check) may be
# named too, where the minimum set has no fitting code.
KNOWN_CODES = DESIGN_CODES | {
    "mx-unreachable", "smtp-protocol-error", "validation-failure", "mx-null", "dns-error",
    "domain-invalid", "sts-record-cname", "sts-record-warning", "sts-policy-warning", "mx-cname",
    "tlsrpt-record-warning", "mx-addresses-skipped",
}

RR_TYPES = {"A", "AAAA", "MX", "TXT", "CNAME", "NS", "SOA", "CAA", "SRV", "PTR", "DNAME", "TLSA"}


class ScenarioError(Exception):
    pass


# --- scenarios ---------------------------------------------------------------------------------
def _strs(value, where):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ScenarioError(f"{where} must be a string or a list of strings")


def _check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table")
    extra = set(table) - set(allowed)
    if extra:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(extra))} "
                            f"(known: {', '.join(allowed)})")


def _cert_spec(table, where):
    """The certificate spec (ca.py) of a policy_host or mx table: `cert` (a kind, default valid)
    and `cert_names` (the exact names the certificate carries instead of the host's)."""
    kind = table.get("cert", "valid")
    if kind not in ca_mod.KINDS:
        raise ScenarioError(f"{where}.cert {kind!r} is not one of {', '.join(ca_mod.KINDS)}")
    names = table.get("cert_names")
    if names is None:
        return kind
    names = _strs(names, f"{where}.cert_names")
    if not names:
        raise ScenarioError(f"{where}.cert_names is empty")
    spec = ca_mod.make_spec(kind, names)
    try:
        ca_mod.parse_spec(spec)
    except ValueError as e:
        raise ScenarioError(f"{where}.cert_names: {e}") from None
    return spec


def _smtp_behaviour(table, where, default):
    behaviour = table.get("behaviour", default)
    if behaviour not in SMTP_BEHAVIOURS + HARNESS_BEHAVIOURS:
        raise ScenarioError(f"{where}.behaviour {behaviour!r} is not one of "
                            f"{', '.join(SMTP_BEHAVIOURS + HARNESS_BEHAVIOURS)}")
    return behaviour


def parse_record(record, origin):
    """(absolute owner, type, rdata tokens) of one zone-file line relative to ORIGIN."""
    tokens = record.split()
    if len(tokens) < 3:
        raise ScenarioError(f"record {record!r}: want OWNER [TTL] [IN] TYPE DATA")
    owner = tokens[0]
    i = 1
    while i < len(tokens) and tokens[i].upper() not in RR_TYPES:
        i += 1
    if i >= len(tokens) - 1:
        raise ScenarioError(f"record {record!r}: no known type ({', '.join(sorted(RR_TYPES))})")
    return absolute(owner, origin), tokens[i].upper(), tokens[i + 1:]


def absolute(name, origin):
    if name == "@":
        return origin
    if name.endswith("."):
        return name[:-1].lower()
    return f"{name}.{origin}".lower()


class Scenario:
    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            try:
                d = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ScenarioError(f"{path}: {e}") from None
        try:
            self._load(d)
        except ScenarioError as e:
            raise ScenarioError(f"{path}: {e}") from None

    def _load(self, d):
        _check_keys(d, ("description", "domain", "check_name", "records", "zones", "policy_host",
                        "mx", "before", "expect"), "top level")
        self.description = d.get("description", "")
        if "domain" not in d or not isinstance(d["domain"], str):
            raise ScenarioError("domain is required")
        self.domain = d["domain"].lower().rstrip(".")
        # What to pass to `mtasts check` (default: the domain), e.g. the Unicode form of an IDN.
        self.check_name = d.get("check_name", self.domain)
        self.zones = {self.domain: _strs(d.get("records", []), "records")}
        for zone, records in d.get("zones", {}).items():
            self.zones[zone.lower().rstrip(".")] = _strs(records, f"zones.{zone}")
        self.records = []  # (zone, line, owner, type, rdata)
        for zone, records in self.zones.items():
            for r in records:
                self.records.append((zone, r, *parse_record(r, zone)))

        self.policy_host = None
        if "policy_host" in d:
            p = d["policy_host"]
            _check_keys(p, ("server", "behaviour", "cert", "cert_names", "policy", "content_type",
                            "protocols", "encoding"), "policy_host")
            server = p.get("server", "nginx")
            behaviour = p.get("behaviour", "ok")
            if server not in ("nginx", "testd", "mtasts"):
                raise ScenarioError("policy_host.server must be nginx, testd or mtasts")
            if server == "mtasts" and behaviour != "ok":
                raise ScenarioError("mtasts serve only behaves (behaviour ok)")
            if server == "nginx" and behaviour != "ok":
                raise ScenarioError("nginx only behaves (behaviour ok); misbehaviour needs testd")
            if server == "testd" and behaviour not in HTTPS_BEHAVIOURS + HARNESS_BEHAVIOURS:
                raise ScenarioError(f"policy_host.behaviour {behaviour!r} is not one of "
                                    f"{', '.join(HTTPS_BEHAVIOURS + HARNESS_BEHAVIOURS)}")
            if "protocols" in p and server != "nginx":
                raise ScenarioError("policy_host.protocols is for nginx")
            encoding = p.get("encoding")
            if encoding is not None:
                if server != "nginx":
                    raise ScenarioError("policy_host.encoding is for nginx (testd bodies are JSON strings)")
                try:
                    codecs.lookup(encoding)
                except (LookupError, TypeError):
                    raise ScenarioError(f"policy_host.encoding {encoding!r} is not a Python codec") from None
            cert = _cert_spec(p, "policy_host")
            if server != "testd" and ca_mod.parse_spec(cert)[0] in ca_mod.WEAK_KINDS:
                raise ScenarioError(f"policy_host.cert {cert!r}: only testd serves it (nginx "
                                    "refuses weak certificates at OpenSSL security level 2)")
            self.policy_host = dict(server=server, behaviour=behaviour, cert=cert,
                                    host=f"mta-sts.{self.domain}", policy=p.get("policy"),
                                    content_type=p.get("content_type", "text/plain"),
                                    protocols=p.get("protocols", "TLSv1.2 TLSv1.3"),
                                    encoding=encoding)

        self.mx = []
        for i, m in enumerate(d.get("mx", [])):
            _check_keys(m, ("host", "behaviour", "cert", "cert_names", "addresses"), f"mx[{i}]")
            if "host" not in m:
                raise ScenarioError(f"mx[{i}].host is required")
            behaviour = _smtp_behaviour(m, f"mx[{i}]", "starttls")
            cert = _cert_spec(m, f"mx[{i}]")
            host = m["host"].lower().rstrip(".")
            entry = dict(host=host, behaviour=behaviour, cert=cert, addresses=None)
            # One server for the host (a --connect-to rule for the name), or with `addresses` one
            # per address of the host (rules for each address; the mx's behaviour and cert are
            # the defaults).
            entry["servers"] = [dict(name=f"{self.name}/mx/{host}", host=host, address=None,
                                     behaviour=behaviour, cert=cert)]
            if "addresses" in m:
                entry["addresses"] = self._mx_addresses(m, host, behaviour, f"mx[{i}]")
                entry["servers"] = entry["addresses"]
            self.mx.append(entry)
        used = [a["address"] for m in self.mx for a in (m["addresses"] or [])]
        if len(used) != len(set(used)):
            raise ScenarioError("an address is given to two MX servers: each address has one server")
        # Every MX in DNS needs a server here, else the check would reach for loopback port 25.
        served = {m["host"] for m in self.mx}
        for zone, line, owner, rtype, rdata in self.records:
            if rtype == "MX" and len(rdata) >= 2 and rdata[1] != ".":
                target = absolute(rdata[1], zone)
                if target not in served:
                    raise ScenarioError(f"MX {target} (record {line!r}) has no [[mx]] entry; give it "
                                        "one (behaviour \"refused\" for a closed port)")

        self.before = None
        if "before" in d:
            _check_keys(d["before"], ("policy",), "before")
            if not self.policy_host or self.policy_host["server"] != "nginx":
                raise ScenarioError("[before] needs an nginx policy_host (the policy is swapped on disk)")
            self.before = d["before"].get("policy")
            if not isinstance(self.before, str):
                raise ScenarioError("before.policy must be a string")

        e = d.get("expect")
        if not isinstance(e, dict):
            raise ScenarioError("[expect] is required")
        _check_keys(e, ("status", "codes", "absent", "one_of", "hint", "state", "max_seconds"),
                    "expect")
        self.status = e.get("status")
        if self.status not in STATUSES:
            raise ScenarioError(f"expect.status must be one of {', '.join(STATUSES)}")
        self.codes = _strs(e.get("codes", []), "expect.codes")
        self.absent = _strs(e.get("absent", []), "expect.absent")
        self.one_of = _strs(e.get("one_of", []), "expect.one_of")
        for code in self.codes + self.absent + self.one_of:
            if code not in KNOWN_CODES:
                raise ScenarioError(f"unknown finding code {code!r} (DESIGN.md's table)")
        self.hints = _strs(e.get("hint", []), "expect.hint")
        for h in self.hints:
            if h.startswith("re:"):
                try:
                    re.compile(h[3:])
                except re.error as err:
                    raise ScenarioError(f"expect.hint {h!r}: {err}") from None
        self.state = e.get("state") or None
        if self.state:
            self.state = os.path.join(os.path.dirname(self.path), self.state)
            if not os.path.isfile(self.state):
                raise ScenarioError(f"expect.state file {self.state} does not exist")
        self.max_seconds = float(e.get("max_seconds", DEFAULT_MAX_SECONDS))

    def _mx_addresses(self, m, host, default_behaviour, where):
        """The `addresses` of an MX: [{address, behaviour, cert, cert_names}], loopback only, and
        exactly the host's A/AAAA records in the zone (so DNS, not the harness, decides what the
        checker probes; each address is reached through a --connect-to rule for it)."""
        addrs = m["addresses"]
        if not isinstance(addrs, list) or not addrs:
            raise ScenarioError(f"{where}.addresses must be a non-empty list of tables")
        out = []
        for k, a in enumerate(addrs):
            w = f"{where}.addresses[{k}]"
            _check_keys(a, ("address", "behaviour", "cert", "cert_names"), w)
            try:
                ip = ipaddress.ip_address(a.get("address", ""))
            except ValueError:
                raise ScenarioError(f"{w}.address must be an IP address") from None
            if not ip.is_loopback:
                raise ScenarioError(f"{w}.address {ip} is not loopback (127.0.0.0/8 or ::1): the "
                                    "harness never contacts anything else")
            spec = dict(m, **a)  # the mx's cert/cert_names unless the address gives its own
            if "cert" in a and "cert_names" not in a:
                spec.pop("cert_names", None)
            out.append(dict(name=f"{self.name}/mx/{host}/{ip}", host=host, address=str(ip),
                            behaviour=_smtp_behaviour(a, w, default_behaviour),
                            cert=_cert_spec(spec, w)))
        listed = {a["address"] for a in out}
        if len(listed) != len(out):
            raise ScenarioError(f"{where}.addresses: an address twice")
        in_zone = set()
        for zone, line, owner, rtype, rdata in self.records:
            if owner == host and rtype in ("A", "AAAA") and rdata:
                try:
                    in_zone.add(str(ipaddress.ip_address(rdata[0])))
                except ValueError:
                    raise ScenarioError(f"record {line!r}: not an address") from None
                if not ipaddress.ip_address(rdata[0]).is_loopback:
                    raise ScenarioError(f"record {line!r}: {host} has addresses, all must be loopback")
        if in_zone != listed:
            raise ScenarioError(f"{where}.addresses {sorted(listed)} differ from the A/AAAA records "
                                f"of {host} in the zone {sorted(in_zone)}")
        return out

    def certs(self):
        wanted = []
        if self.policy_host and self.policy_host["behaviour"] not in HARNESS_BEHAVIOURS:
            wanted.append((self.policy_host["host"], self.policy_host["cert"]))
        for m in self.mx:
            for srv in m["servers"]:
                if srv["behaviour"] in SMTP_TLS_BEHAVIOURS:
                    wanted.append((srv["host"], srv["cert"]))
        return wanted


def load_scenarios(names, directory):
    if not names:
        names = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                       if f.endswith(".toml"))
    out, errors = [], []
    for n in names:
        path = n if (os.sep in n or n.endswith(".toml")) else os.path.join(directory, n + ".toml")
        try:
            out.append(Scenario(path))
        except (ScenarioError, OSError) as e:
            errors.append(str(e))
    zones = {}
    for s in out:
        for z in s.zones:
            if z in zones and zones[z] != s.name:
                errors.append(f"zone {z} is in both {zones[z]} and {s.name}: each scenario has its own")
            zones[z] = s.name
    return out, errors


# --- processes ---------------------------------------------------------------------------------
class Processes:
    """Everything the harness started, stopped in reverse order on exit (also on ^C/SIGTERM)."""

    def __init__(self):
        self.procs = []
        self.lock = threading.Lock()

    def popen(self, args, log=None, daemon=True, **kw):
        out = open(log, "w") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                                 preexec_fn=knot_mod._die_with_parent if daemon else None,
                                 start_new_session=True, **kw)
        finally:
            if log:
                out.close()
        with self.lock:
            self.procs.append(p)
        return p

    def forget(self, p):
        with self.lock:
            if p in self.procs:
                self.procs.remove(p)

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            except ProcessLookupError:
                pass
        self.forget(p)

    def stop_all(self):
        with self.lock:
            procs = list(reversed(self.procs))
        for p in procs:
            self.stop(p)


def wait_until(what, predicate, deadline, alive=None, interval=0.02):
    """Poll PREDICATE until true; fail when DEADLINE seconds pass or ALIVE() turns false."""
    end = time.monotonic() + deadline
    while True:
        if predicate():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the process exited")
        if time.monotonic() > end:
            raise RuntimeError(f"{what}: not ready within {deadline:.0f}s")
        time.sleep(interval)


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class Nginx:
    """One nginx for the well-behaved policy hosts: one SNI server block per host, all on one
    loopback port. nginx negotiates the TLS version with the port's default server, before SNI
    picks a block, so hosts with other `protocols` (TLS 1.0 only...) get a port of their own."""

    DEFAULT_PROTOCOLS = "TLSv1.2 TLSv1.3"

    def __init__(self, procs, workdir, ca):
        self.procs, self.dir, self.ca = procs, os.path.join(workdir, "nginx"), ca
        self.hosts = {}  # host -> scenario
        self.ports = {}  # protocols -> port
        self.proc = None

    @property
    def port(self):
        return self.ports.get(self.DEFAULT_PROTOCOLS) or next(iter(self.ports.values()), None)

    def port_for(self, host):
        return self.ports[self.hosts[host].policy_host["protocols"]]

    def add(self, scenario):
        self.hosts[scenario.policy_host["host"]] = scenario

    def policy_file(self, host):
        return os.path.join(self.dir, "www", host, ".well-known", "mta-sts.txt")

    def write_policy(self, host, text):
        path = self.policy_file(host)
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        encoding = self.hosts[host].policy_host["encoding"] or "utf-8"
        with open(path + ".tmp", "wb") as f:
            f.write(text.encode(encoding))
        os.replace(path + ".tmp", path)

    @staticmethod
    def _tls(protocols):
        lines = f"        ssl_protocols {protocols};\n"
        if re.search(r"TLSv1(\.1)?(\s|$)", protocols):  # OpenSSL 3 allows these at level 0 only
            lines += "        ssl_ciphers DEFAULT:@SECLEVEL=0;\n"
        return lines

    def _config(self, ports):
        d = self.dir
        blocks = []
        for protocols, port in sorted(ports.items()):
            # Unknown names get no certificate at all, as a host with no site for them would.
            blocks.append(f"""    server {{
        listen 127.0.0.1:{port} ssl default_server;
{self._tls(protocols)}        ssl_reject_handshake on;
    }}
""")
        for host, s in sorted(self.hosts.items()):
            ph = s.policy_host
            chain, key = self.ca.paths(host, ph["cert"])
            mime, _, params = ph["content_type"].partition(";")
            charset = re.search(r"charset\s*=\s*([^;\s]+)", params or "")
            blocks.append(f"""    server {{
        listen 127.0.0.1:{ports[ph["protocols"]]} ssl;
        server_name {host};
        ssl_certificate {chain};
        ssl_certificate_key {key};
{self._tls(ph["protocols"])}        root {d}/www/{host};
        location = /.well-known/mta-sts.txt {{
            types {{ }}
            default_type {mime.strip()};
            {f"charset {charset.group(1)};" if charset else "charset off;"}
        }}
        location / {{ return 404; }}
    }}
""")
        return f"""# generated by run_scenarios.py
user root;
worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server_tokens off;
    server_names_hash_bucket_size 128;  # long scenario host names
    charset_types text/plain;
{"".join(blocks)}}}
"""

    def start(self, deadline=15.0):
        if not self.hosts:
            return
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        for host, s in self.hosts.items():
            os.makedirs(os.path.dirname(self.policy_file(host)), exist_ok=True)
            self.write_policy(host, s.before if s.before is not None else s.policy_host["policy"])
        conf = os.path.join(self.dir, "nginx.conf")
        groups = sorted({s.policy_host["protocols"] for s in self.hosts.values()})
        last = ""
        for _ in range(5):
            ports = {}
            while len(set(ports.values())) < len(groups):
                ports = {g: knot_mod.free_port() for g in groups}
            with open(conf, "w") as f:
                f.write(self._config(ports))
            t = subprocess.run(["nginx", "-t", "-q", "-p", self.dir, "-e", f"{self.dir}/error.log",
                                "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if t.returncode != 0:
                raise RuntimeError(f"nginx -t rejected {conf}:\n{t.stdout}")
            self.proc = self.procs.popen(["nginx", "-p", self.dir, "-e", f"{self.dir}/error.log",
                                          "-c", conf], log=os.path.join(self.dir, "nginx.out"))
            self.ports = ports
            # Ready when a TLS handshake succeeds on every port (nginx binds all before serving).
            probes = {}
            for host, s in sorted(self.hosts.items()):
                probes.setdefault(ports[s.policy_host["protocols"]], (host, s.policy_host["protocols"]))
            try:
                wait_until("nginx", lambda: all(tls_handshake(p, h, tls10="TLSv1.2" not in pr)
                                                for p, (h, pr) in probes.items()),
                           deadline, alive=lambda: self.proc.poll() is None)
                return
            except RuntimeError as e:
                last = f"{e}\n{tail(os.path.join(self.dir, 'error.log'))}"
                self.procs.stop(self.proc)
                if "Address already in use" not in last:
                    break
        raise RuntimeError(last)


def tls_handshake(port, sni, tls10=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls10:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            with ctx.wrap_socket(s, server_hostname=sni):
                return True
    except OSError:
        return False


class Testd:
    """One mtasts-testd with a listener per misbehaving policy host and per SMTP server."""

    def __init__(self, procs, binary, workdir, ca):
        self.procs, self.binary, self.ca = procs, binary, ca
        self.dir = os.path.join(workdir, "testd")
        self.listeners = []
        self.ports = {}
        self.proc = None

    def add(self, name, kind, behaviour, host, cert, body=None, content_type=None):
        entry = {"name": name, "kind": kind, "listen": "127.0.0.1:0", "behaviour": behaviour,
                 "hostname": host}
        if kind == "https" or behaviour in SMTP_TLS_BEHAVIOURS:
            entry["cert"], entry["key"] = self.ca.paths(host, cert)
        if body is not None:
            entry["body"] = body
        if content_type is not None:
            entry["content_type"] = content_type
        self.listeners.append(entry)

    def start(self, deadline=15.0):
        if not self.listeners:
            return
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise RuntimeError(f"mtasts-testd not found or not executable: {self.binary}")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "testd.json")
        ready = os.path.join(self.dir, "ready.json")
        with open(conf, "w") as f:
            json.dump({"listeners": self.listeners}, f, indent=1)
        log = os.path.join(self.dir, "testd.log")
        self.proc = self.procs.popen([self.binary, "--config", conf, "--ready", ready], log=log)
        try:
            wait_until("mtasts-testd", lambda: os.path.exists(ready), deadline,
                       alive=lambda: self.proc.poll() is None)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{tail(log)}") from None
        with open(ready) as f:
            self.ports = json.load(f)["listeners"]
        missing = [l["name"] for l in self.listeners if l["name"] not in self.ports]
        if missing:
            raise RuntimeError(f"mtasts-testd's ready file lacks {', '.join(missing)}")


class Internet:
    """The whole simulated internet for a set of scenarios."""

    def __init__(self, scenarios, testd_binary, workdir, procs, log=print, mtasts=None):
        self.scenarios, self.dir, self.procs, self.log = scenarios, workdir, procs, log
        self.ca = ca_mod.CA(os.path.join(workdir, "ca"))
        self.nginx = Nginx(procs, workdir, self.ca)
        self.serve = serve_mod.MtastsServe(procs, workdir, self.ca, mtasts)
        self.testd = Testd(procs, testd_binary, workdir, self.ca)
        self.dns = None
        self.closed_port = None
        self.targets = {}  # scenario name -> {(host, port): (kind, behaviour, cert, listen port)}

    def start(self):
        t0 = time.monotonic()
        self.ca.create()
        wanted = sorted({c for s in self.scenarios for c in s.certs()})
        self.ca.leaves(wanted)
        t1 = time.monotonic()
        zones = {}
        for s in self.scenarios:
            zones.update(s.zones)
        self.dns = knot_mod.Knot(os.path.join(self.dir, "knot"), zones)
        self.dns.start()
        t2 = time.monotonic()
        for s in self.scenarios:
            ph = s.policy_host
            if ph and ph["server"] == "nginx":
                self.nginx.add(s)
            elif ph and ph["server"] == "mtasts":
                self.serve.add(s)
            elif ph and ph["behaviour"] not in HARNESS_BEHAVIOURS:
                self.testd.add(f"{s.name}/policy", "https", ph["behaviour"], ph["host"], ph["cert"],
                               body=ph["policy"], content_type=ph["content_type"])
            for m in s.mx:
                for srv in m["servers"]:
                    if srv["behaviour"] not in HARNESS_BEHAVIOURS:
                        self.testd.add(srv["name"], "smtp", srv["behaviour"], srv["host"], srv["cert"])
        self.nginx.start()
        self.testd.start()
        self.serve.start(wait_until, tls_handshake)
        self.closed_port = knot_mod.free_port()  # nothing listens here
        t3 = time.monotonic()
        self.log(f"harness: {len(wanted)} certificates in {t1 - t0:.1f}s, knotd with {len(zones)} "
                 f"zones on 127.0.0.1:{self.dns.port} in {t2 - t1:.1f}s, "
                 f"nginx ({len(self.nginx.hosts)} hosts) on {', '.join(map(str, self.nginx.ports.values()))}, "
                 f"testd ({len(self.testd.listeners)} listeners) in {t3 - t2:.1f}s")

    def stop(self):
        if self.dns:
            self.dns.stop()
        self.procs.stop_all()

    def policy_port(self, s):
        ph = s.policy_host
        if not ph or ph["behaviour"] in HARNESS_BEHAVIOURS:
            return self.closed_port
        if ph["server"] == "nginx":
            return self.nginx.port_for(ph["host"])
        if ph["server"] == "mtasts":
            return self.serve.port
        return self.testd.ports[f"{s.name}/policy"]

    def mx_port(self, s, srv):
        """The port of one SMTP server (an entry of an mx's `servers`)."""
        if srv["behaviour"] in HARNESS_BEHAVIOURS:
            return self.closed_port
        return self.testd.ports[srv["name"]]

    def connect_to(self, s):
        """--connect-to rules: by name for the policy host and single-server MX hosts, by address
        (`127.0.0.21:25:...`, `[::1]:25:...`) for MX hosts with `addresses`. Every target is
        127.0.0.1, and every address a rule names is loopback (checked when the scenario loads)."""
        args = ["--connect-to", f"mta-sts.{s.domain}:443:127.0.0.1:{self.policy_port(s)}"]
        for m in s.mx:
            for srv in m["servers"]:
                a = srv["address"]
                left = m["host"] if a is None else (f"[{a}]" if ":" in a else a)
                args += ["--connect-to", f"{left}:25:127.0.0.1:{self.mx_port(s, srv)}"]
        return args

    def common_args(self):
        return ["--dns-server", f"127.0.0.1:{self.dns.port}", "--ca-file", self.ca.ca_file,
                "--timeout", str(CHECK_TIMEOUT)]

    def command(self, mtasts, s, state=None):
        args = [mtasts, "check", s.check_name, "--json"] + self.common_args() + self.connect_to(s)
        if state:
            args += ["--state", state]
        return args

    def bulk_command(self, mtasts, scenarios, list_file):
        args = [mtasts, "check", "--from-file", list_file, "--json", "--threads", "2",
                "--concurrency", "16"] + self.common_args()
        for s in scenarios:
            args += self.connect_to(s)
        return args


# --- judging a check -----------------------------------------------------------------------------
def judge(s, rc, stdout, stderr, elapsed):
    """Problems with one check run, as a list of strings (empty: PASS)."""
    problems = []
    if elapsed > s.max_seconds:
        problems.append(f"took {elapsed:.1f}s (limit {s.max_seconds:.0f}s)")
    if rc not in (0, 1):
        problems.append(f"exit code {rc} (want 0 or 1); stderr: {stderr.strip()[-300:]!r}")
        return problems, None
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        problems.append(f"stdout is not one JSON document ({e}): {stdout[:200]!r}")
        return problems, None
    if isinstance(doc, list):
        mine = [d for d in doc if isinstance(d, dict) and d.get("domain") == s.domain]
        if len(mine) != 1:
            problems.append(f"JSON array without exactly one entry for {s.domain}")
            return problems, None
        doc = mine[0]
    if not isinstance(doc, dict):
        return problems + ["JSON is not an object"], None
    if str(doc.get("domain", "")).lower().rstrip(".") != s.domain:
        problems.append(f"domain {doc.get('domain')!r} (want {s.domain!r})")
    findings = doc.get("findings")
    if not isinstance(findings, list):
        return problems + ["no findings array"], doc
    codes = []
    for i, f in enumerate(findings):
        if not isinstance(f, dict):
            problems.append(f"findings[{i}] is not an object")
            continue
        code, sev = f.get("code"), f.get("severity")
        codes.append(code)
        if not isinstance(code, str) or not code:
            problems.append(f"findings[{i}] has no code")
        if sev not in SEVERITIES:
            problems.append(f"finding {code}: severity {sev!r}")
        if not isinstance(f.get("message"), str) or not f["message"].strip():
            problems.append(f"finding {code}: empty message")
        if sev in ("error", "warning") and (not isinstance(f.get("fix"), str) or not f["fix"].strip()):
            problems.append(f"finding {code} ({sev}) has no fix")
    status = doc.get("status")
    if status != s.status:
        problems.append(f"status {status!r} (want {s.status!r})")
    sevs = {f.get("severity") for f in findings if isinstance(f, dict)}
    implied = "error" if "error" in sevs else "warning" if "warning" in sevs else "ok"
    if status in STATUSES and status != implied:
        problems.append(f"status {status!r} does not follow from the findings' severities ({implied})")
    if rc != (1 if status == "error" else 0):
        problems.append(f"exit code {rc} with status {status!r}")
    missing = [c for c in s.codes if c not in codes]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    unwanted = [c for c in s.absent if c in codes]
    if unwanted:
        problems.append(f"unwanted {', '.join(unwanted)}")
    if s.one_of and not any(c in codes for c in s.one_of):
        problems.append(f"none of {', '.join(s.one_of)}")
    texts = [f"{f.get('message', '')}\n{f.get('fix', '')}" for f in findings if isinstance(f, dict)]
    for h in s.hints:
        if h.startswith("re:"):
            hit = any(re.search(h[3:], t, re.IGNORECASE) for t in texts)
        else:
            hit = any(h.lower() in t.lower() for t in texts)
        if not hit:
            problems.append(f"no finding message or fix mentions {h!r}")
    return problems, doc


def summary(doc):
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        return ""
    return ", ".join(f"{f.get('code')}({str(f.get('severity', '?'))[:1]})"
                     for f in doc["findings"] if isinstance(f, dict)) or "no findings"


class Runner:
    def __init__(self, internet, mtasts, procs, verbose=False):
        self.net, self.mtasts, self.procs, self.verbose = internet, mtasts, procs, verbose
        self.stopping = threading.Event()

    def check(self, s, state):
        args = self.net.command(self.mtasts, s, state)
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        with self.procs.lock:
            self.procs.procs.append(p)
        try:
            out, err = p.communicate(timeout=s.max_seconds + 5)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return -9, out, err + f"\n(killed after {s.max_seconds + 5:.0f}s)", time.monotonic() - t0
        finally:
            self.procs.forget(p)
        return p.returncode, out, err, time.monotonic() - t0

    def run(self, s):
        if self.stopping.is_set():
            return s, False, "not run (stopping)", None
        work = os.path.join(self.net.dir, "state", s.name)
        os.makedirs(work, exist_ok=True)
        state = None
        if s.state:
            state = os.path.join(work, os.path.basename(s.state))
            shutil.copyfile(s.state, state)
        if s.before is not None:
            # First observation with the earlier policy; then the policy changes on disk (same id).
            state = state or os.path.join(work, "state.json")
            rc, out, err, _ = self.check(s, state)
            if rc not in (0, 1):
                return s, False, f"[before] run: exit code {rc}: {err.strip()[-300:]!r}", None
            self.net.nginx.write_policy(s.policy_host["host"], s.policy_host["policy"])
        rc, out, err, elapsed = self.check(s, state)
        problems, doc = judge(s, rc, out, err, elapsed)
        detail = f"({elapsed:.1f}s) findings: {summary(doc)}" if doc else f"({elapsed:.1f}s)"
        if problems:
            text = "; ".join(problems) + " " + detail
            if self.verbose:
                text += "\n    command: " + " ".join(self.net.command(self.mtasts, s, state))
                text += "\n    stdout: " + out.strip()[:4000] + "\n    stderr: " + err.strip()[-2000:]
            return s, False, text, doc
        return s, True, detail, doc

    def bulk(self, scenarios):
        """All stateless scenarios with distinct host names in one `check --from-file` run:
        (ok, text). Each domain is judged as in its own run; the array keeps the input order."""
        chosen, hosts = [], set()
        for s in scenarios:
            # Address rules apply to every host of the run: an address may serve one scenario.
            names = {f"mta-sts.{s.domain}"} | {m["host"] for m in s.mx} | \
                {srv["address"] for m in s.mx for srv in m["servers"] if srv["address"]}
            if s.state or s.before is not None or "\n" in s.check_name or names & hosts:
                continue
            hosts |= names
            chosen.append(s)
        if len(chosen) < 2:
            return True, f"{len(chosen)} stateless scenarios: nothing to run together"
        list_file = os.path.join(self.net.dir, "bulk-domains.txt")
        with open(list_file, "w", encoding="utf-8") as f:
            f.write("# every stateless scenario, one per line\n")
            f.writelines(s.check_name + "\n" for s in chosen)
        args = self.net.bulk_command(self.mtasts, chosen, list_file)
        limit = max(s.max_seconds for s in chosen) + 10
        t0 = time.monotonic()
        p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=limit + 5)
        elapsed = time.monotonic() - t0
        want_rc = 1 if any(s.status == "error" for s in chosen) else 0
        try:
            docs = json.loads(p.stdout)
        except ValueError as e:
            return False, f"stdout is not JSON ({e}); exit {p.returncode}; stderr {p.stderr[-300:]!r}"
        problems = []
        if p.returncode != want_rc:
            problems.append(f"exit code {p.returncode} (want {want_rc})")
        if elapsed > limit:
            problems.append(f"took {elapsed:.1f}s (limit {limit:.0f}s)")
        if not isinstance(docs, list) or len(docs) != len(chosen):
            return False, f"want an array of {len(chosen)} documents: {p.stdout[:200]!r}"
        for s, doc in zip(chosen, docs):
            rc = 1 if s.status == "error" else 0
            mine, _ = judge(s, rc, json.dumps(doc), "", 0)
            problems += [f"{s.name}: {m}" for m in mine]
        if problems:
            return False, "; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else "")
        return True, f"{len(chosen)} domains in one run, 2 threads, {elapsed:.1f}s: same verdicts, input order"


# --- dry run: do the servers answer as the scenario says? ---------------------------------------
def curl(url_host, port, ca_file, *extra):
    args = ["curl", "-sS", "--max-time", "4", "--cacert", ca_file,
            "--resolve", f"{url_host}:{port}:127.0.0.1", "-o", "-", "-w",
            "\n%{http_code} %{content_type}", *extra,
            f"https://{url_host}:{port}/.well-known/mta-sts.txt"]
    # Decoded by hand: text=True would also turn CRLF (and a lone CR) into LF, so a policy with
    # CRLF line ends would never equal the scenario's.
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (r.returncode, r.stdout.decode("utf-8", errors="replace"),
            r.stderr.decode("utf-8", errors="replace"))


# The curl/Python verification error each certificate kind must give (lower case substrings).
CERT_ERRORS = {
    "expired": ("expired",),
    "not-yet-valid": ("not yet valid",),
    "wrong-name": ("no alternative certificate subject name", "hostname mismatch", "does not match"),
    "self-signed": ("self-signed", "self signed"),
    "incomplete-chain": ("unable to get local issuer",),
    "unknown-ca": ("unable to get local issuer",),
    "expired-intermediate": ("expired",),
    "weak-key": ("key too weak", "too small"),
    "sha1": ("too weak",),
}


def content_type_matches(served, wanted):
    """As the checker judges it: the media type compared (case-insensitive), parameters allowed
    (`mtasts serve` adds `; charset=utf-8`). A scenario that names parameters wants exactly them."""
    def norm(t):
        return t.replace(" ", "").lower()
    if ";" in wanted:
        return norm(served) == norm(wanted)
    return norm(served.partition(";")[0]) == norm(wanted)


def verify_policy_host(net, s):
    ph = s.policy_host
    port = net.policy_port(s)
    host = f"mta-sts.{s.domain}"
    if not ph or ph["behaviour"] == "refused":
        return [] if not can_connect(port) else [f"policy port {port} accepts connections"]
    if ph["server"] == "testd" and ph["behaviour"] not in ("ok", "404", "500", "redirect", "html",
                                                           "large", "no-content-type",
                                                           "head-differs", "chunked"):
        return [] if can_connect(port) else [f"testd policy listener {port} refuses connections"]
    problems = []
    extra = []
    if ph["protocols"].split() == ["TLSv1"]:
        rc, _, err = curl(host, port, net.ca.ca_file)
        if rc == 0:
            problems.append("TLS 1.0-only policy host accepted a TLS 1.2 client")
        extra = ["--tlsv1.0", "--tls-max", "1.0", "--ciphers", "DEFAULT@SECLEVEL=0"]
    rc, out, err = curl(host, port, net.ca.ca_file, *extra)
    cert_problem = ca_mod.verify_problem(host, ph["cert"])
    if cert_problem:
        if rc == 0:
            problems.append(f"policy host with a {ph['cert']} certificate verified")
        elif not any(w in err.lower() for w in CERT_ERRORS[cert_problem]):
            problems.append(f"policy host ({ph['cert']}): unexpected curl error {err.strip()!r}")
        extra = ["-k", *extra]
        rc, out, err = curl(host, port, net.ca.ca_file, *extra)
    if rc != 0:
        return problems + [f"curl https://{host}: {err.strip()}"]
    body, _, meta = out.rpartition("\n")
    code, _, ctype = meta.partition(" ")
    want_code = {"404": "404", "500": "500", "redirect": "301"}.get(ph["behaviour"], "200")
    if ph["server"] == "nginx" and ph["policy"] is None:
        want_code = "404"
    if code != want_code and not (ph["behaviour"] == "redirect" and code.startswith("3")):
        problems.append(f"policy host answered {code} (want {want_code})")
    if want_code == "200":
        want_type = {"html": "text/html", "no-content-type": ""}.get(ph["behaviour"],
                                                                     ph["content_type"])
        if not content_type_matches(ctype, want_type):
            problems.append(f"content type {ctype!r} (want {want_type!r})")
        if ph["behaviour"] == "large" and len(body) <= 65536:
            problems.append(f"large body is only {len(body)} bytes")
        served = s.before if s.before is not None else ph["policy"]  # dry runs never swap
        if served is not None and ph.get("encoding"):  # curl's bytes, decoded as curl() does
            served = served.encode(ph["encoding"]).decode("utf-8", errors="replace")
        if ph["server"] == "mtasts":  # mtasts serve writes its own serialization, CRLF lines
            body = body.replace("\r\n", "\n")
        if ph["behaviour"] in ("ok", "no-content-type", "head-differs", "chunked") \
                and served is not None \
                and body != served:
            problems.append("served policy differs from the scenario's")
    if ph["behaviour"] == "head-differs":
        rc, out, err = curl(host, port, net.ca.ca_file, "-I", *extra)
        code = out.rpartition("\n")[2].partition(" ")[0]
        if rc != 0 or code != "405":
            problems.append(f"HEAD answered {code or err.strip()!r} (want 405)")
    return problems


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def ehlo_keywords(lines):
    """The extension keywords of a 250 EHLO reply (the first line is the greeting)."""
    return {l[4:].split()[0].upper() for l in lines[1:] if len(l) > 4 and l[4:].split()}


def smtp_probe(port, host, ca_file, tls10=False, verify=True):
    """(banner, ehlo lines, TLS error or None, TLS version) of one SMTP STARTTLS session."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        f = sock.makefile("rb")

        def reply():
            lines = []
            while True:
                line = f.readline(1024).decode("ascii", "replace")
                if not line:
                    break
                lines.append(line.rstrip("\r\n"))
                if len(line) < 4 or line[3] != "-":
                    break
            return lines

        banner = reply()
        sock.sendall(b"EHLO harness.test\r\n")
        ehlo = reply()
        if "STARTTLS" not in ehlo_keywords(ehlo):
            sock.sendall(b"QUIT\r\n")
            return banner, ehlo, None, None
        sock.sendall(b"STARTTLS\r\n")
        go = reply()
        if not go or not go[0].startswith("220"):
            return banner, ehlo, f"STARTTLS answered {go!r}", None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_verify_locations(ca_file)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if tls10:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        try:
            with ctx.wrap_socket(sock, server_hostname=host) as t:
                version = t.version()
                t.sendall(b"QUIT\r\n")
                return banner, ehlo, None, version
        except ssl.SSLCertVerificationError as e:
            return banner, ehlo, f"verify: {e.verify_message}", None
        except (ssl.SSLError, OSError) as e:
            return banner, ehlo, f"tls: {e}", None


def verify_mx(net, s, m):
    """One SMTP server (an entry of an mx's `servers`) answers as its behaviour says."""
    port = net.mx_port(s, m)
    b = m["behaviour"]
    if b == "refused":
        return [f"MX {m['host']}: port {port} accepts connections"] if can_connect(port) else []
    if b in ("silent", "garbage", "close-after-banner", "banner-421"):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
                sock.settimeout(0.5 if b == "silent" else 3)
                try:
                    data = sock.recv(512)
                except socket.timeout:
                    data = None
        except OSError as e:
            return [f"MX {m['host']}: {e}"]
        if b == "silent" and data is not None:
            return [f"MX {m['host']} (silent) sent {data[:40]!r}"]
        if b == "garbage" and (not data or data.startswith(b"220")):
            return [f"MX {m['host']} (garbage) sent {(data or b'')[:40]!r}"]
        if b == "close-after-banner" and (not data or not data.startswith(b"220")):
            return [f"MX {m['host']} (close-after-banner) sent {(data or b'')[:40]!r}"]
        if b == "banner-421" and (not data or not data.startswith(b"421 ")):
            return [f"MX {m['host']} (banner-421) sent {(data or b'')[:40]!r}"]
        return []
    try:
        banner, ehlo, err, version = smtp_probe(port, m["host"], net.ca.ca_file,
                                                tls10=(b == "tls10-only"))
    except OSError as e:
        return [f"MX {m['host']}: {e}"]
    if not banner or not banner[0].startswith("220"):
        return [f"MX {m['host']}: banner {banner!r}"]
    offers = "STARTTLS" in ehlo_keywords(ehlo)
    if b == "no-starttls":
        return [f"MX {m['host']} offers STARTTLS"] if offers else []
    if b == "ehlo-rejected":
        return [] if ehlo and ehlo[0].startswith("502") else [f"MX {m['host']}: EHLO answered {ehlo!r}"]
    if not offers:
        return [f"MX {m['host']} ({b}) does not offer STARTTLS: {ehlo!r}"]
    if b == "starttls-refused":
        return [] if err and err.startswith("STARTTLS answered") else [f"MX {m['host']}: STARTTLS worked"]
    problems = []
    if b == "tls10-only":
        _, _, e12, _ = smtp_probe(port, m["host"], net.ca.ca_file, verify=False)
        if e12 is None:
            problems.append(f"MX {m['host']} (tls10-only) accepted TLS 1.2+")
    cert_problem = ca_mod.verify_problem(m["host"], m["cert"])
    if cert_problem:
        if err is None:
            return problems + [f"MX {m['host']} with a {m['cert']} certificate verified"]
        if not any(w in err.lower() for w in CERT_ERRORS[cert_problem]):
            problems.append(f"MX {m['host']} ({m['cert']}): unexpected error {err!r}")
    elif err is not None:
        problems.append(f"MX {m['host']}: {err}")
    elif b == "tls10-only" and version != "TLSv1":
        problems.append(f"MX {m['host']} (tls10-only) negotiated {version}")
    return problems


def verify_dns(net, s):
    """Every record of the scenario is in knotd's answer to its owner and type."""
    wanted = [r for r in s.records if not r[2].startswith("*") and r[3] != "SOA"]
    got = net.dns.query_many(sorted({(owner, rtype) for _, _, owner, rtype, _ in wanted}))
    problems = []
    for zone, line, owner, rtype, rdata in wanted:
        rcode, answers = got.get((owner, rtype), (None, []))
        if not any(t == rtype and o == owner for o, t, _ in answers):
            problems.append(f"DNS {owner} {rtype}: rcode {rcode}, no such record (from {line!r})")
    return problems


def verify_addresses(net, s):
    """MX hosts with `addresses`: DNS gives exactly those addresses, all loopback; every
    --connect-to rule goes to 127.0.0.1 and names only loopback addresses."""
    problems = []
    hosts = [m for m in s.mx if m["addresses"]]
    got = net.dns.query_many([(m["host"], t) for m in hosts for t in ("A", "AAAA")]) if hosts else {}
    for m in hosts:
        answered = set()
        for rtype in ("A", "AAAA"):
            for owner, t, data in got.get((m["host"], rtype), (None, []))[1]:
                if t == rtype and isinstance(data, str):
                    answered.add(str(ipaddress.ip_address(data)))
        listed = {a["address"] for a in m["addresses"]}
        if answered != listed:
            problems.append(f"DNS {m['host']} A/AAAA: {sorted(answered)} (want {sorted(listed)})")
    args = net.connect_to(s)
    for rule in args[1::2]:
        if rule.startswith("["):
            host, _, rest = rule[1:].partition("]:")
        else:
            host, _, rest = rule.partition(":")
        target = rest.split(":")[1] if rest.count(":") == 2 else None
        if target != "127.0.0.1":
            problems.append(f"--connect-to {rule}: the target is not 127.0.0.1")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue  # a name rule
        if not ip.is_loopback:
            problems.append(f"--connect-to {rule}: {ip} is not loopback")
    return problems


def dry_run(net, s, mtasts):
    problems = verify_dns(net, s) + verify_policy_host(net, s) + verify_addresses(net, s)
    for m in s.mx:
        for srv in m["servers"]:
            where = f" at {srv['address']}" if srv["address"] else ""
            problems += [p.replace(f"MX {m['host']}", f"MX {m['host']}{where}", 1)
                         for p in verify_mx(net, s, srv)]
    return problems


# --- main ----------------------------------------------------------------------------------------
def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mtasts")
    ap.add_argument("testd")
    ap.add_argument("scenario", nargs="*")
    ap.add_argument("--dry-run", action="store_true",
                    help="start everything, print the commands, check the servers; run no check")
    ap.add_argument("--serve", action="store_true",
                    help="start everything, print the commands, serve until ^C (debug by hand)")
    ap.add_argument("--jobs", "-j", type=int, default=4, help="checks at once (default 4)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--verbose", "-v", action="store_true", help="show output of failed checks")
    ap.add_argument("--scenarios-dir", default=os.path.join(HERE, "scenarios"))
    a = ap.parse_args(argv[1:])

    scenarios, errors = load_scenarios(a.scenario, a.scenarios_dir)
    for e in errors:
        print(f"scenario error: {e}", file=sys.stderr)
    if errors:
        return 2
    if not scenarios:
        print("no scenarios", file=sys.stderr)
        return 2
    if not (a.dry_run or a.serve) and not os.access(a.mtasts, os.X_OK):
        print(f"mtasts binary not executable: {a.mtasts}", file=sys.stderr)
        return 2
    mtasts = os.path.abspath(a.mtasts)

    # SIGTERM and SIGHUP stop the run like ^C, through the same cleanup.
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)

    workdir = tempfile.mkdtemp(prefix="mtasts-harness-")
    procs = Processes()
    net = Internet(scenarios, os.path.abspath(a.testd), workdir, procs, mtasts=mtasts)
    passed = failed = 0
    pool = runner = None
    try:
        try:
            net.start()
        except (RuntimeError, knot_mod.KnotError, OSError) as e:
            print(f"harness: could not start: {e}", file=sys.stderr)
            return 2
        if a.serve:
            for s in scenarios:
                print(" ".join(net.command(mtasts, s, "STATE" if (s.before or s.state) else None)))
            print(f"harness: serving from {workdir} until ^C", flush=True)
            signal.pause() if hasattr(signal, "pause") else time.sleep(1e9)
        if a.dry_run:
            for s in scenarios:
                print(f"{s.name}: " + " ".join(net.command(mtasts, s, "STATE" if (s.before or s.state) else None)))
            pool = concurrent.futures.ThreadPoolExecutor(max(1, a.jobs))
            for s, problems in zip(scenarios, pool.map(lambda s: dry_run(net, s, mtasts), scenarios)):
                if problems:
                    failed += 1
                    print(f"FAIL {s.name}: servers: {'; '.join(problems)}")
                else:
                    passed += 1
                    print(f"PASS {s.name}: servers answer as described")
        else:
            runner = Runner(net, mtasts, procs, a.verbose)
            pool = concurrent.futures.ThreadPoolExecutor(max(1, a.jobs))
            futures = [pool.submit(runner.run, s) for s in scenarios]
            for fut in concurrent.futures.as_completed(futures):
                s, ok, text, _doc = fut.result()
                print(f"{'PASS' if ok else 'FAIL'} {s.name}: {text}", flush=True)
                passed += ok
                failed += not ok
            pool.shutdown()
            if len(scenarios) > 1:
                ok, text = runner.bulk(scenarios)
                print(f"{'PASS' if ok else 'FAIL'} bulk: {text}", flush=True)
                passed += ok
                failed += not ok
        print(f"scenarios: {passed} passed, {failed} failed")
        return 0 if failed == 0 else 1
    except KeyboardInterrupt:
        print("\nharness: interrupted, stopping servers", file=sys.stderr)
        if runner:
            runner.stopping.set()
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)
        return 130
    finally:
        net.stop()
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
        if a.keep:
            print(f"harness: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
