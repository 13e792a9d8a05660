#!/usr/bin/python3 -S
"""A test certificate authority made with openssl at test time (ECDSA P-256 everywhere).

    ca.py DIR HOST:SPEC [HOST:SPEC...]      make DIR/ca.pem and the named leaf certificates
                                            (SPEC: KIND, or KIND@NAME,NAME... for exactly those SANs)
    ca.py DIR --self-test                   make a leaf of every kind and check each with openssl verify

Layout of DIR:
    ca.pem                   the root certificate only: what the checker gets as --ca-file
    root.key, intermediate.pem, intermediate.key, leaf.key (the one key every leaf uses)
    certs/HOST-KIND.pem      what the server presents (leaf, plus the intermediate where the kind has it)
    certs/HOST-KIND.key      its private key

Kinds (KINDS below): a leaf for HOST signed by the intermediate and sent with it ("valid"), and the
ways real deployments get it wrong: expired, not-yet-valid, wrong-name (the SAN names another host
of the same parent domain), self-signed, incomplete-chain (leaf only: the intermediate is missing and
ca.pem holds only the root), expiring (valid, but expires in 10 days), wildcard (valid; the SAN is
`*.PARENT`, e.g. `*.example.test` for `mx1.example.test`); and five that need more than dates and
names: unknown-ca (a leaf from a second CA, root and intermediate unknown to ca.pem, sent with
that CA's intermediate), cn-only (the host only in the subject CN, no subjectAltName at all: openssl,
curl and Python accept it through the CN fallback, RFC 8461 §4.2 does not), expired-intermediate
(the leaf is fine, the intermediate sent with it expired yesterday), weak-key (an RSA 1024 leaf
key, too weak at OpenSSL security level 2) and sha1 (the leaf signed with SHA-1). A server needs
OpenSSL security level 0 to serve the last two (testd has it; nginx refuses to load them).

A certificate spec is a kind, or a kind and the exact names (subjectAltName dNSNames) the leaf
carries instead of the host's: `valid@sts.provider.test` is a good certificate for another name
(the host a CNAME points to), `expired@*.example.test,example.test` an expired wildcard. The kind
still sets the dates and the chain; the names replace what the kind would name.
"""
import concurrent.futures
import datetime
import hashlib
import os
import re
import subprocess
import sys
import threading

KINDS = ("valid", "expired", "not-yet-valid", "wrong-name", "self-signed", "incomplete-chain",
         "expiring", "wildcard", "unknown-ca", "cn-only", "expired-intermediate", "weak-key", "sha1")
# Kinds only a server at OpenSSL security level 0 can serve (nginx on Debian runs at level 2).
WEAK_KINDS = ("weak-key", "sha1")

_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

# (not_before, not_after) relative to now, in days; the leaf is sent with the intermediate unless
# noted. Start one hour in the past so a just-made certificate is valid everywhere at once.
_VALIDITY = {
    "valid": (-1 / 24, 90),
    "expired": (-30, -1),
    "not-yet-valid": (10, 100),
    "wrong-name": (-1 / 24, 90),
    "self-signed": (-1 / 24, 90),
    "incomplete-chain": (-1 / 24, 90),
    "expiring": (-1 / 24, 10),
    "wildcard": (-1 / 24, 90),
    "unknown-ca": (-1 / 24, 90),
    "cn-only": (-1 / 24, 90),
    "expired-intermediate": (-1 / 24, 90),
    "weak-key": (-1 / 24, 90),
    "sha1": (-1 / 24, 90),
}


