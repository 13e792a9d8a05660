#!/usr/bin/python3 -S
"""An authoritative DNS server for test zones: a real knotd on 127.0.0.1 at a free port.

    knot.py ZONE=FILE [ZONE=FILE...]   serve each zone (FILE: one record per line, zone-file syntax
                                       relative to the zone origin); prints the port, runs until ^C

As a module:
    with Knot(workdir, {"example.test": ["@ MX 10 mx1", "mx1 A 127.0.0.1"]}) as dns:
        dns.port   # kdig @127.0.0.1 -p PORT ...
    Knot(workdir, zones, port=53)   # a fixed port instead (e.g. inside a network namespace)

    Knot(workdir, zones, signed={"dane.test"})   # knotd signs those zones (DNSSEC, automatic keys)
        dns.trust_anchors(["dane.test"])            # their DNSKEY (KSK) records, for a validator

Each zone gets an SOA and an NS record (`ns`, 127.0.0.1) unless its records have their own.
`catch_all` (default "test") also serves an empty parent zone so that names outside every test zone
get NXDOMAIN, as on the real internet, instead of knotd's REFUSED.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

KNOTD = "knotd"
KDIG = "kdig"


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port that is free on 127.0.0.1 for both TCP and UDP right now, chosen below the kernel's
    ephemeral range: a port the kernel hands out (bind to port 0) may be taken as the source
    port of another test's outgoing connection before our server binds it."""
    low, _ = _ephemeral_range()
    first = 10000 if low > 12000 else 1024
    top = max(first + 1000, low - 1)
    while True:
        port = random.randint(first, top)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port


