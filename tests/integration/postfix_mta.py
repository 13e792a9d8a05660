"""A private Postfix (Debian's) for the resolver's end-to-end tests: its own main.cf, master.cf
and queue directory bind-mounted over the system's (in the test's mount namespace only), the
smtp client chrooted in the queue directory with `smtp_tls_policy_maps` on the resolver's Unix
socket there; mail submitted with swaks; receiving SMTP sinks (smtp_sink.py) on the MX hosts'
loopback addresses record what arrived and whether over TLS.

Standard library only. Nothing here reaches beyond loopback."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import resolver_world as w
import smtp_sink

SOCKET = "/var/spool/postfix/private/mtasts-resolver"
POLICY_MAP = "socketmap:unix:private/mtasts-resolver:postfix"

MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf(work, bundle, extra=""):
    return f"""\
compatibility_level = 3.6
myhostname = sender.example
mydomain = sender.example
myorigin = sender.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {work}/maillog
maillog_file_prefixes = /var, /dev/stdout, {work}
smtp_tls_security_level = may
smtp_tls_CAfile = {bundle}
smtp_tls_loglevel = 1
smtp_tls_policy_maps = {POLICY_MAP}
smtp_address_preference = ipv4
smtp_host_lookup = dns
queue_run_delay = 300s
minimal_backoff_time = 300s
smtp_connect_timeout = 10s
biff = no
append_dot_mydomain = no
""" + extra


def missing_tool(more=()):
    """The first tool the test needs that is not installed (None when all are)."""
    for tool in ("postfix", "swaks", "postqueue", *more):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return tool
    return None


def wait_for(pred, deadline_s, step=0.1):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def start_sinks(world, domains, records):
    """A receiving SMTP server on each MX host: `sink-tls` offers STARTTLS with the test CA's
    leaf for the host, `sink-plain` does not."""
    sinks = []
    for spec in domains.values():
        for host, kind in spec["mx"]:
            cert = key = None
            if kind == "sink-tls":
                cert, key = world.ca.leaf(host, "valid")
            sinks.append(smtp_sink.Sink((world.mx_ip[host], 25), host, records, cert, key).start())
    return sinks


class Postfix:
    """`main_extra`: more main.cf lines. The chroot's etc/resolv.conf is a copy of
    /etc/resolv.conf as it is when setup() runs (the World's, or the caller's bind mount)."""

    def __init__(self, work, world, main_extra=""):
        self.work = work
        self.world = world
        self.main_extra = main_extra
        self.started = False
        self.maillog = os.path.join(work, "maillog")

    def setup(self):
        etc, spool = os.path.join(self.work, "etc-postfix"), os.path.join(self.work, "spool")
        os.makedirs(etc)
        for f in os.listdir("/etc/postfix"):  # postfix-files, dynamicmaps.cf...: what post-install needs
            if f not in ("main.cf", "master.cf"):
                src = os.path.join("/etc/postfix", f)
                (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(etc, f))
        os.makedirs(os.path.join(spool, "etc"))
        for f in ("resolv.conf", "services", "hosts", "nsswitch.conf", "host.conf"):
            if os.path.exists(f"/etc/{f}"):
                shutil.copy(f"/etc/{f}", os.path.join(spool, "etc", f))
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(main_cf(self.work, self.world.bundle, self.main_extra))
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        subprocess.run(["mount", "--bind", etc, "/etc/postfix"], check=True)
        subprocess.run(["mount", "--bind", spool, "/var/spool/postfix"], check=True)
        os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
        r = subprocess.run(["postfix", "set-permissions"], capture_output=True, text=True)
        w.check(r.returncode == 0, f"postfix set-permissions {r.stdout[-300:]} {r.stderr[-300:]}")
        return self

    def query(self, key, name="postfix"):
        """The resolver's answer for `key` through Postfix's own socketmap client (postmap -q)."""
        r = subprocess.run(["postmap", "-q", key, f"socketmap:unix:{SOCKET}:{name}"],
                           capture_output=True, text=True)
        return (r.stdout + r.stderr).strip()

    def start(self):
        r = subprocess.run(["postfix", "start"], capture_output=True, text=True)
        w.check(r.returncode == 0, f"postfix start ({r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]})")
        self.started = r.returncode == 0
        w.wait_port("127.0.0.1", 25, 30, None, "postfix smtpd")
        return self

    def stop(self):
        if self.started:
            subprocess.run(["postfix", "stop"], capture_output=True)
            self.started = False

    def submit(self, domain):
        r = subprocess.run(["swaks", "--server", "127.0.0.1:25", "--from", "sender@sender.example",
                            "--to", f"user@{domain}", "--h-Subject", f"mtasts e2e {domain}", "--silent", "2"],
                           capture_output=True, text=True, timeout=60)
        w.check(r.returncode == 0, f"swaks submitted mail for {domain}")

    def deliver(self, domains, records):
        """Starts Postfix, submits a mail to user@ each domain, waits until Postfix has logged a
        status for each. Returns what the sinks received (received())."""
        self.start()
        for d in domains:
            self.submit(d)
        self.wait_status(domains)
        return received(records)

    def log(self):
        try:
            return open(self.maillog).read()
        except OSError:
            return ""

    def status(self, domain):
        """The last delivery status Postfix logged for user@domain (sent, deferred, ...)."""
        m = re.findall(r"to=<user@" + re.escape(domain) + r">.*status=(\w+)", self.log())
        return m[-1] if m else None

    def wait_status(self, domains, deadline_s=60):
        for d in domains:
            wait_for(lambda: self.status(d), deadline_s)

    def queued(self):
        """The recipients still in Postfix's queue (postqueue -j)."""
        r = subprocess.run(["postqueue", "-j"], capture_output=True, text=True)
        return {rc["address"] for l in r.stdout.splitlines() if l.strip()
                for rc in json.loads(l).get("recipients", [])}


