"""Postfix end to end: a real Postfix (Debian's) with
`smtp_tls_policy_maps = socketmap:unix:private/mtasts-resolver:postfix` (the resolver's Unix
socket inside the queue directory, the smtp client chrooted there), mail submitted with swaks,
delivered to receiving SMTP servers of the simulated internet:

  enforce + good TLS          -> delivered, over verified TLS
  enforce + no STARTTLS       -> deferred
  enforce + MX not in policy  -> deferred
  testing (MX without TLS)    -> delivered

    python3 -S resolver_postfix_test.py MTASTS TESTD      (as root: private namespace; Postfix's
                                                         /etc/postfix and queue are bind-mounted)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import resolver_world as w
import smtp_sink

FAILURES = []


def check(cond, what):
    print(f"{'PASS' if cond else 'FAIL'} {what}", flush=True)
    if not cond:
        FAILURES.append(what)


def policy(mode, mx):
    return "version: STSv1\nmode: %s\n%smax_age: 604800\n" % (mode, "".join(f"mx: {m}\n" for m in mx))


DOMAINS = {
    "good.test": {"policy": policy("enforce", ["mx1.good.test"]), "mx": [("mx1.good.test", "sink-tls")]},
    "nostarttls.test": {"policy": policy("enforce", ["mx1.nostarttls.test"]),
                        "mx": [("mx1.nostarttls.test", "sink-plain")]},
    "mismatch.test": {"policy": policy("enforce", ["mx1.mismatch.test"]),
                      "mx": [("mx2.mismatch.test", "sink-tls")]},
    "testing.test": {"policy": policy("testing", ["mx1.testing.test"]),
                     "mx": [("mx1.testing.test", "sink-plain")]},
}

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


def main_cf(work, bundle):
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
smtp_tls_policy_maps = socketmap:unix:private/mtasts-resolver:postfix
smtp_address_preference = ipv4
smtp_host_lookup = dns
queue_run_delay = 300s
minimal_backoff_time = 300s
smtp_connect_timeout = 10s
biff = no
append_dot_mydomain = no
"""


def wait_for(pred, deadline_s, step=0.1):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mtasts, testd = map(os.path.abspath, sys.argv[1:])
    for tool in ("postfix", "swaks", "postqueue"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            print(f"resolver_postfix: {tool} is missing: run scripts/setup (packages.txt)", file=sys.stderr)
            return 2
    w.enter_namespace()
    work = tempfile.mkdtemp(prefix="mtasts-resolver-postfix-")
    os.chmod(work, 0o755)
    world = resolver = None
    sinks = []
    postfix_started = False
    records = os.path.join(work, "received.jsonl")
    try:
        world = w.World(work, testd, DOMAINS).start()
        for name, spec in DOMAINS.items():
            for host, kind in spec["mx"]:
                cert = key = None
                if kind == "sink-tls":
                    cert, key = world.ca.leaf(host, "valid")
                sinks.append(smtp_sink.Sink((world.mx_ip[host], 25), host, records, cert, key).start())
        # A private Postfix: its config and queue directories over the system's (this namespace only).
        etc, spool = os.path.join(work, "etc-postfix"), os.path.join(work, "spool")
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
            f.write(main_cf(work, world.bundle))
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        subprocess.run(["mount", "--bind", etc, "/etc/postfix"], check=True)
        subprocess.run(["mount", "--bind", spool, "/var/spool/postfix"], check=True)
        os.makedirs("/var/spool/postfix/private", exist_ok=True)
        r = subprocess.run(["postfix", "set-permissions"], capture_output=True, text=True)
        check(r.returncode == 0, f"postfix set-permissions {r.stdout[-300:]} {r.stderr[-300:]}")
        resolver = w.start_mtasts(mtasts, work, world, ["unix:/var/spool/postfix/private/mtasts-resolver"], "")
        r = subprocess.run(["postmap", "-q", "good.test", "socketmap:unix:/var/spool/postfix/private/mtasts-resolver:postfix"],
                           capture_output=True, text=True)
        check(r.stdout.strip() == "secure match=mx1.good.test servername=hostname",
              f"postmap -q through the socketmap ({r.stdout.strip()} {r.stderr.strip()})")
        r = subprocess.run(["postfix", "start"], capture_output=True, text=True)
        check(r.returncode == 0, f"postfix start ({r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]})")
        postfix_started = r.returncode == 0
        w.wait_port("127.0.0.1", 25, 30, None, "postfix smtpd")

        for d in DOMAINS:
            r = subprocess.run(["swaks", "--server", "127.0.0.1:25", "--from", "sender@sender.example",
                                "--to", f"user@{d}", "--h-Subject", f"mtasts e2e {d}", "--silent", "2"],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"swaks submitted mail for {d}")

        def log():
            try:
                return open(os.path.join(work, "maillog")).read()
            except OSError:
                return ""

        def status(d):
            m = re.findall(r"to=<user@" + re.escape(d) + r">.*status=(\w+)", log())
            return m[-1] if m else None

        for d in DOMAINS:
            wait_for(lambda: status(d), 60)
        received = []
        if os.path.exists(records):
            received = [json.loads(l) for l in open(records)]
        by_rcpt = {r["to"][0].strip("<>"): r for r in received}

        check(status("good.test") == "sent", f"enforce + good TLS: {status('good.test')}")
        got = by_rcpt.get("user@good.test")
        check(got is not None and got["tls"], f"enforce + good TLS: received over TLS ({got})")
        check(re.search(r"Verified TLS connection established to mx1\.good\.test", log()) is not None,
              "Postfix logged a verified TLS connection to mx1.good.test")
        check(status("nostarttls.test") == "deferred", f"enforce + no STARTTLS: {status('nostarttls.test')}")
        check("user@nostarttls.test" not in by_rcpt, "enforce + no STARTTLS: nothing received")
        check("TLS is required, but was not offered by host mx1.nostarttls.test" in log(),
              "enforce + no STARTTLS: deferred because TLS is required")
        check(status("mismatch.test") == "deferred", f"enforce + MX not in policy: {status('mismatch.test')}")
        check("user@mismatch.test" not in by_rcpt, "enforce + MX not in policy: nothing received")
        check(re.search(r"certificate verification failed for mx2\.mismatch\.test.*hostname mismatch", log()) is not None,
              "enforce + MX not in policy: deferred because mx2 is not among the policy's names")
        check(status("testing.test") == "sent", f"testing: {status('testing.test')}")
        got = by_rcpt.get("user@testing.test")
        check(got is not None and not got["tls"], f"testing: received (without TLS: the MX has none) ({got})")
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
    finally:
        if postfix_started:
            subprocess.run(["postfix", "stop"], capture_output=True)
        for s in sinks:
            s.stop()
        w.stop(resolver)
        if world:
            world.stop()
        if FAILURES:
            for name in ("maillog", "mtasts.log"):
                p = os.path.join(work, name)
                if os.path.exists(p):
                    print(f"--- {name}\n" + open(p).read()[-4000:])
        if os.environ.get("KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"resolver_postfix: {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
