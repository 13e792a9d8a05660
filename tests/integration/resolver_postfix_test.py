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
import re
import sys

import postfix_mta as pm
import resolver_world as w
from resolver_world import FAILURES, check


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


def main():
    mtasts, testd, work, records = pm.begin(__doc__, "resolver_postfix")
    world = resolver = postfix = None
    sinks = []
    try:
        world = w.World(work, testd, DOMAINS).start()
        sinks = pm.start_sinks(world, DOMAINS, records)
        postfix = pm.Postfix(work, world).setup()
        resolver = w.start_mtasts(mtasts, work, world, [f"unix:{pm.SOCKET}"], "")
        got = postfix.query("good.test")
        check(got == "secure match=mx1.good.test servername=hostname",
              f"postmap -q through the socketmap ({got})")
        by_rcpt = postfix.deliver(DOMAINS, records)
        log, status = postfix.log(), postfix.status

        pm.check_verified(postfix, by_rcpt, "good.test", "mx1.good.test", "enforce + good TLS")
        pm.check_deferred(postfix, by_rcpt, "nostarttls.test", "enforce + no STARTTLS")
        check("TLS is required, but was not offered by host mx1.nostarttls.test" in log,
              "enforce + no STARTTLS: deferred because TLS is required")
        pm.check_deferred(postfix, by_rcpt, "mismatch.test", "enforce + MX not in policy")
        check(re.search(r"certificate verification failed for mx2\.mismatch\.test.*hostname mismatch", log) is not None,
              "enforce + MX not in policy: deferred because mx2 is not among the policy's names")
        check(status("testing.test") == "sent", f"testing: {status('testing.test')}")
        got = by_rcpt.get("user@testing.test")
        check(got is not None and not got["tls"], f"testing: received (without TLS: the MX has none) ({got})")
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
    return pm.finish("resolver_postfix", work, postfix, sinks, world, resolver)


if __name__ == "__main__":
    sys.exit(main())
