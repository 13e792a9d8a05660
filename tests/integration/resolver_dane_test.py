"""`mtasts resolver` with DANE precedence (RFC 8461 §2, RFC 7672) against the simulated internet:
knotd signs some zones (DNSSEC), the resolver validates with libunbound from a test trust anchor
(the signed zones' KSKs, and a DS that matches nothing for bogus.test), forwarding to knotd.

  signed, TLSA on every MX host       -> OK dane-only (over the domain's MTA-STS policy)
  signed, TLSA on one of two MX hosts -> OK dane
  signed, no TLSA                     -> the MTA-STS answer
  unsigned                            -> the MTA-STS answer
  bogus MX (anchor mismatch)          -> TEMP; bogus TLSA (secure MX and A) -> TEMP
  a DNS failure on the DANE path      -> TEMP
  a zone with dane = false            -> the MTA-STS answer for all of them
  start: an anchor that does not validate is a warning; when none does, exit 2

    python3 -S resolver_dane_test.py MTASTS TESTD      (as root: it makes a private namespace)"""
import json
import os
import shutil
import subprocess
import sys

import resolver_world as w
from resolver_world import FAILURES, check, metric

ENFORCE = "version: STSv1\nmode: enforce\nmx: *.{d}\nmax_age: 604800\n"
DIGEST = "3 1 1 " + "5d" * 32


def domains():
    ds = {}
    for d in ("dane.test", "partial.test", "signed.test", "plain.test", "bogus.test", "badtlsa.test"):
        ds[d] = {"policy": ENFORCE.replace("{d}", d), "mx": [(f"mx1.{d}", "sink")]}
    for d in ("dane.test", "partial.test", "signed.test", "bogus.test", "badtlsa.test"):
        ds[d]["signed"] = True
    ds["dane.test"]["extra"] = [f"_25._tcp.mx1 TLSA {DIGEST}"]
    ds["partial.test"]["mx"].append(("mx2.partial.test", "sink"))
    ds["partial.test"]["extra"] = [f"_25._tcp.mx1 TLSA {DIGEST}"]
    ds["bogus.test"]["extra"] = [f"_25._tcp.mx1 TLSA {DIGEST}"]
    # Secure MX and address records, but the TLSA name is a CNAME into the bogus zone.
    ds["badtlsa.test"]["extra"] = ["_25._tcp.mx1 CNAME _25._tcp.mx1.bogus.test."]
    return ds