def _stamp(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y%m%d%H%M%SZ")


def _run(args, cwd=None):
    r = subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def wrong_name(host):
    """The name a wrong-name certificate is for: another host of the same parent domain."""
    parent = host.split(".", 1)[1] if "." in host else host
    return f"www.{parent}"


def _parent(host):
    return host.split(".", 1)[1] if "." in host else host


def parse_spec(spec):
    """(kind, names or None) of a certificate spec "KIND" or "KIND@NAME,NAME..."; ValueError if bad."""
    kind, at, rest = spec.partition("@")
    if kind not in KINDS:
        raise ValueError(f"unknown certificate kind {kind!r} (kinds: {', '.join(KINDS)})")
    if not at:
        return kind, None
    if kind in ("wrong-name", "wildcard"):
        raise ValueError(f"certificate kind {kind!r} names its own SAN; give names with another kind")
    names = tuple(n.strip().lower().rstrip(".") for n in rest.split(","))
    for n in names:
        # A '*' may appear in the first label only: "*.host", or a partial wildcard "mx*.host"
        # (which senders must not accept: RFC 7817 §3) to test that they do not.
        if not re.fullmatch(r"[a-z0-9_*]([a-z0-9_*-]*[a-z0-9_*])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*", n):
            raise ValueError(f"certificate name {n!r} is not a host name, *.host or a partial wildcard")
    return kind, names


def make_spec(kind, names=None):
    return kind if not names else f"{kind}@{','.join(n.lower().rstrip('.') for n in names)}"


def san_names(host, spec):
    """The dNSNames the leaf of SPEC for HOST carries."""
    kind, names = parse_spec(spec)
    if names:
        return list(names)
    if kind == "wrong-name":
        return [wrong_name(host)]
    if kind == "wildcard":
        return [f"*.{_parent(host)}"]
    return [host]


def name_covers(name, host):
    """Does the certificate name NAME cover HOST (RFC 7817 §3, RFC 6125 §6.4.3: a '*' only as the
    whole leftmost label, standing for exactly one label, and not right under a TLD; a partial
    wildcard such as "mx*.host" covers nothing)?"""
    name, host = name.lower().rstrip("."), host.lower().rstrip(".")
    if not name.startswith("*."):
        return name == host
    base = name[2:]
    return base.count(".") >= 1 and "." in host and host.split(".", 1)[1] == base


def verify_problem(host, spec):
    """What a verifier must say of HOST's SPEC certificate: None (verifies) or the kind whose
    failure it shows ("wrong-name" for any name that does not cover HOST)."""
    kind, _ = parse_spec(spec)
    if EXPECTED_VERIFY[kind] is not None:
        return kind
    return None if any(name_covers(n, host) for n in san_names(host, spec)) else "wrong-name"


class CA:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.certs = os.path.join(self.dir, "certs")
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self._lock = threading.Lock()
        self._made = {}

    # --- the two CA certificates -------------------------------------------------------------
    def create(self):
        os.makedirs(self.certs, exist_ok=True)
        d = self.dir
        if os.path.exists(self.ca_file):
            return self
        self._write("root.ext", "basicConstraints=critical,CA:TRUE\n"
                                "keyUsage=critical,keyCertSign,cRLSign\n"
                                "subjectKeyIdentifier=hash\n")
        self._write("intermediate.ext", "basicConstraints=critical,CA:TRUE,pathlen:0\n"
                                        "keyUsage=critical,keyCertSign,cRLSign\n"
                                        "subjectKeyIdentifier=hash\n"
                                        "authorityKeyIdentifier=keyid:always\n")
        # Root: self-signed, made with `ca -selfsign` so its dates are exact like every other.
        _run(["openssl", "req", "-new", *_CURVE, "-subj", "/O=mtasts test/CN=mtasts test root CA",
              "-keyout", f"{d}/root.key", "-out", f"{d}/root.csr"])
        self._sign(f"{d}/root.csr", f"{d}/root.key", None, f"{d}/root.ext", -1, 365,
                   f"{d}/root.tmp", selfsign=True)
        os.replace(f"{d}/root.tmp", f"{d}/root.pem")
        _run(["openssl", "req", "-new", *_CURVE,
              "-subj", "/O=mtasts test/CN=mtasts test intermediate CA",
              "-keyout", f"{d}/intermediate.key", "-out", f"{d}/intermediate.csr"])
        self._sign(f"{d}/intermediate.csr", f"{d}/root.key", f"{d}/root.pem",
                   f"{d}/intermediate.ext", -1, 365, f"{d}/intermediate.pem")
        # The key and request every leaf shares (see _make_leaf).
        _run(["openssl", "req", "-new", *_CURVE, "-subj", "/CN=leaf", "-keyout", f"{d}/leaf.key",
              "-out", f"{d}/leaf.csr"])
        with open(f"{d}/root.pem") as f:
            root = f.read()
        self._write("ca.pem.tmp", root)
        os.replace(f"{d}/ca.pem.tmp", self.ca_file)  # last: its presence means the CA is complete
        return self

    def _extra(self, what):
        """Make (once) the extra CA material some kinds need: "other" (a second root and
        intermediate that ca.pem does not hold), "expired-intermediate" (the intermediate's key
        under a certificate that ended yesterday), "weak" (an RSA 1024 key and request)."""
        d = self.dir
        with self._lock:
            ev = self._made.get(("extra", what))
            mine = ev is None
            if mine:
                ev = self._made[("extra", what)] = threading.Event()
        if not mine:
            ev.wait()
            return
        try:
            if what == "other" and not os.path.exists(f"{d}/other-intermediate.pem"):
                _run(["openssl", "req", "-new", *_CURVE, "-subj", "/O=elsewhere/CN=unknown root CA",
                      "-keyout", f"{d}/other-root.key", "-out", f"{d}/other-root.csr"])
                self._sign(f"{d}/other-root.csr", f"{d}/other-root.key", None, f"{d}/root.ext", -1,
                           365, f"{d}/other-root.pem", selfsign=True)
                _run(["openssl", "req", "-new", *_CURVE, "-subj",
                      "/O=elsewhere/CN=unknown intermediate CA", "-keyout",
                      f"{d}/other-intermediate.key", "-out", f"{d}/other-intermediate.csr"])
                self._sign(f"{d}/other-intermediate.csr", f"{d}/other-root.key",
                           f"{d}/other-root.pem", f"{d}/intermediate.ext", -1, 365,
                           f"{d}/other-intermediate.tmp")
                os.replace(f"{d}/other-intermediate.tmp", f"{d}/other-intermediate.pem")
            elif what == "expired-intermediate" and not os.path.exists(f"{d}/expired-intermediate.pem"):
                self._sign(f"{d}/intermediate.csr", f"{d}/root.key", f"{d}/root.pem",
                           f"{d}/intermediate.ext", -60, -1, f"{d}/expired-intermediate.tmp",
                           subject="/O=mtasts test/CN=mtasts test expired intermediate CA")
                os.replace(f"{d}/expired-intermediate.tmp", f"{d}/expired-intermediate.pem")
            elif what == "weak" and not os.path.exists(f"{d}/weak.csr"):
                _run(["openssl", "req", "-new", "-newkey", "rsa:1024", "-nodes", "-subj", "/CN=weak",
                      "-keyout", f"{d}/weak.key", "-out", f"{d}/weak.tmp"])
                os.replace(f"{d}/weak.tmp", f"{d}/weak.csr")
        finally:
            ev.set()

    def _write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def _sign(self, csr, ca_key, ca_cert, ext, start_days, end_days, out, selfsign=False,
              subject=None, md=None):
        """Sign CSR with `openssl ca` (the only openssl 3.0 command that sets both dates).
        Each call has its own tiny database, so calls can run in parallel."""
        base = out + ".db"
        os.makedirs(base, exist_ok=True)
        open(f"{base}/index.txt", "w").close()
        conf = f"{base}/ca.cnf"
        with open(conf, "w") as f:
            f.write(f"""[ca]
default_ca = test
[test]
dir = {base}
database = {base}/index.txt
new_certs_dir = {base}
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
commonName = supplied
organizationName = optional
""")
        args = ["openssl", "ca", "-batch", "-notext", "-config", conf, "-in", csr, "-keyfile", ca_key,
                "-extfile", ext, "-startdate", _stamp(start_days), "-enddate", _stamp(end_days),
                "-out", out]
        args += ["-selfsign"] if selfsign else ["-cert", ca_cert]
        if subject:
            args += ["-subj", subject]
        if md:
            args += ["-md", md]
        _run(args)
        for name in os.listdir(base):
            os.unlink(os.path.join(base, name))
        os.rmdir(base)

    # --- leaves --------------------------------------------------------------------------------
    def paths(self, host, kind):
        """(chain file, key file) of HOST's certificate of spec KIND ("KIND" or "KIND@NAMES")."""
        host = host.lower().rstrip(".")
        base, names = parse_spec(kind)
        stem = os.path.join(self.certs, f"{host}-{base}")
        if names:  # names may hold '*': a digest keeps the file name plain
            stem += "-" + hashlib.sha256(",".join(names).encode()).hexdigest()[:12]
        return stem + ".pem", stem + ".key"

    def leaf(self, host, kind):
        """Make (once) the certificate of spec KIND for HOST; returns (chain file, key file)."""
        parse_spec(kind)  # ValueError for an unknown kind or a bad name
        host = host.lower().rstrip(".")
        pem, key = self.paths(host, kind)
        with self._lock:
            ev = self._made.get((host, kind))
            mine = ev is None
            if mine:
                ev = self._made[(host, kind)] = threading.Event()
        if not mine:
            ev.wait()
            return pem, key
        try:
            if not (os.path.exists(pem) and os.path.exists(key)):
                self._make_leaf(host, kind, pem, key)
        finally:
            ev.set()
        return pem, key

    def _make_leaf(self, host, kind, pem, key):
        """One `openssl ca` run: every leaf shares one P-256 key and one request (the subject and
        extensions are set here), which halves the time; nothing in the tests needs distinct keys."""
        d = self.dir
        stem = pem[:-4]
        sans = san_names(host, kind)
        san = sans[0]  # also the subject CN
        kind, _ = parse_spec(kind)
        with open(stem + ".ext", "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n")
            if kind != "cn-only":
                f.write(f"subjectAltName={','.join('DNS:' + n for n in sans)}\n")
            if kind != "self-signed":
                f.write("authorityKeyIdentifier=keyid:always\n")
        start, end = _VALIDITY[kind]
        csr, leaf_key = f"{d}/leaf.csr", f"{d}/leaf.key"
        issuer_key, issuer = f"{d}/intermediate.key", f"{d}/intermediate.pem"
        if kind == "unknown-ca":
            self._extra("other")
            issuer_key, issuer = f"{d}/other-intermediate.key", f"{d}/other-intermediate.pem"
        elif kind == "expired-intermediate":
            self._extra("expired-intermediate")
            issuer = f"{d}/expired-intermediate.pem"
        elif kind == "weak-key":
            self._extra("weak")
            csr, leaf_key = f"{d}/weak.csr", f"{d}/weak.key"
        if kind == "self-signed":
            self._sign(csr, leaf_key, None, stem + ".ext", start, end,
                       stem + ".crt", selfsign=True, subject=f"/CN={san}")
        else:
            self._sign(csr, issuer_key, issuer, stem + ".ext", start, end, stem + ".crt",
                       subject=f"/CN={san}", md="sha1" if kind == "sha1" else None)
        with open(stem + ".crt") as f:
            chain = f.read()
        if kind not in ("self-signed", "incomplete-chain"):
            with open(issuer) as f:
                chain += f.read()
        with open(leaf_key) as f:
            key_text = f.read()
        with open(key + ".tmp", "w") as f:
            f.write(key_text)
        os.chmod(key + ".tmp", 0o600)
        with open(pem + ".tmp", "w") as f:
            f.write(chain)
        os.replace(key + ".tmp", key)
        os.replace(pem + ".tmp", pem)
        for suffix in (".ext", ".crt"):
            os.unlink(stem + suffix)

    def leaves(self, wanted, workers=4):
        """Make many (host, kind) pairs in parallel."""
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda hk: self.leaf(*hk), wanted))


