"""Answer compatibility: postfix-mta-sts-resolver (Debian's mta-sts-daemon) and `mtasts resolver`
side by side against the same simulated internet, the same socketmap queries to both, the same
answers expected (match= lists compared as sets: the peer writes them in Python set order).

    python3 -S resolver_compat_test.py MTASTS TESTD      (as root: it makes a private namespace)

Exit 0 when every answer agrees, 1 when one differs, 2 when the world could not start."""
import os
import shutil
import sys

import resolver_world as w

ENFORCE = "version: STSv1\nmode: enforce\nmx: mx1.{d}\nmx: *.mx.{d}\nmax_age: 604800\n"
TESTING = "version: STSv1\nmode: testing\nmx: mx1.{d}\nmax_age: 86400\n"


def domains():
    def p(text, d):
        return text.replace("{d}", d)
    ds = {
        "enforce.test": {"policy": p(ENFORCE, "enforce.test")},
        "crlf.test": {"policy": p(ENFORCE, "crlf.test").replace("\n", "\r\n")},
        "charset.test": {"policy": p(ENFORCE, "charset.test"), "content_type": "text/plain; charset=utf-8"},
        "testing.test": {"policy": p(TESTING, "testing.test")},
        "none.test": {"policy": "version: STSv1\nmode: none\nmax_age: 86400\n"},
        "norecord.test": {"policy": p(ENFORCE, "norecord.test"), "record": None},
        "multiple.test": {"policy": p(ENFORCE, "multiple.test"),
                          "record": ["v=STSv1; id=1", "v=STSv1; id=2"]},
        "notfound.test": {"behaviour": "404"},
        "servererror.test": {"behaviour": "500"},
        "redirect.test": {"behaviour": "redirect"},
        "html.test": {"policy": p(ENFORCE, "html.test"), "behaviour": "html"},
        "octet.test": {"policy": p(ENFORCE, "octet.test"), "content_type": "application/octet-stream"},
        "refused.test": {"behaviour": "refused"},
        "selfsigned.test": {"policy": p(ENFORCE, "selfsigned.test"), "cert": "self-signed"},
        "expired.test": {"policy": p(ENFORCE, "expired.test"), "cert": "expired"},
        "wrongname.test": {"policy": p(ENFORCE, "wrongname.test"), "cert": "wrong-name"},
        "garbage.test": {"behaviour": "garbage"},
        "toolarge.test": {"policy": p(ENFORCE, "toolarge.test"), "behaviour": "large"},
        "nomode.test": {"policy": "version: STSv1\nmx: mx1.nomode.test\nmax_age: 86400\n"},
        "badversion.test": {"policy": "version: STSv2\nmode: enforce\nmx: mx1.badversion.test\nmax_age: 86400\n"},
        "reportmode.test": {"policy": "version: STSv1\nmode: report\nmx: mx1.reportmode.test\nmax_age: 86400\n"},
        "bigmaxage.test": {"policy": "version: STSv1\nmode: enforce\nmx: mx1.bigmaxage.test\nmax_age: 99999999\n"},
        "nomx.test": {"policy": "version: STSv1\nmode: enforce\nmax_age: 86400\n"},
    }
    return ds


def queries(ds):
    out = []
    for d in ds:
        for zone in ("postfix", "strict"):
            out.append((zone, d))
    out += [("postfix", "ENFORCE.TEST."), ("postfix", "[enforce.test]:25"), ("postfix", "enforce.test:587"),
            ("postfix", ".enforce.test"), ("postfix", "[127.0.0.1]"), ("postfix", "127.0.0.1"),
            ("postfix", "nonexistent.test"), ("postfix", "mx1.enforce.test"), ("otherzone", "enforce.test"),
            ("strict", "TESTING.test"), ("postfix", "example")]
    return out


def normalize(answer):
    if answer.startswith("OK secure match="):
        words = answer.split(" ")
        match = words[2][len("match="):]
        return " ".join(["OK", "secure", "match=" + ":".join(sorted(set(match.split(":"))))] + words[3:])
    return answer


def main():
    mtasts, testd, work = w.begin(__doc__, "resolver-compat")
    ds = domains()
    world = peer = ours = None
    try:
        try:
            world = w.World(work, testd, ds).start()
            peer_port, our_port = 18461, 28461
            peer = w.start_peer(work, peer_port, {"strict": {"strict_testing": True}})
            ours = w.start_mtasts(mtasts, work, world, [f"127.0.0.1:{our_port}"],
                                  "[zones.strict]\nstrict_testing = true\n")
        except Exception as e:  # noqa: BLE001
            print(f"resolver_compat: could not start: {e}", file=sys.stderr)
            return 2
        a = w.Socketmap(("127.0.0.1", peer_port))
        b = w.Socketmap(("127.0.0.1", our_port))
        failed = 0
        ok_answers = 0
        # Twice: the first round fetches, the second answers from each daemon's cache.
        for round_ in (1, 2):
            for zone, key in queries(ds):
                pa, ma = a.query(zone, key), b.query(zone, key)
                same = normalize(pa) == normalize(ma)
                ok_answers += pa.startswith("OK")
                if not same:
                    failed += 1
                print(f"{'PASS' if same else 'FAIL'} round {round_} {zone} {key!r}: peer {pa!r}"
                      + ("" if same else f" mtasts {ma!r}"))
        # The answers must not all be the same trivial one: some policies are enforced.
        if ok_answers < 8:
            print(f"FAIL only {ok_answers} OK answers from the peer: the world is not what the test assumes")
            failed += 1
        print(f"resolver_compat: {len(queries(ds)) * 2 - failed} agreed, {failed} differed")
        if failed:
            for name in ("peer.log", "mtasts.log"):
                print(f"--- {name}\n" + open(os.path.join(work, name)).read()[-3000:])
        return 1 if failed else 0
    finally:
        w.stop(ours)
        w.stop(peer)
        if world:
            world.stop()
        if os.environ.get('KEEP'):
            print('kept', work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