def received(records):
    """What the sinks received: {recipient: record}."""
    if not os.path.exists(records):
        return {}
    got = [json.loads(l) for l in open(records)]
    return {r["to"][0].strip("<>"): r for r in got}


def dump_logs(work):
    for name in ("maillog", "mtasts.log", "unbound.log"):
        p = os.path.join(work, name)
        if os.path.exists(p):
            print(f"--- {name}\n" + open(p).read()[-4000:])


def check_verified(postfix, by_rcpt, domain, host, what):
    """user@domain was sent, arrived over TLS, and Postfix verified the MX host's certificate."""
    check = w.check
    check(postfix.status(domain) == "sent", f"{what}: {postfix.status(domain)}")
    got = by_rcpt.get(f"user@{domain}")
    check(got is not None and got["tls"], f"{what}: received over TLS ({got})")
    check(re.search(r"Verified TLS connection established to " + re.escape(host), postfix.log()) is not None,
          f"{what}: Postfix logged a verified TLS connection to {host}")


def check_deferred(postfix, by_rcpt, domain, what):
    w.check(postfix.status(domain) == "deferred", f"{what}: {postfix.status(domain)}")
    w.check(f"user@{domain}" not in by_rcpt, f"{what}: nothing received")


def begin(doc, name, tools=()):
    """A Postfix test script's start: the tools it needs (else exit 2), then resolver_world.begin,
    a work directory Postfix can read. Returns (mtasts, testd, work, sink records file)."""
    tool = missing_tool(tools)
    if tool:
        print(f"{name}: {tool} is missing: run scripts/setup (packages.txt)", file=sys.stderr)
        sys.exit(2)
    mtasts, testd, work = w.begin(doc, name)
    os.chmod(work, 0o755)
    return mtasts, testd, work, os.path.join(work, "received.jsonl")


def finish(name, work, postfix, sinks, world, *procs):
    """Stops all that a test started (Postfix, sinks, processes, the World), shows the logs when a
    check failed, removes the work directory (unless KEEP is set). Returns the exit code."""
    if postfix:
        postfix.stop()
    for s in sinks:
        s.stop()
    for p in procs:
        w.stop(p)
    if world:
        world.stop()
    if w.FAILURES:
        dump_logs(work)
    if os.environ.get("KEEP"):
        print("kept", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{name}: {len(w.FAILURES)} failed")
    return 1 if w.FAILURES else 0
