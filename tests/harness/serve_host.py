"""`mtasts serve` as a policy host of the simulated internet (scenarios with
policy_host.server = "mtasts"): the proof that the checker finds nothing wrong with what serve
hosts. One server for every such scenario: the domains go into a SQLite store with
`mtasts domain add`, their certificates (from the harness CA) into a lego-layout directory.
"""
import os
import subprocess

import knot as knot_mod


def policy_fields(text):
    """mode, mx list and max_age of a policy text (the scenario's; it must be a valid one)."""
    mode, mx, max_age = None, [], None
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "mode":
            mode = value
        elif key == "mx":
            mx.append(value)
        elif key == "max_age":
            max_age = value
    if not mode or max_age is None:
        raise ValueError("a policy_host served by mtasts needs a valid policy (mode, max_age)")
    return mode, mx, max_age


class MtastsServe:
    def __init__(self, procs, workdir, ca, mtasts):
        self.procs, self.ca, self.mtasts = procs, ca, mtasts
        self.dir = os.path.join(workdir, "mtasts-serve")
        self.db = os.path.join(self.dir, "mtasts.db")
        self.cert_dir = os.path.join(self.dir, "certs")
        self.hosts = []  # (domain, host, cert kind, policy)
        self.port = None
        self.proc = None

    def add(self, scenario):
        ph = scenario.policy_host
        self.hosts.append((scenario.domain, ph["host"], ph["cert"], ph["policy"]))

    def start(self, wait_until, tls_handshake, deadline=20):
        if not self.hosts:
            return
        if not self.mtasts or not os.access(self.mtasts, os.X_OK):
            raise RuntimeError(f"scenarios with policy_host.server = \"mtasts\" need the mtasts binary ({self.mtasts})")
        os.makedirs(os.path.join(self.cert_dir, "certificates"), exist_ok=True)
        for domain, host, kind, policy in self.hosts:
            mode, mx, max_age = policy_fields(policy)
            args = [self.mtasts, "domain", "add", domain, "--db", self.db, "--mode", mode, "--max-age", max_age]
            for m in mx:
                args += ["--mx", m]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise RuntimeError(f"mtasts domain add {domain}: {r.stderr.strip() or r.stdout.strip()}")
            pem, key = self.ca.leaf(host, kind)
            stem = os.path.join(self.cert_dir, "certificates", host)
            for src, dst in ((pem, stem + ".crt"), (key, stem + ".key")):
                with open(src, "rb") as i, open(dst, "wb") as o:
                    o.write(i.read())
        self.port = knot_mod.free_port()
        self.proc = self.procs.popen(
            [self.mtasts, "serve", "--db", self.db, "--cert-dir", self.cert_dir, "--threads", "1",
             "--listen-https", f"127.0.0.1:{self.port}", "--listen-http", "off", "--listen-admin", "off"],
            log=os.path.join(self.dir, "serve.log"))
        first = self.hosts[0][1]
        wait_until("mtasts serve", lambda: tls_handshake(self.port, first), deadline,
                   alive=lambda: self.proc.poll() is None)