def main():
    mtasts, testd, work = w.begin(__doc__, "resolver-dane")
    world = proc = None
    port, mport = 28461, 29461
    try:
        world = w.World(work, testd, domains()).start()
        anchors = world.knot.trust_anchors(["dane.test", "partial.test", "signed.test", "badtlsa.test"])
        anchors.append("bogus.test. IN DS 4711 13 2 " + "00" * 32)  # matches no key: bogus
        ta = os.path.join(work, "trust-anchors.key")
        with open(ta, "w") as f:
            f.write("\n".join(anchors) + "\n")
        config = (f'dane = true\ndane_trust_anchor = "{ta}"\ncache_grace = 60\n'
                  "[zones.nodane]\ndane = false\n")
        proc = w.start_mtasts(mtasts, work, world, [f"127.0.0.1:{port}"], config,
                              ["--metrics-listen", f"127.0.0.1:{mport}"])
        c = w.Socketmap(("127.0.0.1", port))
        sts = lambda d: f"OK secure match=.{d} servername=hostname"  # noqa: E731

        got = c.query("postfix", "dane.test")
        check(got == "OK dane-only", f"signed, TLSA on every MX host: dane-only over MTA-STS ({got!r})")
        got = c.query("postfix", "dane.test")
        check(got == "OK dane-only", f"the same from the cache ({got!r})")
        got = c.query("postfix", "partial.test")
        check(got == "OK dane", f"signed, TLSA on one of two MX hosts: dane ({got!r})")
        got = c.query("postfix", "signed.test")
        check(got == sts("signed.test"), f"signed without TLSA: the MTA-STS answer ({got!r})")
        got = c.query("postfix", "plain.test")
        check(got == sts("plain.test"), f"unsigned: the MTA-STS answer ({got!r})")
        got = c.query("postfix", "bogus.test")
        check(got.startswith("TEMP ") and "bogus" in got, f"bogus MX RRset: TEMP ({got!r})")
        got = c.query("postfix", "badtlsa.test")
        check(got.startswith("TEMP _25._tcp.mx1.badtlsa.test TLSA is DNSSEC-bogus"),
              f"bogus TLSA of an MX host with secure addresses: TEMP ({got!r})")
        got = c.query("postfix", "host.unserved.example")  # knotd refuses: the MX lookup fails
        check(got.startswith("TEMP "), f"DNS failure on the DANE path: TEMP ({got!r})")
        for d in ("dane.test", "partial.test", "bogus.test"):
            got = c.query("nodane", d)
            check(got == sts(d), f"zone with dane = false: {d} gets the MTA-STS answer ({got!r})")

        check((metric(mport, "mtasts_resolver_dane_probes_total", '{result="dane-only"}') or 0) >= 1,
              "dane-only probes counted")
        check((metric(mport, "mtasts_resolver_dane_probes_total", '{result="bogus"}') or 0) >= 2,
              "bogus probes counted")
        check((metric(mport, "mtasts_resolver_dane_probes_total", '{result="failed"}') or 0) >= 1,
              "failed probes counted")
        check((metric(mport, "mtasts_resolver_dane_probes_total", '{result="none"}') or 0) >= 2,
              "probes without DANE counted")
        check((metric(mport, "mtasts_resolver_dane_replies_total") or 0) >= 3, "DANE replies counted")

        # mtasts query explains the decision.
        q = subprocess.run([mtasts, "query", "dane.test", "--dane", "--dane-trust-anchor", ta, "--json",
                            "--dns-server", "127.0.0.1:53", "--ca-file", world.bundle],
                           capture_output=True, text=True)
        doc = json.loads(q.stdout or "{}")
        check(q.returncode == 0 and doc.get("answer") == "OK dane-only"
              and doc.get("dane", {}).get("mx") == "secure"
              and doc.get("dane", {}).get("hosts", [{}])[0].get("usable") == 1,
              f"query --dane --json explains dane-only ({q.stdout.strip()[:300]} {q.stderr.strip()[:200]})")
        q = subprocess.run([mtasts, "query", "bogus.test", "--dane", "--dane-trust-anchor", ta,
                            "--dns-server", "127.0.0.1:53", "--ca-file", world.bundle],
                           capture_output=True, text=True)
        check(q.returncode == 2 and "TEMP" in q.stdout and "dnssec-invalid" in q.stdout,
              f"query --dane on a bogus domain: TEMP, exit 2 ({q.stdout.strip()[:300]})")
        # At start the anchors' own DNSKEYs are validated: one that fails is a warning...
        log = open(os.path.join(work, "mtasts.log")).read()
        check("trust anchor bogus.test does not validate" in log,
              "start: the anchor matching no key is named in a warning")
        # ...and when none validates (here: only the bogus anchor), DANE cannot work at all: the
        # resolver refuses to start instead of answering TEMP to every lookup.
        only_bogus = os.path.join(work, "bogus-only.key")
        with open(only_bogus, "w") as f:
            f.write(anchors[-1] + "\n")
        conf = os.path.join(work, "bogus-only.toml")
        with open(conf, "w") as f:
            f.write(f'dane = true\ndane_trust_anchor = "{only_bogus}"\n')
        r = subprocess.run([mtasts, "resolver", "--config", conf, "--dns-server", "127.0.0.1:53",
                            "--ca-file", world.bundle, "--db", os.path.join(work, "bogus-only.db"),
                            "--listen", "127.0.0.1:28471"], capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        check(r.returncode == 2 and "DNSSEC validation does not work through 127.0.0.1:53" in out
              and "bogus.test" in out, f"no anchor validates: refuses to start, exit 2 ({r.returncode}, {out.strip()[-300:]!r})")
    finally:
        w.stop(proc)
        if world:
            world.stop()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed; work dir {work}", flush=True)
        return 1
    shutil.rmtree(work, ignore_errors=True)  # kept above, on failure, for the logs
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