# --- checks: what each kind must look like to a verifier --------------------------------------
def verify(ca, host, kind):
    """openssl verify of HOST's KIND certificate against ca.pem alone, with the chain file's other
    certificates as untrusted intermediates. Returns (ok, openssl's error text)."""
    pem, _ = ca.paths(host, kind)
    with open(pem) as f:
        blocks = f.read().split("-----END CERTIFICATE-----")
    leaf = blocks[0] + "-----END CERTIFICATE-----\n"
    rest = "-----END CERTIFICATE-----".join(blocks[1:]).strip()
    leaf_file = pem + ".leaf"
    untrusted = pem + ".untrusted"
    with open(leaf_file, "w") as f:
        f.write(leaf)
    # -auth_level 2: what TLS clients at Debian's default security level check (key sizes, digests).
    args = ["openssl", "verify", "-CAfile", ca.ca_file, "-verify_hostname", host,
            "-purpose", "sslserver", "-auth_level", "2"]
    if rest:
        with open(untrusted, "w") as f:
            f.write(rest + "\n")
        args += ["-untrusted", untrusted]
    args.append(leaf_file)
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for p in (leaf_file, untrusted):
        if os.path.exists(p):
            os.unlink(p)
    return r.returncode == 0, r.stdout.strip()


# What openssl verify must say for each kind: None = verifies; else a substring of its error.
EXPECTED_VERIFY = {
    "valid": None,
    "expiring": None,
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "wrong-name": "hostname mismatch",
    "self-signed": "self-signed certificate",
    "incomplete-chain": "unable to get local issuer certificate",
    "wildcard": None,
    "unknown-ca": "unable to get local issuer certificate",
    "cn-only": None,  # openssl falls back to the subject CN (so do curl and Python); see the docstring
    "expired-intermediate": "certificate has expired",
    "weak-key": "key too weak",
    "sha1": "digest algorithm too weak",
}


