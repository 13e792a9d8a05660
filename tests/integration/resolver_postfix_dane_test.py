"""Postfix end to end with DANE (RFC 7672) taking precedence over MTA-STS (RFC 8461 §2): a real
Postfix configured as docs/resolver.md says (`smtp_dns_support_level = dnssec`, resolv.conf on a
validating resolver: Debian's unbound, started here on 127.0.5.53, forwarding to knotd, with the
signed test zones' keys as trust anchors), `mtasts resolver` with `dane = true`, receiving SMTP
sinks presenting the test CA's leaf for their MX name (valid for MTA-STS as well):

  signed, TLSA 3 1 1 of the sink's key        -> OK dane-only; delivered over DANE-verified TLS
  signed, TLSA 3 1 1 of a key the sink lacks  -> OK dane-only; deferred, although the MTA-STS
                                                 policy alone (dane = false) would deliver

    python3 -S resolver_postfix_dane_test.py MTASTS TESTD   (as root: private namespace; Postfix's
                                                            /etc/postfix and queue are bind-mounted)"""
import os
import re
import subprocess
import sys
import time

import postfix_mta as pm
import resolver_world as w
from resolver_world import FAILURES, check

UNBOUND_ADDR = "127.0.5.53"  # knotd of the World is on 127.0.0.1:53


def policy(d):
    return f"version: STSv1\nmode: enforce\nmx: mx1.{d}\nmax_age: 604800\n"


DOMAINS = {d: {"policy": policy(d), "mx": [(f"mx1.{d}", "sink-tls")], "signed": True}
           for d in ("dane.test", "danebad.test")}


def tlsa_3_1_1(pubkey_pem):
    """TLSA 3 1 1 (DANE-EE, SubjectPublicKeyInfo, SHA2-256) of a PEM public key, by openssl."""
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pubkey_pem,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der,
                            capture_output=True, check=True).stdout.split()[0].decode()
    return f"3 1 1 {digest}"


def cert_pubkey(cert):
    return subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                          capture_output=True, check=True).stdout


def fresh_pubkey():
    """A P-256 public key nobody here has the certificate for (the test CA's leaves all share one
    key, so another leaf would not do)."""
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                         capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubout"], input=key, capture_output=True, check=True).stdout


def start_unbound(work, anchors):
    """unbound on UNBOUND_ADDR:53 in the foreground, validating from `anchors` (DNSKEY lines),
    forwarding everything to knotd. Ready when it answers dane.test MX with the AD bit."""
    ta = os.path.join(work, "unbound-anchors.key")
    with open(ta, "w") as f:
        f.write("\n".join(anchors) + "\n")
    conf = os.path.join(work, "unbound.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    interface: {UNBOUND_ADDR}
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{work}"
    pidfile: "{work}/unbound.pid"
    use-syslog: no
    logfile: "{work}/unbound.log"
    verbosity: 1
    access-control: 127.0.0.0/8 allow
    # knotd is on loopback: unbound refuses to query 127.0.0.0/8 unless told
    do-not-query-localhost: no
    # RFC 6761 makes test. a locally served (empty) zone by default: ours is in knotd
    local-zone: "test." nodefault
    trust-anchor-file: "{ta}"
    module-config: "validator iterator"
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@53
""")
    proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(work, "unbound.out"), "w"), stderr=subprocess.STDOUT,
                            preexec_fn=w.die_with_parent)
    end = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"unbound exited with {proc.returncode}: "
                               + open(os.path.join(work, "unbound.out")).read()[-2000:])
        r = subprocess.run(["kdig", f"@{UNBOUND_ADDR}", "dane.test", "MX", "+dnssec", "+timeout=1", "+retry=0"],
                           capture_output=True, text=True)
        if re.search(r"flags:[^;]* ad[ ;]", r.stdout, re.I):
            return proc
        if time.monotonic() > end:
            raise RuntimeError(f"unbound did not validate dane.test MX within 30s: {r.stdout[-1500:]}")
        time.sleep(0.1)


def main():
    mtasts, testd, work, records = pm.begin(__doc__, "resolver_postfix_dane", ["unbound"])
    world = resolver = postfix = unbound = None
    sinks = []
    try:
        world = w.World(work, testd, DOMAINS).start()
        # The TLSA records need the sinks' certificates, which need the World's CA: zones again.
        good = tlsa_3_1_1(cert_pubkey(world.ca.leaf("mx1.dane.test", "valid")[0]))
        other = tlsa_3_1_1(fresh_pubkey())
        DOMAINS["dane.test"]["extra"] = [f"_25._tcp.mx1 TLSA {good}"]
        DOMAINS["danebad.test"]["extra"] = [f"_25._tcp.mx1 TLSA {other}"]
        world.restart_dns(DOMAINS)
        anchors = world.knot.trust_anchors(list(DOMAINS))
        ta = os.path.join(work, "trust-anchors.key")
        with open(ta, "w") as f:
            f.write("\n".join(anchors) + "\n")
        unbound = start_unbound(work, anchors)
        # Postfix's resolver (copied into its chroot by setup()) is the validating unbound.
        world.use_nameserver(UNBOUND_ADDR, "trust-ad attempts:2 timeout:2")

        sinks = pm.start_sinks(world, DOMAINS, records)
        # docs/resolver.md "DANE"; the probe asks for a signed name of this world (not the root).
        postfix = pm.Postfix(work, world, "smtp_dns_support_level = dnssec\ndnssec_probe = ns:dane.test\n").setup()
        config = f'dane = true\ndane_trust_anchor = "{ta}"\n[zones.nodane]\ndane = false\n'
        resolver = w.start_mtasts(mtasts, work, world, [f"unix:{pm.SOCKET}"], config)
        for d in DOMAINS:
            got = postfix.query(d)
            check(got == "dane-only", f"{d}: the resolver answers dane-only through Postfix's socketmap ({got})")
        got = postfix.query("danebad.test", "nodane")
        check(got == "secure match=mx1.danebad.test servername=hostname",
              f"danebad.test without DANE: MTA-STS alone says secure, the sink's certificate passes ({got})")
        by_rcpt = postfix.deliver(DOMAINS, records)
        log = postfix.log()

        check("DNSSEC validation may be unavailable" not in log,
              "Postfix's dnssec_probe got a validated answer through unbound")
        pm.check_verified(postfix, by_rcpt, "dane.test", "mx1.dane.test", "TLSA matches")
        pm.check_deferred(postfix, by_rcpt, "danebad.test", "TLSA does not match")
        check("user@danebad.test" in postfix.queued(), "TLSA does not match: the mail stays in the queue")
        # The certificate is valid for the test CA (which Postfix trusts) and names the MX host:
        # only the TLSA records can have failed it.
        check(re.search(r"certificate verification failed for mx1\.danebad\.test.*no matching DANE TLSA records", log)
              is not None and re.search(r"to=<user@danebad\.test>.*status=deferred \(Server certificate not verified\)", log)
              is not None, "TLSA does not match: deferred because no TLSA record matched the certificate")
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
    return pm.finish("resolver_postfix_dane", work, postfix, sinks, world, resolver, unbound)


if __name__ == "__main__":
    sys.exit(main())