def _die_with_parent():
    """preexec_fn: the server gets SIGTERM if the harness dies without cleaning up (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def zone_text(origin, records):
    origin = origin.rstrip(".").lower()
    types = {r.split()[1].upper() if len(r.split()) > 1 else "" for r in records
             if r.split() and r.split()[0] == "@"}
    lines = [f"$ORIGIN {origin}.", "$TTL 300"]
    if "SOA" not in types:
        lines.append(f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300")
    if "NS" not in types:
        lines += ["@ NS ns", "ns A 127.0.0.1"]
    lines += list(records)
    return "\n".join(lines) + "\n"


class KnotError(RuntimeError):
    pass


class Knot:
    def __init__(self, workdir, zones, catch_all="test", deadline=20.0, port=None, signed=()):
        self.dir = os.path.abspath(workdir)
        self.zones = {z.rstrip(".").lower(): list(r) for z, r in zones.items()}
        self.signed = {z.rstrip(".").lower() for z in signed}
        if catch_all and catch_all not in self.zones:
            self.zones[catch_all] = []
        self.deadline = deadline
        self.fixed_port = port  # None: a free port (retried if another process takes it)
        self.port = None
        self.proc = None
        self.log = os.path.join(self.dir, "knotd.log")

    def _write(self, port):
        zdir = os.path.join(self.dir, "zones")
        for sub in ("zones", "run", "storage"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for name, records in self.zones.items():
            with open(os.path.join(zdir, f"{name}.zone"), "w") as f:
                f.write(zone_text(name, records))
        conf = os.path.join(self.dir, "knot.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
    rundir: "{self.dir}/run"
    user: root:root
    listen: 127.0.0.1@{port}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1

database:
    storage: "{self.dir}/storage"

log:
  - target: stderr
    any: info

template:
  - id: default
    storage: "{zdir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off

zone:
""")
            for name in self.zones:
                f.write(f"  - domain: {name}\n")
                if name in self.signed:
                    # Knot's default policy: ECDSA P-256 (algorithm 13), a KSK and a ZSK, kept in
                    # the storage's key database across restarts of the same workdir.
                    f.write("    dnssec-signing: on\n")
        return conf

    def start(self):
        last = ""
        for _attempt in range(5):
            port = self.fixed_port or free_port()
            conf = self._write(port)
            logf = open(self.log, "w")
            self.proc = subprocess.Popen([KNOTD, "-c", conf], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)
            logf.close()
            self.port = port
            try:
                self._wait_ready()
                return self
            except KnotError as e:
                last = str(e)
                self.stop()
                if self.fixed_port or ("bind" not in last and "address in use" not in last.lower()):
                    break
        raise KnotError(last)

    def _log_tail(self, n=15):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def query(self, name, rtype="SOA", short=True, timeout=1, tcp=False):
        args = [KDIG, "@127.0.0.1", "-p", str(self.port), name, rtype, f"+timeout={timeout}", "+retry=0"]
        if tcp:
            args.append("+tcp")
        if short:
            args.append("+short")
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return r.stdout.strip()

    def query_many(self, questions, timeout=1, tcp=True):
        """Ask many (name, type) questions with one kdig run. Returns {(name, TYPE): (rcode,
        [(owner, TYPE, rdata), ...])}; a question without an answer (no connection) is absent."""
        args = [KDIG, "@127.0.0.1", "-p", str(self.port), "+json", f"+timeout={timeout}", "+retry=0"]
        if tcp:
            args.append("+tcp")
        for name, rtype in questions:
            args += [name, rtype]
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        out, pos, dec = {}, 0, json.JSONDecoder()
        text = r.stdout
        while True:
            start = text.find("{", pos)
            if start < 0:
                break
            try:
                msg, pos = dec.raw_decode(text, start)
            except ValueError:
                break
            key = (msg.get("QNAME", "").rstrip(".").lower(), msg.get("QTYPEname", ""))
            answers = []
            for rr in msg.get("answerRRs", []):
                data = next((v for k, v in rr.items() if k.startswith("rdata")), rr.get("RDATAHEX"))
                answers.append((rr.get("NAME", "").rstrip(".").lower(), rr.get("TYPEname"), data))
            out[key] = (msg.get("RCODE"), answers)
        return out

    def trust_anchors(self, zones, deadline=20.0):
        """The KSK DNSKEY records of signed zones, as zone-file lines for a validator's trust
        anchor file. Polls until knotd has signed each zone."""
        lines = []
        for zone in zones:
            end = time.monotonic() + deadline
            while True:
                keys = [k for k in self.query(zone, "DNSKEY", tcp=True).splitlines() if k.startswith("257 ")]
                if keys:
                    break
                if time.monotonic() > end:
                    raise KnotError(f"knotd did not sign {zone} within {deadline:.0f}s:\n{self._log_tail()}")
                time.sleep(0.05)
            lines += [f"{zone}. IN DNSKEY {k}" for k in keys]
        return lines

    def _wait_ready(self):
        """Ready when every zone answers its SOA; polls, never sleeps blindly."""
        pending = list(self.zones)
        end = time.monotonic() + self.deadline
        while pending:
            if self.proc.poll() is not None:
                raise KnotError(f"knotd exited with {self.proc.returncode}:\n{self._log_tail()}")
            # Over TCP: a refused connection answers at once while knotd is still binding.
            got = self.query_many([(z, "SOA") for z in pending])
            pending = [z for z in pending
                       if not any(t == "SOA" for _, t, _ in got.get((z, "SOA"), (None, []))[1])]
            if not pending:
                return
            broken = [l for l in self._log_tail(10000).splitlines() if " error: [" in l]
            if broken:
                raise KnotError("knotd could not load a zone:\n" + "\n".join(broken))
            if time.monotonic() > end:
                raise KnotError(f"knotd did not serve {', '.join(pending[:5])} within "
                                f"{self.deadline:.0f}s:\n{self._log_tail()}")
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    import tempfile
    zones = {}
    for spec in argv[1:]:
        zone, _, path = spec.partition("=")
        with open(path) as f:
            zones[zone] = [l.rstrip("\n") for l in f if l.strip() and not l.startswith(";")]
    with tempfile.TemporaryDirectory(prefix="mtasts-knot-") as tmp, Knot(tmp, zones) as dns:
        print(f"knotd serving {len(zones)} zone(s) on 127.0.0.1:{dns.port}", flush=True)
        try:
            dns.proc.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
