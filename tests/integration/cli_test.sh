#!/usr/bin/env bash
# Integration test of the mtasts CLI contract (DESIGN.md "CLI contract", docs/lint-codes.md):
#   exit codes 0 valid / 1 the input has errors / 2 usage or I/O problem;
#   --json prints exactly one JSON document on stdout and nothing else;
#   bad input never crashes (rc >= 128) and never hangs.
# Usage: bash cli_test.sh /path/to/mtasts
# Offline, no sleeps; every run is wrapped in `timeout 20`. Prints `cli: N passed, M failed`.
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash cli_test.sh /path/to/mtasts" >&2
  exit 2
fi
case $1 in
  /*) BIN=$1 ;;
  *) BIN=$PWD/$1 ;;
esac
command -v python3 >/dev/null || { echo "cli_test.sh: python3 is required" >&2; exit 2; }
# resolve version-manager shims (pyenv...) once: they cost most of a second per call
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -n "$PY" ] && [ -x "$PY" ] || PY=python3

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LINT_CODES_MD=$HERE/../../docs/lint-codes.md

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mtasts-cli.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 2
export LC_ALL=C.UTF-8 PYTHONIOENCODING=utf-8
unset MTASTS_CONFIG 2>/dev/null || true

PASS=0
FAIL=0
OUT=$TMP/.stdout
ERR=$TMP/.stderr
RC=0
LAST_CMD=""
STDIN_FILE=/dev/null   # set per call: STDIN_FILE=f check ...

# ---------------------------------------------------------------------------------------------
# helpers

show() {  # show FILE LABEL: print at most 2000 bytes, binary-safe
  local n
  n=$(wc -c <"$1")
  echo "    --- $2 ($n bytes) ---"
  head -c 2000 "$1" | cat -v | sed 's/^/    | /'
  [ "$n" -gt 2000 ] && echo "    | ...(truncated)"
  echo
}

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }

fail() {  # fail NAME REASON
  FAIL=$((FAIL + 1))
  echo "FAIL - $1: $2"
  echo "    command: $LAST_CMD"
  echo "    exit code: $RC"
  show "$OUT" stdout
  show "$ERR" stderr
}

run() {  # run CMD...: sets OUT, ERR, RC
  LAST_CMD=$(printf '%q ' "$@")
  [ "$STDIN_FILE" != /dev/null ] && LAST_CMD="$LAST_CMD< $STDIN_FILE"
  timeout 20 "$@" <"$STDIN_FILE" >"$OUT" 2>"$ERR"
  RC=$?
}

# check NAME EXPECTED_RC CMD...  one check: the exit code, no crash, no hang, no sanitizer report
check() {
  local name=$1 want=$2 why=""
  shift 2
  run "$@"
  if [ "$RC" -eq 124 ]; then why="timed out after 20s (hang)"
  elif [ "$RC" -ge 128 ]; then why="crashed (killed by signal $((RC - 128)))"
  elif grep -qaE 'Sanitizer|runtime error:' "$ERR"; then why="sanitizer report on stderr"
  elif [ "$RC" -ne "$want" ]; then why="exit code $RC, expected $want"
  fi
  if [ -z "$why" ]; then pass "$name"; return 0; fi
  fail "$name" "$why"
  return 1
}

cat >"$TMP/.jcheck.py" <<'PY'
import json, os, re, sys

path, expr = sys.argv[1], sys.argv[2]
allow_empty = os.environ.get("JSON_ALLOW_EMPTY") == "1"
raw = open(path, "rb").read()
if not raw.strip():
    if allow_empty:
        sys.exit(0)
    print("stdout is empty, expected one JSON document")
    sys.exit(1)
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    print("stdout is not valid UTF-8 (so not JSON): %s" % e)
    sys.exit(1)

def no_dup(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise ValueError("duplicate keys %s" % dups)
    return dict(pairs)

def bad_constant(c):
    raise ValueError("%s is not JSON" % c)

try:
    d = json.loads(text, object_pairs_hook=no_dup, parse_constant=bad_constant)
except ValueError as e:
    print("stdout is not exactly one JSON document: %s" % e)
    sys.exit(1)

# ---- helpers usable in expressions ----
def codes(x=None):
    """every value of a "code" key, anywhere in the document"""
    x = d if x is None else x
    out = []
    if isinstance(x, dict):
        if isinstance(x.get("code"), str):
            out.append(x["code"])
        for v in x.values():
            out += codes(v)
    elif isinstance(x, list):
        for v in x:
            out += codes(v)
    return out

def _items(key):
    v = d.get(key, []) if isinstance(d, dict) else []
    return [e.get("code") for e in v if isinstance(e, dict)] if isinstance(v, list) else []

errs = _items("errors")
warns = _items("warnings")

def ensure(cond, msg):
    if not cond:
        raise AssertionError(msg)
    return True

def problem_list(key):
    ensure(isinstance(d.get(key), list), '"%s" must be a list' % key)
    for e in d[key]:
        ensure(isinstance(e, dict), '%s item %r is not an object' % (key, e))
        ensure(isinstance(e.get("code"), str) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", e["code"]),
               '%s item without a code-like "code": %r' % (key, e))
        ensure(isinstance(e.get("line"), int) and not isinstance(e["line"], bool) and e["line"] >= 0,
               '%s item without an integer "line": %r' % (key, e))
        ensure(isinstance(e.get("message"), str) and e["message"].strip(),
               '%s item without a "message": %r' % (key, e))
    return True

def lint_shape():
    ensure(isinstance(d, dict), "top level is not an object")
    ensure(isinstance(d.get("valid"), bool), '"valid" must be a bool')
    problem_list("errors")
    problem_list("warnings")
    ensure(d["valid"] == (len(d["errors"]) == 0), '"valid" disagrees with "errors"')
    return True

def policy_shape():
    lint_shape()
    if not d["valid"]:
        return ensure("policy" not in d, '"policy" present although the policy is invalid')
    p = d.get("policy")
    ensure(isinstance(p, dict), 'valid policy without a "policy" object')
    ensure(p.get("version") == "STSv1", 'policy.version is %r' % p.get("version"))
    ensure(p.get("mode") in ("enforce", "testing", "none"), 'policy.mode is %r' % p.get("mode"))
    ensure(isinstance(p.get("mx"), list) and all(isinstance(m, str) for m in p["mx"]),
           'policy.mx must be a list of strings')
    ensure(isinstance(p.get("max_age"), int) and not isinstance(p["max_age"], bool),
           'policy.max_age must be an integer')
    return True

def record_shape():
    lint_shape()
    f = d.get("fields")
    ensure(isinstance(f, dict), '"fields" must be an object')
    ensure(all(isinstance(k, str) and isinstance(v, str) for k, v in f.items()),
           '"fields" values must be strings')
    if d["valid"]:
        ensure("v" in f, 'valid record whose "fields" has no "v"')
    return True

def documented():
    """every code in errors/warnings appears in docs/lint-codes.md"""
    doc = os.environ.get("LINT_CODES_MD", "")
    if not os.path.isfile(doc):
        return True
    known = set(re.findall(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`", open(doc, encoding="utf-8").read()))
    missing = sorted({c for c in errs + warns if c not in known})
    return ensure(not missing, "codes not documented in docs/lint-codes.md: %s" % missing)

def readf(p):
    with open(p, encoding="utf-8", newline="") as fh:
        return fh.read()

try:
    ok = eval(expr)
except AssertionError as e:
    print("assertion: %s" % e)
    sys.exit(1)
except Exception as e:
    print("expression %r raised %s: %s" % (expr, type(e).__name__, e))
    sys.exit(1)
if not ok:
    print("expression is false: %s" % expr)
    sys.exit(1)
PY

# json_check NAME [PYEXPR]: stdout of the last command is exactly one JSON document (strict UTF-8,
# no trailing data, no duplicate keys) and PYEXPR (python; `d` is the document) is true.
json_check() {
  local name=$1 expr=${2:-True} msg
  if msg=$(LINT_CODES_MD=$LINT_CODES_MD "$PY" -S "$TMP/.jcheck.py" "$OUT" "$expr" 2>&1); then
    pass "$name"
    return 0
  fi
  fail "$name" "$msg"
  return 1
}

# check_json NAME EXPECTED_RC PYEXPR CMD...: check + json_check (two checks)
check_json() {
  local name=$1 want=$2 expr=$3
  shift 3
  check "$name" "$want" "$@"
  json_check "$name [json]" "$expr"
}

# lint_json NAME EXPECTED_RC PYEXPR CMD...: check_json + every code is documented (three checks)
lint_json() {
  local name=$1
  check_json "$@"
  json_check "$name [codes documented]" 'documented()'
}

# json_get PYEXPR: print a value from the last stdout (empty on failure)
json_get() {
  "$PY" -S -c 'import json,sys; d=json.load(open(sys.argv[1], encoding="utf-8")); v=eval(sys.argv[2]); print(v if isinstance(v, str) else json.dumps(v))' "$OUT" "$1" 2>/dev/null
}

# assert NAME REASON CMD...: a plain predicate check (runs CMD quietly, no timeout needed)
assert() {
  local name=$1 reason=$2
  shift 2
  if "$@" >/dev/null 2>&1; then pass "$name"; else
    FAIL=$((FAIL + 1))
    echo "FAIL - $name: $reason"
    echo "    predicate: $(printf '%q ' "$@")"
  fi
}

stdout_has() { grep -qaE "$1" "$OUT"; }
stderr_has() { grep -qaE "$1" "$ERR"; }
either_has() { grep -qaE "$1" "$OUT" "$ERR"; }

# ---------------------------------------------------------------------------------------------
echo "# general usage"

check "--help" 0 "$BIN" --help
check "--version" 0 "$BIN" --version
for sub in "policy lint" "record lint" "mx-match" "generate"; do
  # shellcheck disable=SC2086
  check "$sub --help" 0 "$BIN" $sub --help
done
check "no subcommand is a usage error" 2 "$BIN"
check "unknown subcommand is a usage error" 2 "$BIN" frobnicate

# ---------------------------------------------------------------------------------------------
echo "# policy lint"

P=$TMP/policy
mkdir -p "$P"
printf 'version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n' >"$P/good.txt"
printf 'version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n' >"$P/crlf.txt"
printf 'version: STSv2\nmode: bogus\nmx: mail.example.com\nmax_age: 604800\n' >"$P/bad.txt"

check "valid file: exit 0" 0 "$BIN" policy lint "$P/good.txt"
assert "valid file: human output is not empty" "nothing on stdout" test -s "$OUT"
lint_json "valid file --json" 0 \
  'policy_shape() and d["valid"] and d["errors"] == [] and d["policy"] == {"version": "STSv1", "mode": "enforce", "mx": ["mail.example.com", "*.example.net"], "max_age": 604800}' \
  "$BIN" policy lint --json "$P/good.txt"
lint_json "--json before or after FILE" 0 'policy_shape() and d["valid"]' \
  "$BIN" policy lint "$P/good.txt" --json
check "invalid file: exit 1" 1 "$BIN" policy lint "$P/bad.txt"
lint_json "invalid file --json" 1 \
  'policy_shape() and not d["valid"] and "version-invalid" in errs and "mode-invalid" in errs and all(e["line"] in (1, 2) for e in d["errors"])' \
  "$BIN" policy lint --json "$P/bad.txt"
check "CRLF file: exit 0" 0 "$BIN" policy lint "$P/crlf.txt"
lint_json "CRLF file --json" 0 \
  'policy_shape() and d["policy"]["mode"] == "testing" and d["policy"]["mx"] == ["mail.example.com"] and d["policy"]["max_age"] == 86400' \
  "$BIN" policy lint --json "$P/crlf.txt"

STDIN_FILE=$P/good.txt check "stdin '-': valid, exit 0" 0 "$BIN" policy lint -
STDIN_FILE=$P/good.txt lint_json "stdin '-' --json" 0 'policy_shape() and d["valid"]' "$BIN" policy lint --json -
STDIN_FILE=$P/bad.txt lint_json "stdin '-' invalid --json" 1 'policy_shape() and "version-invalid" in errs' \
  "$BIN" policy lint --json -

check "missing file: exit 2" 2 "$BIN" policy lint "$P/does-not-exist.txt"
assert "missing file: stderr says what failed" "stderr does not name the file" stderr_has 'does-not-exist'
check "missing file --json: exit 2" 2 "$BIN" policy lint --json "$P/does-not-exist.txt"
JSON_ALLOW_EMPTY=1 json_check "missing file --json: stdout empty or one JSON document"
check "directory as FILE: exit 2" 2 "$BIN" policy lint "$P"
check "no FILE: exit 2" 2 "$BIN" policy lint
check "unknown flag: exit 2" 2 "$BIN" policy lint --bogus "$P/good.txt"
check "two FILEs: exit 2" 2 "$BIN" policy lint "$P/good.txt" "$P/good.txt"

# warnings do not make a policy invalid
printf '\xef\xbb\xbfversion: STSv1\nmode: testing\nmx: MAIL.example.com.\n\nmax_age: 0086400 \nfoo: bar\n' >"$P/warn.txt"
lint_json "warnings only: still valid" 0 \
  'policy_shape() and d["valid"] and {"bom", "mx-uppercase", "mx-trailing-dot", "blank-line", "trailing-whitespace", "max-age-leading-zero", "unknown-field"} <= set(warns)' \
  "$BIN" policy lint --json "$P/warn.txt"

# more error codes from docs/lint-codes.md
printf 'version: STSv1\rmode: testing\nmx: a.example.com\nmax_age: 86400\n' >"$P/bare-cr.txt"
printf 'version: STSv1\nmode testing\nmx: a.example.com\nmax_age: 86400\n' >"$P/line-syntax.txt"
printf 'version: STSv1\nmode : testing\nmx: a.example.com\nmax_age: 86400\n' >"$P/ws-colon.txt"
printf 'version: STSv1\nmode: enforce\nmax_age: 86400\n' >"$P/mx-missing.txt"
printf 'version: STSv1\nmode: enforce\nmx: -bad-.example.com\nmax_age: 86400\n' >"$P/mx-invalid.txt"
printf 'mode: testing\nmx: a.example.com\nmax_age: 86400\n' >"$P/version-missing.txt"
printf 'version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 31557601\n' >"$P/max-age-over.txt"
printf 'version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 31557600\n' >"$P/max-age-max.txt"
printf 'version: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 0x1000\n' >"$P/max-age-hex.txt"
for c in bare-cr line-syntax ws-colon mx-missing mx-invalid version-missing max-age-over max-age-hex; do
  case $c in
    ws-colon) code=whitespace-before-colon ;;
    max-age-over) code=max-age-range ;;
    max-age-hex) code=max-age-invalid ;;
    *) code=$c ;;
  esac
  lint_json "error $code: exit 1" 1 "policy_shape() and '$code' in errs" "$BIN" policy lint --json "$P/$c.txt"
done
lint_json "max_age 31557600 is the maximum: valid" 0 'policy_shape() and d["policy"]["max_age"] == 31557600' \
  "$BIN" policy lint --json "$P/max-age-max.txt"

# ---------------------------------------------------------------------------------------------
echo "# policy lint: bad inputs (exit 1 with a coded error, no crash, no hang)"

B=$TMP/bad
mkdir -p "$B"
"$PY" -S - "$B" <<'PY'
import hashlib, os, sys
b = sys.argv[1]
def w(name, data):
    with open(os.path.join(b, name), "wb") as f:
        f.write(data)
hdr = b"version: STSv1\nmode: testing\n"
w("empty.txt", b"")
w("whitespace.txt", b"\n \n\t\n")
# deterministic binary garbage: a SHA-256 chain
g, blk = [], b"mtasts"
for _ in range(256):
    blk = hashlib.sha256(blk).digest()
    g.append(blk)
w("garbage.bin", b"".join(g))
w("long-line.txt", hdr + b"mx: " + b"a" * (10 * 1024 * 1024) + b"\nmax_age: 86400\n")
w("nul.txt", hdr + b"mx: mail.exa\x00mple.com\nmax_age: 86400\n")
w("all-nul.txt", b"\x00" * 4096)
w("invalid-utf8.txt", hdr + b"mx: mail.\xff\xfeexample.com\nmax_age: 86400\n")
w("overlong-utf8.txt", hdr + b"mx: mail.example.com\nmax_age: 86400\nx: \xc0\xaf\n")
w("mx-10000.txt", hdr + b"".join(b"mx: mx%d.example.com\n" % i for i in range(10000)) + b"max_age: 86400\n")
w("mx-10000-short.txt", hdr + b"mx: a\n" * 10000 + b"max_age: 86400\n")   # under 64 KiB
w("mx-1001.txt", hdr + b"".join(b"mx: mx%d.example.com\n" % i for i in range(1001)) + b"max_age: 86400\n")
w("mx-1000.txt", hdr + b"".join(b"mx: mx%d.example.com\n" % i for i in range(1000)) + b"max_age: 86400\n")
w("max-age-negative.txt", hdr + b"mx: mail.example.com\nmax_age: -1\n")
w("max-age-huge.txt", hdr + b"mx: mail.example.com\nmax_age: 99999999999999999999999\n")
w("max-age-2pow64.txt", hdr + b"mx: mail.example.com\nmax_age: 18446744073709551617\n")
w("max-age-10digits.txt", hdr + b"mx: mail.example.com\nmax_age: 4294967296\n")
w("too-large.txt", hdr + b"mx: mail.example.com\nmax_age: 86400\n" + b"x: " + b"y" * 70000 + b"\n")
PY

# name|file|python condition on the JSON (besides: exit 1, shape, not valid, >=1 coded error)
while IFS='|' read -r name file cond; do
  [ -n "$name" ] || continue
  check "$name: exit 1" 1 "$BIN" policy lint "$B/$file"
  lint_json "$name --json" 1 "policy_shape() and not d['valid'] and len(errs) >= 1 and ($cond)" \
    "$BIN" policy lint --json "$B/$file"
done <<'EOF'
empty file|empty.txt|errs == ['policy-empty']
only blank lines|whitespace.txt|'policy-empty' in errs
binary garbage|garbage.bin|{'control-character', 'invalid-utf8', 'bare-cr', 'line-syntax'} & set(errs)
10 MB single line|long-line.txt|errs == ['policy-too-large']
NUL byte|nul.txt|'control-character' in errs
only NUL bytes|all-nul.txt|'control-character' in errs
invalid UTF-8|invalid-utf8.txt|'invalid-utf8' in errs
overlong UTF-8|overlong-utf8.txt|'invalid-utf8' in errs
10000 mx lines (over 64 KiB)|mx-10000.txt|errs == ['policy-too-large']
10000 mx lines (under 64 KiB)|mx-10000-short.txt|'too-many-mx' in errs
1001 mx lines|mx-1001.txt|'too-many-mx' in errs
negative max_age|max-age-negative.txt|'max-age-invalid' in errs
huge max_age (23 digits)|max-age-huge.txt|'max-age-invalid' in errs
max_age 2^64+1|max-age-2pow64.txt|'max-age-invalid' in errs
max_age 2^32 (10 digits)|max-age-10digits.txt|'max-age-range' in errs
policy over 65536 bytes|too-large.txt|errs == ['policy-too-large']
EOF

lint_json "1000 mx lines is still fine" 0 'policy_shape() and len(d["policy"]["mx"]) == 1000' \
  "$BIN" policy lint --json "$B/mx-1000.txt"
STDIN_FILE=$B/long-line.txt lint_json "10 MB single line on stdin" 1 "policy_shape() and errs == ['policy-too-large']" \
  "$BIN" policy lint --json -
STDIN_FILE=$B/garbage.bin lint_json "binary garbage on stdin" 1 'policy_shape() and len(errs) >= 1' \
  "$BIN" policy lint --json -
STDIN_FILE=$B/empty.txt lint_json "empty stdin" 1 "policy_shape() and errs == ['policy-empty']" \
  "$BIN" policy lint --json -

# ---------------------------------------------------------------------------------------------
echo "# record lint"

lint_json "valid STS record" 0 \
  'record_shape() and d["valid"] and d["fields"] == {"v": "STSv1", "id": "20240101T000000"}' \
  "$BIN" record lint --json 'v=STSv1; id=20240101T000000'
check "valid STS record (human): exit 0" 0 "$BIN" record lint 'v=STSv1; id=20240101T000000'
lint_json "valid TLS-RPT record, kind from v=TLSRPTv1" 0 \
  'record_shape() and d["fields"] == {"v": "TLSRPTv1", "rua": "mailto:tlsrpt@example.com"} and d.get("kind", "tlsrpt") == "tlsrpt"' \
  "$BIN" record lint --json 'v=TLSRPTv1; rua=mailto:tlsrpt@example.com'
check "valid TLS-RPT record (human): exit 0" 0 "$BIN" record lint 'v=TLSRPTv1; rua=mailto:tlsrpt@example.com'
lint_json "TLS-RPT with two rua URIs" 0 \
  'record_shape() and d["fields"]["rua"] == "mailto:a@example.com,https://r.example.com/x"' \
  "$BIN" record lint --json 'v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x'
lint_json "--kind sts on an STS record" 0 'record_shape() and d["valid"]' \
  "$BIN" record lint --kind sts --json 'v=STSv1; id=1'
lint_json "--kind tlsrpt on a TLS-RPT record" 0 'record_shape() and d["valid"]' \
  "$BIN" record lint --kind tlsrpt --json 'v=TLSRPTv1; rua=https://reports.example.com/tlsrpt'
lint_json "--kind sts on a TLS-RPT record" 1 "record_shape() and 'wrong-kind' in errs" \
  "$BIN" record lint --kind sts --json 'v=TLSRPTv1; rua=mailto:tlsrpt@example.com'
lint_json "--kind tlsrpt on an STS record" 1 "record_shape() and 'wrong-kind' in errs" \
  "$BIN" record lint --kind tlsrpt --json 'v=STSv1; id=1'
lint_json "trailing ';' is allowed" 0 'record_shape() and d["fields"]["id"] == "123"' \
  "$BIN" record lint --json 'v=STSv1; id=123;'
lint_json "unknown extension field: valid with a warning" 0 \
  "record_shape() and 'unknown-field' in warns and d['fields'].get('foo') == 'bar'" \
  "$BIN" record lint --json 'v=STSv1; id=1; foo=bar'

# split character-strings
lint_json "split strings as arguments" 0 'record_shape() and d["fields"] == {"v": "STSv1", "id": "123"}' \
  "$BIN" record lint --json 'v=STSv1; ' 'id=123'
lint_json "split mid-token as arguments (joined without a separator)" 0 \
  'record_shape() and d["fields"] == {"v": "STSv1", "id": "1"}' \
  "$BIN" record lint --json 'v=STS' 'v1; id=1'
lint_json "zone form \"...\" \"...\"" 0 'record_shape() and d["fields"] == {"v": "STSv1", "id": "123"}' \
  "$BIN" record lint --json '"v=STSv1; " "id=123"'
lint_json "zone form split mid-token" 0 'record_shape() and d["fields"] == {"v": "STSv1", "id": "1"}' \
  "$BIN" record lint --json '"v=STS" "v1; id=1"'
lint_json "zone form, unclosed quote: txt-syntax" 1 "record_shape() and not d['valid'] and 'txt-syntax' in errs" \
  "$BIN" record lint --json '"v=STSv1; id=1'
lint_json "zone form, text between strings: txt-syntax" 1 "record_shape() and 'txt-syntax' in errs" \
  "$BIN" record lint --json '"v=STSv1; " x "id=1"'

# invalid records: name|expected code|value  (value may use $'...'-free bytes only)
LONG=$(printf 'v=STSv1; id=1; x=%05000d' 0)
while IFS='|' read -r name code value; do
  [ -n "$name" ] || continue
  lint_json "$name" 1 "record_shape() and not d['valid'] and '$code' in errs" "$BIN" record lint --json "$value"
done <<'EOF'
no id|id-missing|v=STSv1;
id with '-'|id-invalid|v=STSv1; id=abc-def
id of 33 characters|id-invalid|v=STSv1; id=123456789012345678901234567890123
id twice|field-duplicate|v=STSv1; id=1; id=2
ID= in upper case|id-missing|v=STSv1; ID=1
version in wrong case|version-missing|v=STSV1; id=1
space before v=|version-missing| v=STSv1; id=1
v= not first|version-missing|id=1; v=STSv1
empty field|field-syntax|v=STSv1;; id=1
field without '='|field-syntax|v=STSv1; id
bad field name|field-name-invalid|v=STSv1; id=1; f!oo=bar
not a record|version-missing|garbage
TLS-RPT without rua|rua-missing|v=TLSRPTv1;
TLS-RPT http: rua|rua-http|v=TLSRPTv1; rua=http://example.com/r
TLS-RPT ftp: rua|rua-scheme|v=TLSRPTv1; rua=ftp://example.com/r
TLS-RPT mailto without address|rua-mailto-invalid|v=TLSRPTv1; rua=mailto:notanaddress
TLS-RPT empty rua list item|rua-invalid|v=TLSRPTv1; rua=mailto:a@example.com,
TLS-RPT rua twice|field-duplicate|v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com
EOF
lint_json "ID= in upper case warns field-name-case" 1 "'field-name-case' in warns" \
  "$BIN" record lint --json 'v=STSv1; ID=1'
lint_json "empty record" 1 "record_shape() and errs == ['record-empty']" "$BIN" record lint --json ''
lint_json "record over 4096 bytes: only record-too-long" 1 "record_shape() and errs == ['record-too-long']" \
  "$BIN" record lint --json "$LONG"
lint_json "invalid UTF-8 in id" 1 "record_shape() and 'id-invalid' in errs" \
  "$BIN" record lint --json $'v=STSv1; id=\xff\xfe'
lint_json "invalid UTF-8 in an extension value" 1 "record_shape() and 'field-value-invalid' in errs" \
  "$BIN" record lint --json $'v=STSv1; id=1; foo=b\xffar'
lint_json "control character in a record" 1 "record_shape() and len(errs) >= 1" \
  "$BIN" record lint --json $'v=STSv1; id=1\x01'
check "invalid record (human): exit 1" 1 "$BIN" record lint 'v=STSv1;'

check "bad --kind value: exit 2" 2 "$BIN" record lint --kind bogus 'v=STSv1; id=1'
check "bad --kind value --json: exit 2" 2 "$BIN" record lint --json --kind bogus 'v=STSv1; id=1'
JSON_ALLOW_EMPTY=1 json_check "bad --kind value --json: stdout empty or one JSON document"
check "no TXT argument: exit 2" 2 "$BIN" record lint

# ---------------------------------------------------------------------------------------------
echo "# mx-match"

check "exact name: match" 0 "$BIN" mx-match mail.example.com mail.example.com
check "wildcard: match" 0 "$BIN" mx-match '*.example.com' mx1.example.com
check_json "wildcard --json: match" 0 'd["match"] is True' "$BIN" mx-match --json '*.example.com' mx1.example.com
check "other domain: no match" 1 "$BIN" mx-match '*.example.com' mx1.example.org
check_json "other domain --json: no match, no error" 1 'd["match"] is False and codes() == []' \
  "$BIN" mx-match --json '*.example.com' mx1.example.org
check "wildcard does not match the bare domain" 1 "$BIN" mx-match '*.example.com' example.com
check "*.mx.microsoft does not match a.b.mx.microsoft" 1 "$BIN" mx-match '*.mx.microsoft' a.b.mx.microsoft
check_json "*.mx.microsoft vs a.b.mx.microsoft --json" 1 'd["match"] is False and codes() == []' \
  "$BIN" mx-match --json '*.mx.microsoft' a.b.mx.microsoft
check "*.mx.microsoft matches b.mx.microsoft" 0 "$BIN" mx-match '*.mx.microsoft' b.mx.microsoft
check "case and trailing dot in the pattern" 0 "$BIN" mx-match MAIL.Example.COM. mail.example.com
check "case and trailing dot in the host" 0 "$BIN" mx-match mail.example.com MAIL.EXAMPLE.COM.
check "case in wildcard and host" 0 "$BIN" mx-match '*.EXAMPLE.com' Mx1.example.COM.
check "IDN: U-label pattern, A-label host" 0 "$BIN" mx-match 'mx.bücher.example' mx.xn--bcher-kva.example
check "IDN: A-label pattern, U-label host" 0 "$BIN" mx-match mx.xn--bcher-kva.example 'mx.bücher.example'
check "IDN: wildcard with U-label" 0 "$BIN" mx-match '*.bücher.example' mx.xn--bcher-kva.example
check "IDN: different name does not match" 1 "$BIN" mx-match 'mx.bücher.example' mx.xn--bcher-kva.example.org

for pat in 'a.*.example.com' '**.example.com' 'mail..example.com' '' '*'; do
  check "invalid pattern '$pat': exit 1" 1 "$BIN" mx-match "$pat" mx1.example.com
  check_json "invalid pattern '$pat' --json: pattern-invalid" 1 "'pattern-invalid' in codes()" \
    "$BIN" mx-match --json "$pat" mx1.example.com
done
check_json "invalid host --json: host-invalid" 1 "'host-invalid' in codes()" \
  "$BIN" mx-match --json mail.example.com 'bad host'
check_json "control character in pattern --json" 1 "'pattern-invalid' in codes()" \
  "$BIN" mx-match --json $'m\x01x.example.com' mx.example.com
check_json "invalid UTF-8 in pattern --json: still valid JSON" 1 "'pattern-invalid' in codes()" \
  "$BIN" mx-match --json $'m\xffx.example.com' mx.example.com
check_json "invalid UTF-8 in host --json: still valid JSON" 1 "'host-invalid' in codes()" \
  "$BIN" mx-match --json mx.example.com $'m\xffx.example.com'
check "missing HOST: exit 2" 2 "$BIN" mx-match '*.example.com'
check "missing both arguments: exit 2" 2 "$BIN" mx-match
check "extra argument: exit 2" 2 "$BIN" mx-match a.example.com a.example.com b.example.com

# ---------------------------------------------------------------------------------------------
echo "# generate"

G=$TMP/gen
GEN=("$BIN" generate --domain example.com --mx mail.example.com --rua mailto:tlsrpt@example.com)

check "generate --out DIR: exit 0" 0 "${GEN[@]}" --out "$G/all"
for f in mta-sts.txt dns.zone nginx.conf apache.conf Caddyfile ROLLOUT.md; do
  assert "generate wrote $f" "$G/all/$f missing or empty" test -s "$G/all/$f"
done
lint_json "written mta-sts.txt passes policy lint" 0 \
  'policy_shape() and d["policy"] == {"version": "STSv1", "mode": "testing", "mx": ["mail.example.com"], "max_age": 86400}' \
  "$BIN" policy lint --json "$G/all/mta-sts.txt"
ZONE_STS=$(grep -a '^_mta-sts\.' "$G/all/dns.zone" | sed -n 's/^[^"]*\("\)/\1/p' | head -n1)
ZONE_RPT=$(grep -a '^_smtp\._tls\.' "$G/all/dns.zone" | sed -n 's/^[^"]*\("\)/\1/p' | head -n1)
lint_json "dns.zone _mta-sts TXT (zone form) passes record lint" 0 'record_shape() and d["fields"].get("v") == "STSv1"' \
  "$BIN" record lint --json "$ZONE_STS"
lint_json "dns.zone _smtp._tls TXT (zone form) passes record lint" 0 \
  'record_shape() and d["fields"].get("rua") == "mailto:tlsrpt@example.com"' "$BIN" record lint --json "$ZONE_RPT"

mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 2
check_json "generate --json (no --out)" 0 \
  'isinstance(d.get("id"), str) and d["id"] and all({"name", "type", "value"} <= set(r) for r in d["records"]) and any(r["name"].rstrip(".") == "_mta-sts.example.com" and r["type"] == "TXT" for r in d["records"])' \
  "${GEN[@]}" --json
ID_A=$(json_get 'd["id"]')
assert "generate without --out writes nothing to the working directory" "files appeared in $TMP/cwd" \
  test -z "$(ls -A "$TMP/cwd")"
cd "$TMP" || exit 2
STS_TXT=$(json_get 'next(r["value"] for r in d["records"] if r["name"].startswith("_mta-sts."))')
RPT_TXT=$(json_get 'next(r["value"] for r in d["records"] if r["name"].startswith("_smtp._tls."))')
assert "generate --json: id appears in the _mta-sts value" "id $ID_A not in '$STS_TXT'" \
  grep -q "id=$ID_A" <<<"$STS_TXT"
lint_json "generate --json _mta-sts value passes record lint" 0 \
  "record_shape() and d['valid'] and d['fields'].get('id') == '$ID_A'" "$BIN" record lint --json "$STS_TXT"
lint_json "generate --json _smtp._tls value passes record lint" 0 'record_shape() and d["valid"]' \
  "$BIN" record lint --kind tlsrpt --json "$RPT_TXT"

check_json "generate again: same input, same id" 0 "d['id'] == '$ID_A'" "${GEN[@]}" --json
check_json "generate in another --out DIR: same id" 0 "d['id'] == '$ID_A'" "${GEN[@]}" --json --out "$G/other"
json_check "generate --json --out: files match the JSON" \
  "readf('$G/other/mta-sts.txt') == d['policy_text'] and readf('$G/other/dns.zone') == d['files']['dns.zone']"

# the "policy" object describes what was written: compare with policy lint of the written file
check "generate: mixed-case, trailing-dot, duplicate --mx" 0 \
  "$BIN" generate --domain example.com --mx MAIL.Example.COM. --mx mail.example.com --out "$G/norm" --json
cp "$OUT" "$TMP/.gen-norm.json"
check "generate: mixed-case --mx output passes policy lint" 0 "$BIN" policy lint --json "$G/norm/mta-sts.txt"
json_check "generate: mixed-case --mx: lint of the file agrees with generate's \"policy\"" \
  "d['policy'] == json.load(open('$TMP/.gen-norm.json', encoding='utf-8'))['policy']"
check "generate: IDN --domain and --mx" 0 "$BIN" generate --domain 'bücher.example' --mx 'mx.bücher.example' --out "$G/idn" --json
cp "$OUT" "$TMP/.gen-idn.json"
check "generate: IDN output passes policy lint" 0 "$BIN" policy lint --json "$G/idn/mta-sts.txt"
json_check "generate: IDN: lint of the file agrees with generate's \"policy\"" \
  "d['policy'] == json.load(open('$TMP/.gen-idn.json', encoding='utf-8'))['policy']"

# change detection in the same --out DIR
D=$G/change
check_json "change: first run" 0 "d['id'] == '$ID_A'" "${GEN[@]}" --out "$D" --json
check_json "change: identical rerun is unchanged" 0 "d['id'] == '$ID_A' and d.get('changed') is False" \
  "${GEN[@]}" --out "$D" --json
check "change: added --mx (human)" 0 "${GEN[@]}" --mx mx2.example.com --out "$D"
assert "change: human output mentions the added mx" "no '+'/'add' line naming mx2.example.com" \
  grep -qaiE '(\+|add).*mx2\.example\.com' "$OUT"
ID_B=$(grep -ao 'id=[A-Za-z0-9]*' "$D/dns.zone" | head -n1 | cut -d= -f2)
assert "change: new id differs from the old one" "id stayed $ID_A" test -n "$ID_B" -a "$ID_B" != "$ID_A"
assert "change: human output shows the new id" "$ID_B not in stdout" grep -qa "$ID_B" "$OUT"
lint_json "change: rewritten mta-sts.txt lists both mx" 0 \
  'd["policy"]["mx"] == ["mail.example.com", "mx2.example.com"]' "$BIN" policy lint --json "$D/mta-sts.txt"

D2=$G/change-json
check "change --json: first run" 0 "${GEN[@]}" --out "$D2" --json
check_json "change --json: added --mx" 0 \
  "d.get('changed') is True and d.get('previous_id') == '$ID_A' and d['id'] != '$ID_A' and d['id'] == '$ID_B' and d['changes']['added_mx'] == ['mx2.example.com'] and d['changes'].get('removed_mx', []) == []" \
  "${GEN[@]}" --mx mx2.example.com --out "$D2" --json
check_json "change --json: removed --mx" 0 \
  "d.get('changed') is True and d.get('previous_id') == '$ID_B' and d['changes'].get('removed_mx') == ['mail.example.com'] and d['changes'].get('added_mx', []) == []" \
  "$BIN" generate --domain example.com --mx mx2.example.com --rua mailto:tlsrpt@example.com --out "$D2" --json

# --server
check "--server nginx: exit 0" 0 "${GEN[@]}" --server nginx --out "$G/nginx-only"
assert "--server nginx writes nginx.conf" "missing" test -s "$G/nginx-only/nginx.conf"
assert "--server nginx does not write apache.conf" "apache.conf exists" test ! -e "$G/nginx-only/apache.conf"
assert "--server nginx does not write Caddyfile" "Caddyfile exists" test ! -e "$G/nginx-only/Caddyfile"
assert "--server nginx still writes mta-sts.txt, dns.zone, ROLLOUT.md" "a core file is missing" \
  test -s "$G/nginx-only/mta-sts.txt" -a -s "$G/nginx-only/dns.zone" -a -s "$G/nginx-only/ROLLOUT.md"
check "--server caddy --server apache" 0 "${GEN[@]}" --server caddy --server apache --out "$G/two"
assert "--server caddy --server apache writes exactly those snippets" "wrong snippet set" \
  test -s "$G/two/Caddyfile" -a -s "$G/two/apache.conf" -a ! -e "$G/two/nginx.conf"
check "--server iis: exit 2" 2 "${GEN[@]}" --server iis

# modes
check "--mode enforce --max-age 1209600" 0 "$BIN" generate --domain example.com --mx mail.example.com \
  --mode enforce --max-age 1209600 --out "$G/enforce"
lint_json "enforce policy passes policy lint" 0 \
  'd["policy"]["mode"] == "enforce" and d["policy"]["max_age"] == 1209600' "$BIN" policy lint --json "$G/enforce/mta-sts.txt"
check "--mode none without --mx" 0 "$BIN" generate --domain example.com --mode none --out "$G/none"
lint_json "mode none policy passes policy lint" 0 'd["policy"]["mode"] == "none"' \
  "$BIN" policy lint --json "$G/none/mta-sts.txt"

# input errors: exit 1 (and with --json, one JSON document naming the code)
while IFS='|' read -r name code args; do
  [ -n "$name" ] || continue
  # shellcheck disable=SC2086
  eval "set -- $args"
  check "$name: exit 1" 1 "$BIN" generate "$@"
  check_json "$name --json: exit 1 with code $code" 1 "'$code' in codes()" "$BIN" generate --json "$@"
done <<'EOF'
bad --domain|domain-invalid|--domain 'bad domain' --mx mail.example.com
bad --mx|mx-invalid|--domain example.com --mx bad..mx
wildcard in the middle of --mx|mx-invalid|--domain example.com --mx 'a.*.example.com'
http: --rua|rua-http|--domain example.com --mx mail.example.com --rua http://r.example.com/x
ftp: --rua|rua-scheme|--domain example.com --mx mail.example.com --rua ftp://r.example.com/x
mailto without address|rua-mailto-invalid|--domain example.com --mx mail.example.com --rua mailto:nope
enforce without --mx|mx-missing|--domain example.com --mode enforce
EOF

check "bad --domain with --out: exit 1" 1 "$BIN" generate --domain 'bad domain' --mx mail.example.com --out "$G/rejected"
assert "bad --domain with --out writes nothing" "$G/rejected was created" test ! -e "$G/rejected"

# usage errors: exit 2
check "missing --domain: exit 2" 2 "$BIN" generate --mx mail.example.com
check "missing --domain --json: exit 2" 2 "$BIN" generate --mx mail.example.com --json
JSON_ALLOW_EMPTY=1 json_check "missing --domain --json: stdout empty or one JSON document"
check "--mode bogus: exit 2" 2 "$BIN" generate --domain example.com --mx mail.example.com --mode bogus
check "--max-age over a year: exit 2" 2 "$BIN" generate --domain example.com --mx mail.example.com --max-age 31557601
check "--max-age negative: exit 2" 2 "$BIN" generate --domain example.com --mx mail.example.com --max-age -1
printf 'x' >"$TMP/a-file"
check "--out below a regular file: exit 2" 2 "${GEN[@]}" --out "$TMP/a-file/sub"

# ---------------------------------------------------------------------------------------------
echo "cli: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
