#!/usr/bin/python3 -S
"""Writes N realistic TLS-RPT reports as .json.gz files (the shape Google and Microsoft send:
one sts policy, a few failure details on some), for the ingest tests and bench/reports_bench.

    make_reports.py DIR N [--domains D1,D2,...] [--seed S]

File k is DIR/NNNNNN-org!domain!start!end.json.gz; organization k % 5, domain k % len(domains),
one day per report, report-id unique per file.
"""
import gzip, json, os, random, sys

ORGS = ["Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "Comcast", "Mail.Ru"]
TYPES = ["certificate-expired", "starttls-not-supported", "certificate-host-mismatch",
         "sts-policy-fetch-error", "certificate-not-trusted", "validation-failure"]


def report(k, domain, rnd):
    org = ORGS[k % len(ORGS)]
    start = 1795132800 - (k % 60) * 86400
    day = lambda t: __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(t))
    failures = []
    if k % 3 == 0:
        for i in range(1 + k % 4):
            failures.append({
                "result-type": TYPES[(k + i) % len(TYPES)],
                "sending-mta-ip": f"198.51.{(k >> 8) % 256}.{(k + i) % 256}",
                "receiving-mx-hostname": f"mx{1 + i % 2}.{domain}",
                "receiving-ip": f"203.0.113.{1 + i % 2}",
                "failed-session-count": 1 + rnd.randrange(20),
                "additional-information": "https://tlsrpt.example/info?id=%d" % k,
            })
    return {
        "organization-name": org,
        "date-range": {"start-datetime": day(start), "end-datetime": day(start + 86399)},
        "contact-info": "smtp-tls-reporting@" + org.split()[0].lower().strip(".") + ".example",
        "report-id": f"{day(start)}_{domain}_{k}@{org.split()[0].lower()}",
        "policies": [{
            "policy": {"policy-type": "sts",
                       "policy-string": ["version: STSv1", "mode: testing", f"mx: mx1.{domain}",
                                         f"mx: mx2.{domain}", "max_age: 604800"],
                       "policy-domain": domain, "mx-host": [f"mx1.{domain}", f"mx2.{domain}"]},
            "summary": {"total-successful-session-count": rnd.randrange(1, 5000),
                        "total-failure-session-count": sum(f["failed-session-count"] for f in failures)},
            **({"failure-details": failures} if failures else {}),
        }],
    }, org, start


def main():
    args = sys.argv[1:]
    domains = ["example.com"]
    seed = 8460
    if "--domains" in args:
        i = args.index("--domains")
        domains = args[i + 1].split(",")
        del args[i:i + 2]
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    out, n = args[0], int(args[1])
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(seed)
    for k in range(n):
        domain = domains[k % len(domains)]
        r, org, start = report(k, domain, rnd)
        data = json.dumps(r, indent=1 if k % 2 else None).encode()
        name = f"{k:06d}-{org.split()[0].lower()}!{domain}!{start}!{start + 86399}.json.gz"
        with open(os.path.join(out, name), "wb") as f:
            f.write(gzip.compress(data, compresslevel=6, mtime=0))


main()
