#!/usr/bin/python3
"""Writes the report_mail golden cases: received inputs (mails, .json.gz, .json) and, beside
each, NNN-name.expected.json with what decoding must give. The expectations are written here by
hand from RFC 8460 §5.3 and docs/reports.md, not read back from the implementation.

Run it from anywhere; it rewrites the files in its own directory. gzip output is made with
mtime 0 so the files are reproducible.
"""
import base64, gzip, json, os, quopri

HERE = os.path.dirname(os.path.abspath(__file__))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def b64(data: bytes) -> str:
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def report(org, rid, domain="example.com", ok=1000, failures=(), start="2026-11-20T00:00:00Z",
           end="2026-11-20T23:59:59Z", policy_type="sts", drop=()):
    r = {
        "organization-name": org,
        "date-range": {"start-datetime": start, "end-datetime": end},
        "contact-info": "smtp-tls-reporting@" + org.split()[0].lower() + ".example",
        "report-id": rid,
        "policies": [{
            "policy": {"policy-type": policy_type,
                       "policy-string": ["version: STSv1", "mode: testing", "mx: mx1." + domain,
                                         "max_age: 86400"],
                       "policy-domain": domain, "mx-host": ["mx1." + domain]},
            "summary": {"total-successful-session-count": ok,
                        "total-failure-session-count": sum(f["failed-session-count"] for f in failures)},
        }],
    }
    if failures:
        r["policies"][0]["failure-details"] = list(failures)
    for k in drop:
        del r[k]
    return r


def failure(t, n, ip="192.0.2.10", mx="mx1.example.com"):
    f = {"result-type": t, "failed-session-count": n}
    if ip:
        f["sending-mta-ip"] = ip
    if mx:
        f["receiving-mx-hostname"] = mx
    return f


def minified(r):
    return json.dumps(r, separators=(",", ":")).encode()


def pretty(r):
    return json.dumps(r, indent=2).encode()


def mail(top_type, parts, headers=None, preamble=""):
    h = {
        "From": "noreply-smtp-tls-reporting@sender.example",
        "To": "tlsrpt@example.com",
        "Date": "Sat, 21 Nov 2026 04:17:13 -0800",
        "Subject": "Report Domain: example.com Submitter: sender.example Report-ID: <r1@sender.example>",
        "TLS-Report-Domain": "example.com",
        "TLS-Report-Submitter": "sender.example",
        "Message-ID": "<r1@sender.example>",
        "MIME-Version": "1.0",
    }
    if headers:
        for k, v in headers.items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
    out = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    out += f"Content-Type: {top_type}; boundary=\"=_b\"\r\n\r\n{preamble}"
    for ph, body in parts:
        out += "--=_b\r\n" + ph + "\r\n\r\n" + body + "\r\n"
    out += "--=_b--\r\n"
    return out.encode()


TEXT = ("Content-Type: text/plain; charset=\"UTF-8\"", "This is an aggregate TLS report from sender.example")


def gz_part(ctype, data, name=None, cte="base64"):
    ph = f"Content-Type: {ctype}" + (f";\r\n\tname=\"{name}\"" if name else "")
    if name:
        ph += f"\r\nContent-Disposition: attachment;\r\n\tfilename=\"{name}\""
    ph += f"\r\nContent-Transfer-Encoding: {cte}"
    return ph, b64(data) if cte == "base64" else data.decode()


cases = []


def case(name, data, ok, error=None, warnings=(), org=None, rid=None, via=None, successful=0, failed=0):
    exp = {"valid": ok, "error": error, "warnings": list(warnings)}
    if ok:
        exp.update({"organization": org, "report_id": rid, "via": via, "successful": successful,
                    "failed": failed})
    cases.append((name, data, exp))


# 001 Google: multipart/report with report-type unquoted, text part, tlsrpt+gzip in base64,
# the google.com!domain!start!end!001.json.gz name, the report one minified line.
g = report("Google Inc.", "2026-11-20T00:00:00Z_example.com", failures=[
    failure("certificate-expired", 3, ip="209.85.220.41")])
case("001-google-tlsrpt-gzip-base64.eml",
     mail("multipart/report; report-type=tlsrpt",
          [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(g)),
                         "google.com!example.com!1795132800!1795219199!001.json.gz")],
          headers={"From": "noreply-smtp-tls-reporting@google.com", "TLS-Report-Submitter": "google.com"}),
     True, org="Google Inc.", rid=g["report-id"], via="mail+gzip", successful=1000, failed=3)

# 002 Microsoft: quoted report-type, an HTML part in quoted-printable first, a folded
# Content-Description, the pretty-printed report.
m = report("Microsoft Corporation", "134080128001234567+example.com", ok=412, failures=[
    failure("certificate-host-mismatch", 4, ip="2001:db8:f400::2", mx="example-com.mail.protection.outlook.com"),
    failure("sts-policy-fetch-error", 3, ip=None, mx=None)])
