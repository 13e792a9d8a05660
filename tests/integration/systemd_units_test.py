"""The systemd units of contrib/systemd, as generated for the build (ExecStart at the build's
binary): `systemd-analyze verify` accepts them without a word, and each ExecStart line, with the
unit's paths moved into a scratch directory, starts the daemon, which listens where the unit
says and stops cleanly on SIGTERM (the unit's KillSignal) within the unit's TimeoutStopSec.

    python3 -S systemd_units_test.py UNIT_DIR      (as root: a private network namespace)"""
import os
import shlex
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resolver_world as w  # noqa: E402
from resolver_world import FAILURES, check  # noqa: E402

# Where each daemon listens with the unit's command line and an empty settings file.
PORTS = {"mtasts-resolver.service": 8461, "mtasts-serve.service": 8470}


def directives(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def main():
    units, work = w.begin(__doc__, "units", paths=1)
    try:
        for name in sorted(PORTS):
            path = os.path.join(units, name)
            text = open(path).read()
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
            check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
                  f"{name}: systemd-analyze verify is silent (rc {r.returncode}: {(r.stderr + r.stdout).strip()!r})")
            d = directives(text)
            check(d.get("StateDirectory") == "mtasts" and d.get("User") == "mtasts", f"{name}: user and state directory")
            state = os.path.join(work, name, "state")
            etc = os.path.join(work, name, "etc")
            os.makedirs(state)
            os.makedirs(etc)
            argv = [a.replace("/var/lib/mtasts", state).replace("/etc/mtasts", etc)
                    for a in shlex.split(d["ExecStart"])]
            for a in argv:
                if a.startswith(etc):
                    open(a, "w").close()  # the settings file the unit names, empty
            log = open(os.path.join(work, name, "log"), "w")
            p = subprocess.Popen(argv, cwd=state, stdout=log, stderr=subprocess.STDOUT)
            try:
                w.wait_port("127.0.0.1", PORTS[name], 30, p, name)
                check(True, f"{name}: the ExecStart line starts it, listening on {PORTS[name]}")
                p.send_signal(getattr(signal, d.get("KillSignal", "SIGTERM")))
                rc = p.wait(int(d.get("TimeoutStopSec", "90")))
                check(rc == 0, f"{name}: stops on its KillSignal with exit {rc}")
                check(any(f.endswith(".db") for f in os.listdir(state)), f"{name}: its store is in the state directory")
            except Exception as e:  # noqa: BLE001
                FAILURES.append(f"{name}: {e}")
                print(f"FAIL {name}: {e}")
                print(open(os.path.join(work, name, "log")).read()[-2000:])
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"systemd_units: {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
