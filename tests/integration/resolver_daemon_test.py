"""`mtasts resolver` against the simulated internet: RFC 8461 §5 cache behaviour end to end
(id change refetches, a failed refetch keeps the policy, mode none replaces it, DNS down answers
from the store after kill -9, TEMP when nothing is cached), one fetch for concurrent lookups,
bad input (malformed and oversized netstrings, bad requests, many connections, slow clients),
unix socket permissions, dump/purge, /metrics, SIGTERM.

    python3 -S resolver_daemon_test.py MTASTS TESTD      (as root: it makes a private namespace)"""
import copy
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import resolver_world as w
from resolver_world import FAILURES, check, metric

ENFORCE = "version: STSv1\nmode: enforce\nmx: mx1.{d}\nmax_age: 604800\n"
NONE = "version: STSv1\nmode: none\nmax_age: 86400\n"


def main():
    mtasts, testd, work = w.begin(__doc__, "resolver-daemon")
    ds = {d: {"policy": ENFORCE.replace("{d}", d)} for d in
          ("enforce.test", "changing.test", "flaky.test", "shared.test", "persist.test")}
    ds["switch.test"] = {"policy": ENFORCE.replace("{d}", "switch.test"), "alt": NONE}
    ds["hang.test"] = {"behaviour": "never-close"}  # TCP accepted, no TLS handshake ever
    ds["drip.test"] = {"policy": ENFORCE.replace("{d}", "drip.test"), "behaviour": "drip"}  # a byte a second
    ds["huge.test"] = {"behaviour": "huge"}  # 1 GiB body streamed
    # max_age 6: refreshed in the background every ~3 s; its alt policy lists mx2 instead.
    ds["refresh.test"] = {"policy": "version: STSv1\nmode: enforce\nmx: mx1.refresh.test\nmax_age: 6\n",
                          "alt": "version: STSv1\nmode: enforce\nmx: mx2.refresh.test\nmax_age: 86400\n"}
    world = proc = None
    port, mport = 28461, 29461
    sock_path = os.path.join(work, "private", "resolver.sock")
    os.makedirs(os.path.dirname(sock_path))
    # MTASTS_TEST_RESOLVER_IO: how connections are served, "io_uring" (the default, and what this
    # test asks for by default: no quiet fallback) or "threads", where 4 connections get a thread
    # each and the others share the I/O threads, so both of those ways are tested.
    io = os.environ.get("MTASTS_TEST_RESOLVER_IO", "io_uring")
    print(f"connections: {io}", flush=True)
    config = (f'cache_grace = 0\nio = "{io}"\nconnection_threads = 4\n[default_zone]\ntimeout = 3\n'
              "[proactive_refresh]\ncheck_every = 1\n")
    extra = ["--metrics-listen", f"127.0.0.1:{mport}"]
    # Under tests/harness/with_postgres.py the cache is that PostgreSQL (over its Unix socket).
    pg = os.environ.get("MTASTS_TEST_POSTGRES_URL")
    db = w.postgres_socket_url(pg) if pg else os.path.join(work, "resolver.db")
    print(f"cache: {db}", flush=True)
    listen = [f"127.0.0.1:{port}", f"unix:{sock_path}"]
    try:
        world = w.World(work, testd, ds).start()
        proc = w.start_mtasts(mtasts, work, world, listen, config, extra, db=db)
        c = w.Socketmap(("127.0.0.1", port))
        q = lambda key, zone="postfix": c.query(zone, key)  # noqa: E731

        end = time.monotonic() + 10  # "listening on" comes after the line about io_uring
        while "listening on" not in open(os.path.join(work, "mtasts.log")).read() and time.monotonic() < end:
            time.sleep(0.1)
        log = open(os.path.join(work, "mtasts.log")).read()
        check(("connections on io_uring" in log) == (io == "io_uring"), f"connections served as asked ({io})")

        # Answers.
        check(q("enforce.test") == "OK secure match=mx1.enforce.test servername=hostname", "enforce answered")
        check(q("refresh.test") == "OK secure match=mx1.refresh.test servername=hostname", "refresh.test answered")
        mode = stat.S_IMODE(os.stat(sock_path).st_mode)
        check(mode == 0o666, f"unix socket mode {oct(mode)}")
        u = w.Socketmap(sock_path)
        check(u.query("postfix", "enforce.test").startswith("OK secure"), "answer over the unix socket")
        u.close()
        temp = q("host.unserved.example")
        check(temp.startswith("TEMP "), f"DNS refused and nothing cached: TEMP ({temp!r})")
        check(q(".enforce.test") == "NOTFOUND ", "parent-domain lookups: NOTFOUND")
        for d in ("hang.test", "drip.test", "huge.test"):
            a = q(d)
            check(a == "NOTFOUND ", f"policy host misbehaving ({d}): NOTFOUND after its fetch deadline ({a!r})")
        check(c.query("x", "") == "NOTFOUND ", "empty key: NOTFOUND")
        c.send_raw(b"7:nospace,")
        perm = c.read_reply()
        check(perm.startswith("PERM "), f"request without a space: PERM ({perm!r})")

        # TXT id changes: refetch (same content: still enforced).
        f0 = metric(mport, "mtasts_resolver_fetches_total", '{result="ok"}')
        ds2 = copy.deepcopy(ds)
        ds2["changing.test"]["record"] = "v=STSv1; id=second"
        q("changing.test")
        world.restart_dns(ds2)
        check(q("changing.test").startswith("OK secure"), "after an id change: still enforced")
        f1 = metric(mport, "mtasts_resolver_fetches_total", '{result="ok"}')
        check(f1 == f0 + 2, f"id change refetched (fetches {f0} -> {f1}, want +2)")
        q("changing.test")
        check(metric(mport, "mtasts_resolver_fetches_total", '{result="ok"}') == f1, "unchanged id: no fetch")

        # A failed refetch never replaces a valid cached policy.
        check(q("flaky.test").startswith("OK secure"), "flaky.test fetched")
        ds3 = copy.deepcopy(ds2)
        ds3["flaky.test"]["record"] = "v=STSv1; id=broken"
        ds3["flaky.test"]["use_alt"] = True  # mta-sts.flaky.test now at an address where nothing listens
        world.restart_dns(ds3)
        fe0 = metric(mport, "mtasts_resolver_fetches_total", '{result="sts-policy-fetch-error"}')
        check(q("flaky.test") == "OK secure match=mx1.flaky.test servername=hostname",
              "failed refetch: the cached policy stays")
        check(metric(mport, "mtasts_resolver_fetches_total", '{result="sts-policy-fetch-error"}') == fe0 + 1,
              "the failed refetch was counted as sts-policy-fetch-error")

        # Mode none replaces the policy.
        check(q("switch.test").startswith("OK secure"), "switch.test enforced")
        ds4 = copy.deepcopy(ds3)
        ds4["switch.test"]["record"] = "v=STSv1; id=withdrawn"
        ds4["switch.test"]["use_alt"] = True
        world.restart_dns(ds4)
        check(q("switch.test") == "NOTFOUND ", "mode none: NOTFOUND")
        dump = json.loads(subprocess.run([mtasts, "resolver", "dump", "--json", "--db", db],
                                         capture_output=True, text=True, check=True).stdout)
        modes = {p["domain"]: p["policy"]["mode"] for p in dump["policies"]}
        check(modes.get("switch.test") == "none" and modes.get("enforce.test") == "enforce",
              f"dump shows the cache ({modes})")
        log = open(os.path.join(work, "mtasts.log")).read()
        check("switch.test: policy" in log and "mode none" in log, "the policy change is logged")

        # Concurrent lookups of one domain share one fetch.
        f2 = metric(mport, "mtasts_resolver_fetches_total", '{result="ok"}')
        answers = []

        def one():
            s = w.Socketmap(("127.0.0.1", port))
            answers.append(s.query("postfix", "shared.test"))
            s.close()
        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(len(answers) == 20 and all(a.startswith("OK secure") for a in answers), "20 concurrent lookups answered")
        check(metric(mport, "mtasts_resolver_fetches_total", '{result="ok"}') == f2 + 1,
              "20 concurrent lookups of a new domain: one fetch")

        # Pipelined requests, one of them a lookup that takes a fetch: the replies come in order.
        p = w.Socketmap(("127.0.0.1", port), timeout=10)
        p.send_raw(b"".join(w.netstring(f"postfix {d}".encode()) for d in
                            ("enforce.test", "pipelined.enforce.test", "x.invalid..", "enforce.test")))
        replies = [p.read_reply() for _ in range(4)]
        # (pipelined.enforce.test has no _mta-sts record; knotd refuses the .invalid name)
        check(replies[0].startswith("OK secure") and replies[1] == "NOTFOUND "
              and replies[2].startswith("TEMP ") and replies[3].startswith("OK secure"),
              f"pipelined requests answered in order ({replies})")
        p.close()

        # A client that sends and never reads: the daemon stops reading it (bounded memory),
        # the others are served, and once its replies have not been taken for idle_timeout the
        # connection is closed.
        base = metric(mport, "mtasts_resolver_connections_open")
        rss = lambda: int([ln for ln in open(f"/proc/{proc.pid}/status") if ln.startswith("VmRSS:")][0].split()[1])  # noqa: E731
        rss0 = rss()
        flood = socket.create_connection(("127.0.0.1", port))
        flood.setblocking(False)
        request = w.netstring(b"postfix enforce.test") * 1000
        sent_bytes = 0
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                sent_bytes += flood.send(request)
            except BlockingIOError:
                time.sleep(0.05)
        check(sent_bytes < 50_000_000, f"a client that never reads is throttled ({sent_bytes} bytes taken in 5 s)")
        other = w.Socketmap(("127.0.0.1", port))
        check(other.query("postfix", "enforce.test").startswith("OK secure"), "others served beside a client that never reads")
        other.close()
        rss1 = rss()
        # Under ASan freed memory waits in its quarantine (256 MB by default) before reuse.
        asan = "libasan" in open(f"/proc/{proc.pid}/maps").read()
        limit = 64_000 + (256_000 if asan else 0)
        check(rss1 - rss0 < limit, f"daemon RSS with a client that never reads: {rss0} -> {rss1} kB (limit +{limit})")
        end = time.monotonic() + 40
        while metric(mport, "mtasts_resolver_connections_open") > base and time.monotonic() < end:
            time.sleep(0.5)
        still = metric(mport, "mtasts_resolver_connections_open")
        check(still <= base, f"the connection that never reads is closed by the daemon (open {base} -> {still})")
        flood.close()

        # Bad input: the daemon keeps serving.
        for bad in (b"abc:", b"2000:" + b"x" * 10, b"3:abc;", b":,"):
            s = w.Socketmap(("127.0.0.1", port), timeout=10)
            s.send_raw(bad)
            try:
                s.read_reply()
                closed = False
            except (ConnectionError, OSError):
                closed = True
            check(closed, f"malformed netstring {bad[:12]!r}: connection closed")
            s.close()
        many = []
        for _ in range(500):
            many.append(w.Socketmap(("127.0.0.1", port)))
        slow = many[0]
        slow.send_raw(b"20:postfix enfo")  # half a request, then nothing
        ok = sum(1 for s in many[1:100] if s.query("postfix", "enforce.test").startswith("OK"))
        check(ok == 99, f"500 connections open, one slow: {ok}/99 answered")
        for s in many:
            s.close()
        c = w.Socketmap(("127.0.0.1", port))
        check(q("enforce.test").startswith("OK secure"), "still serving after bad input")
        check((metric(mport, "mtasts_resolver_bad_requests_total", '{kind="netstring"}') or 0) >= 4,
              "malformed netstrings counted")

        # Idle connections are closed (Postfix reconnects); checked without timing: it happens.
        # Six at once: some on connection threads, some on the I/O threads.
        idle = [w.Socketmap(("127.0.0.1", port), timeout=40) for _ in range(6)]
        closed = 0
        for s in idle:
            try:
                s.read_reply()
            except (ConnectionError, OSError):
                closed += 1
        check(closed == 6, f"idle connections are closed by the server ({closed}/6)")

        # Proactive refresh (RFC 8461 §10.2): a new id is fetched in the background, no query needed.
        ds5 = copy.deepcopy(ds4)
        ds5["refresh.test"]["record"] = "v=STSv1; id=refreshed"
        ds5["refresh.test"]["use_alt"] = True
        world.restart_dns(ds5)

        def refreshed():
            out = subprocess.run([mtasts, "resolver", "dump", "--json", "--db", db],
                                 capture_output=True, text=True).stdout
            try:
                return {p["domain"]: p for p in json.loads(out)["policies"]}.get("refresh.test", {}).get("id") == "refreshed"
            except ValueError:
                return False
        end = time.monotonic() + 30
        while not refreshed() and time.monotonic() < end:
            time.sleep(0.2)
        check(refreshed(), "background refresh fetched the new policy without a lookup")
        c = w.Socketmap(("127.0.0.1", port))
        check(q("refresh.test") == "OK secure match=mx2.refresh.test servername=hostname", "the refreshed policy answers")

        # kill -9, DNS down: the cache in the store answers; purge empties it.
        c = w.Socketmap(("127.0.0.1", port))  # the old one was closed for idleness
        check(q("persist.test").startswith("OK secure"), "persist.test fetched")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        world.knot.stop()
        proc = w.start_mtasts(mtasts, work, world, listen, config, extra, db=db)
        c = w.Socketmap(("127.0.0.1", port))
        check(c.query("postfix", "persist.test") == "OK secure match=mx1.persist.test servername=hostname",
              "after kill -9 and with DNS down: the stored policy answers")
        check(c.query("postfix", "new.enforce.test").startswith("TEMP "), "DNS down, nothing cached: TEMP")
        c.close()
        r = subprocess.run([mtasts, "resolver", "purge", "--db", db, "persist.test"],
                           capture_output=True, text=True)
        check(r.returncode == 0 and "removed 1" in r.stdout, f"purge one domain ({r.stdout.strip()})")

        # SIGTERM: graceful, exit 0, socket removed.
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        proc = None
        check(rc == 0, f"SIGTERM: exit {rc}")
        check(not os.path.exists(sock_path), "the unix socket is removed at exit")
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        FAILURES.append(f"exception: {e}")
    finally:
        w.stop(proc)
        if world:
            world.stop()
        if FAILURES and os.path.exists(os.path.join(work, "mtasts.log")):
            print("--- mtasts.log\n" + open(os.path.join(work, "mtasts.log")).read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    print(f"resolver_daemon: {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