html = quopri.encodestring(b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=us-ascii"></head><body><div>This is an aggregate TLS report from microsoft.com</div></body></html>').decode()
case("002-microsoft-html-part.eml",
     mail("multipart/report;\r\n\treport-type=\"tlsrpt\"",
          [("Content-Type: text/html; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable", html),
           ("Content-Type: application/tlsrpt+gzip\r\nContent-Description:\r\n microsoft.com!example.com!1795132800!1795219199!134080128001234567.json.gz\r\n"
            "Content-Disposition: attachment;\r\n\tfilename=\"microsoft.com!example.com!1795132800!1795219199!134080128001234567.json.gz\"\r\n"
            "Content-Transfer-Encoding: base64", b64(gz(pretty(m))))],
          headers={"From": "<tlsrpt-noreply@microsoft.com>", "TLS-Report-Submitter": "microsoft.com"}),
     True, org="Microsoft Corporation", rid=m["report-id"], via="mail+gzip", successful=412, failed=7)

# 003 a sender whose last boundary is not closed ("--=_b" without "--"), with a preamble.
r3 = report("Mail.Ru", "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru", ok=5)
body = mail("multipart/report; report-type=\"tlsrpt\"",
            [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(r3)), "mail.ru!example.com!1795132800!1795219200!001.json.gz")],
            preamble="This is a multipart message in MIME format.\r\n\r\n")
body = body.replace(b"--=_b--\r\n", b"--=_b\r\n\r\n")
case("003-unclosed-boundary.eml", body, True, org="Mail.Ru", rid=r3["report-id"], via="mail+gzip", successful=5)

# 004 application/gzip instead of application/tlsrpt+gzip.
r4 = report("Sender Four", "r4", ok=10)
case("004-application-gzip.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/gzip", gz(minified(r4)), "r4.json.gz")]),
     True, warnings=["media-type-nonstandard"], org="Sender Four", rid="r4", via="mail+gzip", successful=10)

# 005 application/octet-stream, only the file name says .json.gz.
r5 = report("Sender Five", "r5", ok=11)
case("005-octet-stream-json-gz-name.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/octet-stream", gz(minified(r5)), "sender5!example.com!1795132800!1795219199.json.gz")]),
     True, warnings=["media-type-nonstandard"], org="Sender Five", rid="r5", via="mail+gzip", successful=11)

# 006 multipart/mixed with application/json, 7bit (not base64).
r6 = report("Sender Six", "r6", ok=12)
case("006-json-7bit-multipart-mixed.eml",
     mail("multipart/mixed", [TEXT, gz_part("application/json", pretty(r6), "r6.json", cte="7bit")]),
     True, warnings=["mime-not-multipart-report", "media-type-nonstandard"], org="Sender Six", rid="r6",
     via="mail+json", successful=12)

# 007 application/tlsrpt+json in quoted-printable.
r7 = report("Sender Seven", "r7", ok=13)
case("007-tlsrpt-json-quoted-printable.eml",
     mail("multipart/report; report-type=tlsrpt",
          [TEXT, ("Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: quoted-printable",
                  quopri.encodestring(pretty(r7)).decode())]),
     True, org="Sender Seven", rid="r7", via="mail+json", successful=13)

# 008 no TLS-Report-Domain header (RFC 8460 §5.3 requires it).
r8 = report("Sender Eight", "r8", ok=14)
case("008-no-tls-report-domain.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(r8)), "r8.json.gz")],
          headers={"TLS-Report-Domain": None}),
     True, warnings=["tls-report-domain-missing"], org="Sender Eight", rid="r8", via="mail+gzip", successful=14)

# 009 a report forwarded as message/rfc822 inside multipart/mixed.
r9 = report("Sender Nine", "r9", ok=15)
inner = mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(r9)), "r9.json.gz")]).decode()
inner = inner.replace("=_b", "=_inner")
case("009-forwarded-rfc822.eml",
     mail("multipart/mixed", [("Content-Type: text/plain", "FYI, forwarded."), ("Content-Type: message/rfc822", inner)],
          headers={"TLS-Report-Domain": None, "Subject": "Fwd: Report Domain: example.com"}),
     True, warnings=["mime-not-multipart-report", "tls-report-domain-missing"], org="Sender Nine", rid="r9",
     via="mail+gzip", successful=15)

# 010 a mail with no report at all (a PNG attachment).
case("010-err-no-report.eml",
     mail("multipart/mixed", [TEXT, ("Content-Type: image/png; name=\"logo.png\"\r\nContent-Transfer-Encoding: base64",
                                     b64(b"\x89PNG\r\n\x1a\n"))]),
     False, error="mime-no-report")

