#!/usr/bin/python3 -S
"""Runs a command with Debian's `pebble` ACME test server on loopback (the ACME client's tests).

    with_pebble.py [--keep] [--timeout S] -- CMD ARGS...

Starts, in a temp directory:
  1. a CA made with openssl and a certificate for 127.0.0.1 that pebble serves its ACME API with
     (the client trusts it through --acme-ca-file: verification is never turned off);
  2. knotd (knot.py) answering 127.0.0.1 for every name under `acme.test`, pebble's -dnsserver;
     names elsewhere under `test.` get NXDOMAIN;
  3. pebble ("main": no nonce rejected, no authorization reused, so runs repeat exactly), and
     pebble "noncy" (PEBBLE_WFE_NONCEREJECT=40: the client must retry badNonce answers), both
     with PEBBLE_VA_NOSLEEP=1 and validating challenges at the same two loopback ports;
then runs CMD with, in its environment:
  MTASTS_TEST_ACME_DIRECTORY, MTASTS_TEST_ACME_NONCY_DIRECTORY   https://127.0.0.1:PORT/dir
  MTASTS_TEST_ACME_CA_FILE        the CA of pebble's API certificate (--acme-ca-file)
  MTASTS_TEST_PEBBLE_ROOT         main pebble's issuing root (from its management API /roots/0)
  MTASTS_TEST_ACME_HTTP_PORT      where pebble sends HTTP-01 requests (CMD listens there)
  MTASTS_TEST_ACME_TLS_PORT       where pebble connects for TLS-ALPN-01 (CMD listens there)
Exit: CMD's code (128+N if it died of signal N), 2 if the servers could not start.
Everything is on 127.0.0.1; readiness is polled with a deadline, never slept for.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from knot import Knot, KnotError, free_port, _die_with_parent  # noqa: E402

PEBBLE = "pebble"


class PebbleError(RuntimeError):
    pass


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise PebbleError(f"{' '.join(args)}: {r.stdout}")


def make_api_certificate(d):
    """ca.pem (the trust anchor for the client) and api.pem/api.key for 127.0.0.1."""
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(["openssl", "req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=mtasts test ACME API CA"], d)
    run(["openssl", "req", *curve, "-keyout", "api.key", "-out", "api.csr",
         "-subj", "/CN=127.0.0.1"], d)
    with open(os.path.join(d, "api.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", "api.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "api.pem", "-days", "2", "-extfile", "api.ext"], d)


class Pebble:
    def __init__(self, workdir, name, dns_port, http_port, tls_port, env, deadline):
        self.dir, self.name = workdir, name
        self.dns_port, self.http_port, self.tls_port = dns_port, http_port, tls_port
        self.env, self.deadline = env, deadline
        self.proc = None
        self.log = os.path.join(workdir, f"pebble-{name}.log")
        self.ctx = ssl.create_default_context(cafile=os.path.join(workdir, "ca.pem"))

    def start(self):
        last = ""
        for _attempt in range(5):
            self.port, self.mgmt_port = free_port(), free_port()
            conf = os.path.join(self.dir, f"pebble-{self.name}.json")
            with open(conf, "w") as f:
                json.dump({"pebble": {
                    "listenAddress": f"127.0.0.1:{self.port}",
                    "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                    "certificate": os.path.join(self.dir, "api.pem"),
                    "privateKey": os.path.join(self.dir, "api.key"),
                    "httpPort": self.http_port,
                    "tlsPort": self.tls_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False}}, f)
            env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_AUTHZREUSE="0", **self.env)
            logf = open(self.log, "w")
            self.proc = subprocess.Popen(
                [PEBBLE, "-config", conf, "-dnsserver", f"127.0.0.1:{self.dns_port}", "-strict=false"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env,
                preexec_fn=_die_with_parent)
            logf.close()
            try:
                self._wait_ready()
                return self
            except PebbleError as e:
                last = str(e)
                self.stop()
                if "address already in use" not in last:
                    break
        raise PebbleError(last)

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def get(self, url, timeout=2):
        with urllib.request.urlopen(url, context=self.ctx, timeout=timeout) as r:
            return r.read()

    def _tail(self, n=20):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _wait_ready(self):
        end = time.monotonic() + self.deadline
        while True:
            if self.proc.poll() is not None:
                raise PebbleError(f"pebble {self.name} exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                json.loads(self.get(self.directory))
                self.get(f"https://127.0.0.1:{self.mgmt_port}/roots/0")
                return
            except (OSError, ValueError):
                pass
            if time.monotonic() > end:
                raise PebbleError(f"pebble {self.name} did not answer within {self.deadline:.0f}s:\n{self._tail()}")
            time.sleep(0.05)

    def root_pem(self):
        return self.get(f"https://127.0.0.1:{self.mgmt_port}/roots/0").decode()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main(argv):
    keep, timeout = False, 30.0
    while argv and argv[0] != "--":
        if argv[0] == "--keep":
            keep = True
            argv = argv[1:]
        elif argv[0] == "--timeout" and len(argv) > 1:
            timeout = float(argv[1])
            argv = argv[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    cmd = argv[1:]
    if not cmd:
        print(__doc__, file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="mtasts-pebble-")
    servers = []
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        try:
            make_api_certificate(work)
            dns = Knot(os.path.join(work, "knot"), {"acme.test": ["* A 127.0.0.1", "@ A 127.0.0.1"]},
                       deadline=timeout)
            os.makedirs(dns.dir, exist_ok=True)
            servers.append(dns)
            dns.start()
            http_port, tls_port = free_port(), free_port()
            main_ca = Pebble(work, "main", dns.port, http_port, tls_port,
                             {"PEBBLE_WFE_NONCEREJECT": "0"}, timeout)
            servers.append(main_ca)
            main_ca.start()
            noncy = Pebble(work, "noncy", dns.port, http_port, tls_port,
                           {"PEBBLE_WFE_NONCEREJECT": "40"}, timeout)
            servers.append(noncy)
            noncy.start()
            root = os.path.join(work, "pebble-root.pem")
            with open(root, "w") as f:
                f.write(main_ca.root_pem())
        except (PebbleError, KnotError, OSError) as e:
            print(f"with_pebble: could not start: {e}", file=sys.stderr)
            return 2
        env = dict(os.environ,
                   MTASTS_TEST_ACME_DIRECTORY=main_ca.directory,
                   MTASTS_TEST_ACME_NONCY_DIRECTORY=noncy.directory,
                   MTASTS_TEST_ACME_CA_FILE=os.path.join(work, "ca.pem"),
                   MTASTS_TEST_PEBBLE_ROOT=root,
                   MTASTS_TEST_ACME_HTTP_PORT=str(http_port),
                   MTASTS_TEST_ACME_TLS_PORT=str(tls_port))
        try:
            child = subprocess.Popen(cmd, env=env)
        except OSError as e:
            print(f"with_pebble: cannot run {cmd[0]}: {e}", file=sys.stderr)
            return 127
        try:
            code = child.wait()
        except KeyboardInterrupt:
            child.terminate()
            try:
                code = child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
        if code != 0 and not stopping:
            for s in servers:
                if isinstance(s, Pebble):
                    print(f"--- end of pebble {s.name}'s log ---\n{s._tail(30)}", file=sys.stderr)
        return 128 - code if code < 0 else code
    finally:
        for s in reversed(servers):
            s.stop()
        if keep:
            print(f"with_pebble: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
