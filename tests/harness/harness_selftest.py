#!/usr/bin/python3 -S
"""Tests of the harness itself, without mtasts or testd:

    harness_selftest.py

- ca.py: every certificate kind fails (or passes) openssl verify for the reason it should;
- knot.py: knotd serves zones (records, CNAME, NXDOMAIN through the catch-all zone) and a zone
  knotd rejects fails the start quickly with knotd's error;
- run_scenarios.judge: a made-up check output is passed or failed for the right reasons;
- MX hosts with per-address servers: loopback only, equal to the zone, one address rule each;
- the dry run's content type comparison (media type, parameters allowed);
- every scenario file loads.
"""
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ca as ca_mod  # noqa: E402
import knot as knot_mod  # noqa: E402
import run_scenarios as rs  # noqa: E402

passed = failed = 0


def expect(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok: {name}")
    else:
        failed += 1
        print(f"FAIL: {name} {detail}")


def test_ca(tmp):
    ca = ca_mod.CA(os.path.join(tmp, "ca")).create()
    host = "mta-sts.selftest.test"
    ca.leaves([(host, k) for k in ca_mod.KINDS])
    for kind in ca_mod.KINDS:
        ok, text = ca_mod.verify(ca, host, kind)
        want = ca_mod.EXPECTED_VERIFY[kind]
        expect(f"ca: {kind} verifies as intended",
               ok if want is None else (not ok and want in text), text.splitlines()[-1:])
    with open(ca.ca_file) as f:
        expect("ca: ca.pem holds only the root", f.read().count("BEGIN CERTIFICATE") == 1)
    for kind, n in (("valid", 2), ("incomplete-chain", 1), ("self-signed", 1), ("expired", 2)):
        with open(ca.paths(host, kind)[0]) as f:
            expect(f"ca: {kind} chain file has {n} certificate(s)",
                   f.read().count("BEGIN CERTIFICATE") == n)
    # Certificates naming other names (scenario key cert_names) and wildcards.
    named = [("mx1.a.test", "valid@*.a.test", True), ("x.mx1.a.test", "valid@*.a.test", False),
             ("mta-sts.a.test", "valid@sts.provider.test", False), ("mx1.a.test", "valid@a.test", False),
             ("mx1.a.test", "valid@a.test,mx1.a.test", True), ("mx1.a.test", "valid@*.test", False)]
    ca.leaves([(h, spec) for h, spec, _ in named])
    for h, spec, covers in named:
        ok, text = ca_mod.verify(ca, h, spec)
        expect(f"ca: {spec} for {h} {'verifies' if covers else 'is a name mismatch'}",
               ok if covers else (not ok and "hostname mismatch" in text), text.splitlines()[-1:])
        expect(f"ca: verify_problem({h}, {spec})",
               ca_mod.verify_problem(h, spec) == (None if covers else "wrong-name"))
    expect("ca: names give their own files",
           ca.paths("mx1.a.test", "valid@a.test") != ca.paths("mx1.a.test", "valid@b.test") and
           "*" not in ca.paths("mx1.a.test", "valid@*.a.test")[0])
    for bad in ("valid@", "valid@a..test", "wrong-name@a.test", "wildcard@a.test", "nope@a.test"):
        try:
            ca_mod.parse_spec(bad)
            expect(f"ca: spec {bad!r} is refused", False)
        except ValueError:
            expect(f"ca: spec {bad!r} is refused", True)


def test_knot(tmp):
    zones = {"a.test": ["@ MX 10 mx1", "mx1 A 127.0.0.1", '_mta-sts TXT "v=STSv1; id=1"'],
             "b.test": ["_mta-sts CNAME _mta-sts.a.test."]}
    with knot_mod.Knot(os.path.join(tmp, "knot"), zones) as dns:
        got = dns.query_many([("a.test", "MX"), ("_mta-sts.a.test", "TXT"),
                              ("_mta-sts.b.test", "TXT"), ("nothing.test", "A")])
        expect("knot: MX", got[("a.test", "MX")][1] == [("a.test", "MX", "10 mx1.a.test.")],
               got.get(("a.test", "MX")))
        expect("knot: TXT", got[("_mta-sts.a.test", "TXT")][1][0][2] == '"v=STSv1; id=1"',
               got.get(("_mta-sts.a.test", "TXT")))
        expect("knot: CNAME into another zone is not chased by knotd",
               got[("_mta-sts.b.test", "TXT")][1] == [("_mta-sts.b.test", "CNAME", "_mta-sts.a.test.")])
        expect("knot: outside every zone is NXDOMAIN", got[("nothing.test", "A")][0] == 3)
    t0 = time.monotonic()
    try:
        with knot_mod.Knot(os.path.join(tmp, "knot-bad"), {"bad.test": ["@ CNAME x", "@ MX 10 y"]}):
            expect("knot: a broken zone fails the start", False)
    except knot_mod.KnotError as e:
        expect("knot: a broken zone fails the start, quickly, with knotd's reason",
               time.monotonic() - t0 < 10 and "CNAME" in str(e), str(e)[:200])


class FakeScenario:
    domain = "x.test"
    status = "error"
    codes = ["sts-policy-not-found"]
    absent = ["sts-webpki-invalid"]
    one_of = []
    hints = ["re:well-?known", "404"]
    max_seconds = 30


def doc(**kw):
    d = {"domain": "x.test", "status": "error", "findings": [
        {"code": "sts-policy-not-found", "severity": "error",
         "message": "https://mta-sts.x.test/.well-known/mta-sts.txt answered 404",
         "fix": "put the policy file there"},
        {"code": "mode-testing", "severity": "info", "message": "testing", "fix": ""}]}
    d.update(kw)
    return json.dumps(d)


def test_judge():
    s = FakeScenario()
    cases = [
        ("a correct output passes", 1, doc(), []),
        ("an array with the domain passes", 1, "[" + doc() + "]", []),
        ("wrong status", 1, doc(status="warning"), ["status 'warning'"]),
        ("exit code 0 with status error", 0, doc(), ["exit code 0"]),
        ("exit code 2", 2, doc(), ["exit code 2"]),
        ("not JSON", 1, "oops", ["not one JSON"]),
        ("missing code", 1, doc(findings=[{"code": "x", "severity": "error", "message": "m",
                                           "fix": "f 404 well-known"}]), ["missing sts-policy-not-found"]),
        ("absent code present", 1, doc(findings=json.loads(doc())["findings"] + [
            {"code": "sts-webpki-invalid", "severity": "error", "message": "m", "fix": "f"}]),
         ["unwanted sts-webpki-invalid"]),
        ("error without fix", 1, doc(findings=[{"code": "sts-policy-not-found", "severity": "error",
                                                "message": "404 well-known", "fix": ""}]), ["has no fix"]),
        ("hint missing", 1, doc(findings=[{"code": "sts-policy-not-found", "severity": "error",
                                           "message": "not there", "fix": "put it there"}]),
         ["mentions 're:well-?known'", "mentions '404'"]),
        ("status not following severities", 1,
         doc(status="error", findings=[{"code": "sts-policy-not-found", "severity": "warning",
                                        "message": "404 well-known", "fix": "f"}]),
         ["does not follow"]),
        ("bad severity", 1, doc(findings=json.loads(doc())["findings"] + [
            {"code": "y", "severity": "fatal", "message": "m", "fix": "f"}]), ["severity 'fatal'"]),
        ("wrong domain", 1, doc(domain="y.test"), ["domain 'y.test'"]),
    ]
    for name, rc, out, wants in cases:
        problems, _ = rs.judge(s, rc, out, "", 1.0)
        text = "; ".join(problems)
        good = (not problems) if not wants else all(w in text for w in wants)
        expect(f"judge: {name}", good, text)
    problems, _ = rs.judge(s, 1, doc(), "", 31.0)
    expect("judge: too slow", any("took" in p for p in problems), problems)
    s.one_of = ["mx-unreachable", "starttls-not-supported"]
    problems, _ = rs.judge(s, 1, doc(), "", 1.0)
    expect("judge: one_of unmet", any("none of" in p for p in problems), problems)


def test_scenarios():
    scenarios, errors = rs.load_scenarios([], os.path.join(HERE, "scenarios"))
    expect("scenarios: every file loads", not errors, errors)
    expect("scenarios: at least 30", len(scenarios) >= 30, len(scenarios))
    named = {c for s in scenarios for c in s.codes + s.one_of}
    design = {c for c in rs.KNOWN_CODES if c in rs.DESIGN_CODES}
    expect("scenarios: every DESIGN.md code is expected somewhere",
           design <= named, sorted(design - named))


ADDRESSED = """
domain = "addr.test"
records = ['@ MX 10 mx1', 'mx1 A {a}', 'mx1 AAAA {b}']
[[mx]]
host = "mx1.addr.test"
[[mx.addresses]]
address = "{a}"
[[mx.addresses]]
address = "{b}"
behaviour = "no-starttls"
[expect]
status = "error"
"""


def test_addressed_mx(tmp):
    def load(text):
        path = os.path.join(tmp, "addr.toml")
        with open(path, "w") as f:
            f.write(text)
        try:
            return rs.Scenario(path), None
        except rs.ScenarioError as e:
            return None, str(e)

    s, err = load(ADDRESSED.format(a="127.0.0.9", b="::1"))
    expect("addresses: loopback A and AAAA load", s is not None, err)
    if s:
        servers = s.mx[0]["servers"]
        expect("addresses: one server per address, defaults from the mx",
               [(x["address"], x["behaviour"]) for x in servers]
               == [("127.0.0.9", "starttls"), ("::1", "no-starttls")], servers)
        net = rs.Internet([s], "testd", tmp, None)
        net.policy_port = lambda _s: 1
        net.testd.ports = {x["name"]: 2000 + i for i, x in enumerate(servers)}
        rules = net.connect_to(s)[2:]
        expect("addresses: one address rule each, to 127.0.0.1",
               rules == ["--connect-to", "127.0.0.9:25:127.0.0.1:2000",
                         "--connect-to", "[::1]:25:127.0.0.1:2001"], rules)
    _, err = load(ADDRESSED.format(a="192.0.2.25", b="::1"))
    expect("addresses: a non-loopback address is refused", err and "loopback" in err, err)
    _, err = load(ADDRESSED.replace("'mx1 AAAA {b}'", "'mx1 AAAA ::1', 'mx1 A 127.0.0.8'")
                  .format(a="127.0.0.9", b="::1"))
    expect("addresses: must equal the zone's A/AAAA records", err and "differ" in err, err)


def test_content_type():
    m = rs.content_type_matches
    expect("content type: parameters allowed", m("text/plain; charset=utf-8", "text/plain"))
    expect("content type: media type compared", not m("text/html", "text/plain"))
    expect("content type: case and spaces", m("TEXT/PLAIN ;charset=UTF-8", "text/plain"))
    expect("content type: named parameters wanted exactly",
           not m("text/plain", "text/plain; charset=utf-16")
           and m("text/plain;charset=utf-16", "text/plain; charset=utf-16"))


def main():
    with tempfile.TemporaryDirectory(prefix="mtasts-harness-selftest-") as tmp:
        test_ca(tmp)
        test_knot(tmp)
        test_addressed_mx(tmp)
    test_judge()
    test_content_type()
    test_scenarios()
    print(f"harness-selftest: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
