"""bench/tls_floor from the bench scripts: where the binary is, and its figures.

check_bench and resolver_bench both run it first and print the ceiling its figures allow."""
import os
import subprocess
import sys


def default_path(mtasts):
    """bench/tls_floor in MTASTS's build directory (build/X/src/mtasts -> build/X/bench/tls_floor),
    or "" when it is not built."""
    guess = os.path.join(os.path.dirname(os.path.dirname(mtasts)), "bench", "tls_floor")
    return guess if os.access(guess, os.X_OK) else ""


def measure(path, who):
    """The figures of `tls_floor --handshakes 2000` (client_us, server_us, crypto_us, parse_us:
    microseconds of CPU per handshake, in memory; openssl: the library's version), or None when
    `path` is empty or the run fails (said on stderr, prefixed with `who`)."""
    if not path:
        return None
    out = subprocess.run([path, "--handshakes", "2000"], capture_output=True, text=True,
                         timeout=300)
    if out.returncode != 0:
        print(f"{who}: tls_floor failed: {out.stderr.strip()}", file=sys.stderr)
        return None
    fields = dict(kv.split("=") for kv in out.stdout.strip().splitlines()[-1].split()[1:])
    floor = {k: float(v) for k, v in fields.items()}
    floor["openssl"] = out.stdout.split(",", 1)[0].removeprefix("tls_floor: ")
    return floor
