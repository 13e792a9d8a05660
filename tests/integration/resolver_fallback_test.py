"""`mtasts resolver` where io_uring is refused, as Docker's default seccomp profile does: a
seccomp filter (installed in the child before exec) makes io_uring_setup fail with EPERM.
With io = "auto" the daemon says so in its log and serves on threads; with io = "io_uring" it
refuses to start (exit 2, the reason on stderr); without the filter, auto is io_uring.

    python3 -S resolver_fallback_test.py MTASTS      (as root: a private network namespace)"""
import ctypes
import os
import shutil
import signal
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resolver_world as w  # noqa: E402
from resolver_world import FAILURES, check  # noqa: E402

NR_IO_URING_SETUP = 425  # the same on x86_64 and the asm-generic table (arm64)
PORT = 28471


def refuse_io_uring():
    """preexec_fn: a seccomp filter answering io_uring_setup with EPERM, allowing the rest."""
    def insn(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([
        insn(0x20, 0, 0, 0),                       # ld [seccomp_data.nr]
        insn(0x15, 0, 1, NR_IO_URING_SETUP),       # jeq io_uring_setup, next, skip
        insn(0x06, 0, 0, 0x00050000 | 1),          # ret ERRNO(EPERM)
        insn(0x06, 0, 0, 0x7FFF0000),              # ret ALLOW
    ])
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def start(mtasts, work, io, seccomp):
    conf = os.path.join(work, f"{io}-{seccomp}.toml")
    with open(conf, "w") as f:
        f.write(f'io = "{io}"\n')
    log = os.path.join(work, f"{io}-{seccomp}.log")
    p = subprocess.Popen([mtasts, "resolver", "--config", conf, "--db", os.path.join(work, "r.db"),
                          "--listen", f"127.0.0.1:{PORT}"], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                         preexec_fn=refuse_io_uring if seccomp else None)
    return p, log


def served(p, log):
    w.wait_port("127.0.0.1", PORT, 30, p, "mtasts resolver")
    c = w.Socketmap(("127.0.0.1", PORT))
    answer = c.query("postfix", "")  # answered without DNS: no key, no policy
    c.close()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    return answer, rc, open(log).read()


def main():
    mtasts, work = w.begin(__doc__, "fallback", paths=1)
    try:
        answer, rc, log = served(*start(mtasts, work, "auto", False))
        check(answer == "NOTFOUND " and rc == 0 and "connections on io_uring" in log,
              f"no filter: auto serves on io_uring ({answer!r}, exit {rc})")

        answer, rc, log = served(*start(mtasts, work, "auto", True))
        check(answer == "NOTFOUND " and rc == 0, f"io_uring refused: auto still serves ({answer!r}, exit {rc})")
        check("connections on io_uring" not in log and "io_uring" in log and "thread each" in log,
              f"io_uring refused: auto says so in the log ({log.strip().splitlines()[:2]})")

        p, log = start(mtasts, work, "io_uring", True)
        rc = p.wait(30)
        text = open(log).read()
        check(rc == 2 and "io_uring" in text and "not permitted" in text,
              f"io_uring refused: io = \"io_uring\" does not start (exit {rc}: {text.strip()[-200:]!r})")
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"resolver_fallback: {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
