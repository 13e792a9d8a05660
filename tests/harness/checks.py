"""What every integration script shares: named checks counted as they go, and polling until a
condition holds (a deadline, never a fixed sleep).

    from checks import check, until, finish
    check("served", body == want, detail)   # prints "ok: served" or "FAIL: served DETAIL"
    until(lambda: port_open(p), 10)         # True as soon as it holds, False after 10 s
    sys.exit(finish("serve"))               # "serve: N passed, M failed"; 1 on any failure or none run
"""
import time

_counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        _counts["passed"] += 1
        print(f"ok: {name}", flush=True)
    else:
        _counts["failed"] += 1
        print(f"FAIL: {name} {detail}", flush=True)
    return bool(cond)


def until(pred, seconds=10.0, step=0.05):
    """Poll PRED until it is true or SECONDS pass."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def failures():
    return _counts["failed"]


def finish(what):
    """Prints the summary line; the exit code: 0 only when checks ran and none failed."""
    print(f"{what}: {_counts['passed']} passed, {_counts['failed']} failed", flush=True)
    return 0 if _counts["failed"] == 0 and _counts["passed"] > 0 else 1