# 011 corrupt gzip (bytes flipped in the middle of the deflate stream).
z = bytearray(gz(pretty(report("Sender Eleven", "r11", ok=1))))
for i in range(20, 40):
    z[i] ^= 0xA5
case("011-err-corrupt-gzip.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", bytes(z), "r11.json.gz")]),
     False, error="gzip-invalid")

# 012 a gzip bomb: 40 MB of spaces after a JSON prefix, about 40 KB compressed.
bomb = gz(b'{"organization-name":"' + b" " * (40 * 1024 * 1024) + b'"}')
case("012-err-gzip-bomb.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", bomb, "bomb.json.gz")]),
     False, error="gzip-too-large")

# 013 gzip of something that is not JSON.
case("013-err-invalid-json.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(b"{\"organization-name\": \"x\",,}"), "r13.json.gz")]),
     False, error="json-syntax")

# 014 a required field missing (report-id).
case("014-err-missing-report-id.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(report("S", "x", drop=("report-id",)))), "r14.json.gz")]),
     False, error="field-missing")

# 015 a report from 2015, before TLS-RPT existed.
case("015-err-date-out-of-range.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(report("S", "r15", start="2015-06-01T00:00:00Z", end="2015-06-01T23:59:59Z"))), "r15.json.gz")]),
     False, error="date-out-of-range")

# 016 a bare .json.gz covering every RFC 8460 §4.3 result type.
types = ["starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
         "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
         "sts-policy-invalid", "sts-webpki-invalid"]
r16 = report("Every Type Org", "all-types", ok=100, failures=[failure(t, i + 1, ip=f"198.51.100.{i + 1}") for i, t in enumerate(types)])
case("016-all-result-types.json.gz", gz(minified(r16)), True, org="Every Type Org", rid="all-types", via="gzip",
     successful=100, failed=sum(range(1, 12)))

# 017 a bare .json, pretty-printed, with a BOM-less leading newline.
r17 = report("Plain Json Org", "plain-1", ok=7)
case("017-plain.json", b"\n" + pretty(r17), True, org="Plain Json Org", rid="plain-1", via="json", successful=7)

# 018 a truncated .json.gz.
case("018-err-truncated.json.gz", gz(pretty(r17))[:60], False, error="gzip-invalid")

# 019 an empty file.
case("019-err-empty.eml", b"", False, error="input-empty")

# 020 an ordinary text mail.
case("020-err-text-mail.eml",
     b"From: someone@example.org\r\nTo: tlsrpt@example.com\r\nSubject: hello\r\n\r\nNot a report.\r\n",
     False, error="mime-no-report")

# 021 declared application/tlsrpt+json but the bytes are gzip.
r21 = report("Sender TwentyOne", "r21", ok=21)
case("021-json-declared-but-gzip.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+json", gz(minified(r21)), None)]),
     True, warnings=["gzip-undeclared"], org="Sender TwentyOne", rid="r21", via="mail+gzip", successful=21)

# 022 the whole message is the attachment (no multipart).
r22 = report("Sender TwentyTwo", "r22", ok=22)
single = ("From: r@sender.example\r\nTo: tlsrpt@example.com\r\nTLS-Report-Domain: example.com\r\n"
          "MIME-Version: 1.0\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          + b64(gz(minified(r22))) + "\r\n").encode()
case("022-single-part.eml", single, True, warnings=["mime-not-multipart-report"], org="Sender TwentyTwo",
     rid="r22", via="mail+gzip", successful=22)

# 023 a count as a string.
bad = report("S", "r23")
bad["policies"][0]["summary"]["total-successful-session-count"] = "1000"
case("023-err-count-as-string.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(minified(bad)), "r23.json.gz")]),
     False, error="field-type")

# 024 no-policy-found and tlsa policies beside sts in one report (a DANE-capable sender).
r24 = report("Dane Sender", "r24", ok=30)
r24["policies"].append({"policy": {"policy-type": "no-policy-found", "policy-domain": "example.com"},
                        "summary": {"total-successful-session-count": 8, "total-failure-session-count": 0}})
r24["policies"].append({"policy": {"policy-type": "tlsa", "policy-string": ["3 1 1 AAAA"], "policy-domain": "example.com"},
                        "summary": {"total-successful-session-count": 2, "total-failure-session-count": 1},
                        "failure-details": [failure("tlsa-invalid", 1)]})
case("024-three-policy-types.eml",
     mail("multipart/report; report-type=tlsrpt", [TEXT, gz_part("application/tlsrpt+gzip", gz(pretty(r24)), "r24.json.gz")]),
     True, org="Dane Sender", rid="r24", via="mail+gzip", successful=40, failed=1)

for name, data, exp in cases:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    base = name.split(".")[0]
    with open(os.path.join(HERE, base + ".expected.json"), "w") as f:
        json.dump(exp, f, indent=2)
        f.write("\n")
print(f"{len(cases)} cases")