# Certificates with names of their own (spec KIND@NAMES) and wildcards, beside the plain kinds.
NAMED_CASES = (
    ("mx1.selftest.test", "wildcard"),                           # *.selftest.test: one label
    ("a.b.selftest.test", "valid@*.selftest.test"),              # two labels below: no match
    ("mx1.selftest.test", "valid@*.test"),                       # wildcard right under a TLD
    ("mta-sts.selftest.test", "valid@sts.provider.test"),        # the CNAME target's name only
    ("mx1.selftest.test", "valid@selftest.test"),                # the domain, not the MX name
    ("mta-sts.selftest.test", "valid@selftest.test,mta-sts.selftest.test"),  # second SAN covers
    ("mta-sts.selftest.test", "expired@*.selftest.test"),        # the kind's problem comes first
)


def self_test(directory, host="mta-sts.selftest.test"):
    ca = CA(directory).create()
    cases = [(host, k) for k in KINDS] + list(NAMED_CASES)
    ca.leaves(cases)
    failed = 0
    for h, spec in cases:
        ok, text = verify(ca, h, spec)
        problem = verify_problem(h, spec)
        want = None if problem is None else EXPECTED_VERIFY[problem]
        good = ok if want is None else (not ok and want in text)
        # The dates too: expiring must end within 9..11 days.
        if spec == "expiring" and good:
            end = _run(["openssl", "x509", "-noout", "-enddate", "-in", ca.paths(h, spec)[0]])
            when = datetime.datetime.strptime(end.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
            left = (when - datetime.datetime.utcnow()).total_seconds() / 86400
            good = 9 < left < 11
            text += f" (expires in {left:.1f} days)"
        if good and (spec not in KINDS or spec == "wildcard"):  # the SANs are exactly the spec's
            out = _run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                        ca.paths(h, spec)[0]])
            got = sorted(n.strip()[4:] for n in out.splitlines()[1].split(","))
            good = got == sorted(san_names(h, spec))
            text += f" (SAN {', '.join(got)})"
        why = [l for l in text.splitlines() if l.startswith("error ")] or text.splitlines()[-1:]
        label = spec if h == host else f"{h} {spec}"
        print(f"{'ok' if good else 'FAIL'}: {label}: {why[0].split(': ', 1)[-1] if why else ''}")
        failed += not good
    # cn-only has no subjectAltName at all.
    out = _run(["openssl", "x509", "-noout", "-text", "-in", ca.paths(host, "cn-only")[0]])
    if "Subject Alternative Name" in out or f"CN = {host}" not in out:
        print("FAIL: cn-only: has a subjectAltName or no CN for the host")
        failed += 1
    # Every key is P-256 (but the weak one).
    for h, spec in cases:
        if spec == "weak-key":
            continue
        out = _run(["openssl", "x509", "-noout", "-text", "-in", ca.paths(h, spec)[0]])
        if "prime256v1" not in out:
            print(f"FAIL: {spec}: key is not P-256")
            failed += 1
    print(f"ca: {max(0, len(cases) - failed)} passed, {failed} failed")
    return failed == 0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    if argv[2:] == ["--self-test"]:
        return 0 if self_test(argv[1]) else 1
    ca = CA(argv[1]).create()
    wanted = []
    for spec in argv[2:]:
        host, _, kind = spec.partition(":")
        try:
            parse_spec(kind)
        except ValueError as e:
            print(f"bad HOST:SPEC {spec!r}: {e}", file=sys.stderr)
            return 2
        if not host:
            print(f"bad HOST:SPEC {spec!r}: no host", file=sys.stderr)
            return 2
        wanted.append((host, kind))
    for pem, key in ca.leaves(wanted):
        print(pem, key)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
