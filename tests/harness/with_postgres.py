#!/usr/bin/python3 -S
"""Run a command with a throwaway PostgreSQL 15 cluster on 127.0.0.1.

    with_postgres.py [--keep] [--quiet] [--timeout S] [--bindir DIR] -- CMD ARGS...

initdb's a fresh cluster in a temp directory (trust auth for the Unix socket and 127.0.0.1 only,
fsync off, max_connections 200, the socket and the server log in the temp directory), starts it on
a free loopback port, creates the database `mtasts_test` (owner postgres) and runs CMD with

    MTASTS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/mtasts_test

added to its environment; CMD's output is not captured. The cluster is always stopped (fast
shutdown) and the temp directory removed (unless --keep), also on ^C, SIGTERM, SIGHUP and SIGQUIT
(once CMD has exited; run_command says how CMD hears of them). If this script is SIGKILLed, the
server still shuts down (PR_SET_PDEATHSIG) and the next run removes the directory left behind.

As root, initdb and postgres run as the `postgres` system user (PostgreSQL refuses root).
Exit: CMD's exit code (128+N when it died of signal N), 127 when CMD cannot be run, 2 when the
cluster could not be set up (the server log's last lines are printed), 128+N when interrupted by
signal N before CMD started.
"""
import argparse
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

DEFAULT_BINDIR = "/usr/lib/postgresql/15/bin"
DATABASE = "mtasts_test"
URL_VARIABLE = "MTASTS_TEST_POSTGRES_URL"
SERVER_USER = "postgres"  # the system user the server runs as when this script runs as root
PORT_ATTEMPTS = 5  # a start that loses the race for its port is retried with another one
SOCKET_PATH_MAX = 107  # sun_path minus the NUL
PREFIX = "mtasts-pg-"  # temp directory names
OWNER_FILE = "with_postgres.owner"  # "PID STARTTIME" of the script that made the directory
HANDLED_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "16MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "jit": "off",
    "log_destination": "'stderr'",  # stderr goes to DIR/postgres.log (also startup errors)
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}
HBA = """\
# with_postgres.py: trust on the Unix socket and 127.0.0.1 only
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
"""


class SetupError(Exception):
    pass


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum


def log(msg):
    print(f"with_postgres: {msg}", file=sys.stderr, flush=True)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from knot import free_port  # noqa: E402  (below the ephemeral range)


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _die_with_parent(parent_pid, signum):
    """preexec_fn factory: the child gets SIGNUM when this script dies (Linux). Popen has already
    switched the child to its user when this runs (a later credential change would clear the
    death signal). ctypes is loaded here, in the parent: importing it in a child that has already
    become the server user fails ("No module named 'ctypes'"), silently losing the signal."""
    try:
        import ctypes
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except Exception:
        return None

    def preexec():
        if prctl(1, signum) != 0:  # PR_SET_PDEATHSIG
            return
        if os.getppid() != parent_pid:  # the parent died before prctl: nobody will clean up
            os.kill(os.getpid(), signal.SIGKILL)
    return preexec


class ServerUser:
    """Who initdb and postgres run as: the `postgres` user when we are root, else ourselves."""

    def __init__(self):
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise SetupError(f"running as root, but there is no '{SERVER_USER}' user to run "
                                 "the server as (PostgreSQL refuses to run as root)") from None
            self.uid, self.gid, self.name = pw.pw_uid, pw.pw_gid, pw.pw_name
            self.groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
            self.switch = True
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
            self.name = pwd.getpwuid(self.uid).pw_name if self.uid else str(self.uid)
            self.groups = os.getgroups()
            self.switch = False

    def popen_kw(self):
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": self.groups}

    def can_search(self, path):
        """Whether this user may traverse PATH and each of its parents (mode bits; ACLs ignored)."""
        path = os.path.realpath(path)
        parts = [path]
        while parts[-1] != os.path.dirname(parts[-1]):
            parts.append(os.path.dirname(parts[-1]))
        for p in parts:
            try:
                st = os.stat(p)
            except OSError:
                return False
            if self.uid == 0:
                continue
            if st.st_uid == self.uid:
                bit = stat.S_IXUSR
            elif st.st_gid == self.gid or st.st_gid in self.groups:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return False
        return True


def _start_time(pid):
    """The start time of process PID (/proc/PID/stat field 22), None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def sweep_leftovers(base):
    """Remove the directories earlier runs left behind when they were SIGKILLed: those whose
    owner file names a process that is gone and whose postmaster is gone too. Directories without
    an owner file (being created, or kept with --keep) are left alone."""
    try:
        names = [n for n in os.listdir(base) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, OWNER_FILE)) as f:
                pid, start = f.read().split()
            if _start_time(int(pid)) == start:
                continue  # its script still runs
            try:
                with open(os.path.join(path, "data", "postmaster.pid")) as f:
                    if _start_time(int(f.readline())) is not None:
                        continue  # its server is still going away
            except FileNotFoundError:
                pass
        except (OSError, ValueError):
            continue
        shutil.rmtree(path, ignore_errors=True)


def make_workdir(user):
    """A fresh temp dir the server user owns, under $TMPDIR if that user can reach it and the
    socket path fits, else under /tmp."""
    longest = len("/.s.PGSQL.65535.lock") + len(f"/{PREFIX}XXXXXXXX")
    candidates = [tempfile.gettempdir(), "/tmp"]
    for base in candidates:
        if user.can_search(base) and len(os.path.realpath(base)) + longest <= SOCKET_PATH_MAX:
            sweep_leftovers(base)
            d = os.path.realpath(tempfile.mkdtemp(prefix=PREFIX, dir=base))
            with open(os.path.join(d, OWNER_FILE), "w") as f:
                f.write(f"{os.getpid()} {_start_time(os.getpid())}\n")
            if user.switch:
                os.chown(d, user.uid, user.gid)
            return d
    raise SetupError(f"no temp directory the '{user.name}' user can reach "
                     f"(tried {', '.join(candidates)})")


class Cluster:
    def __init__(self, bindir, user, workdir, timeout):
        self.bindir, self.user, self.dir = bindir, user, workdir
        self.timeout = timeout
        self.data = os.path.join(workdir, "data")
        self.logfile = os.path.join(workdir, "postgres.log")
        self.proc = None
        self.port = None
        # Our own client tools must not pick up the caller's PGHOST, PGSSLMODE, PGOPTIONS...
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env["LC_ALL"] = "C"
        self.server_env = dict(self.env, HOME=workdir)

    def tool(self, name):
        return os.path.join(self.bindir, name)

    def _server_popen(self, args, out, signum):
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.dir, env=self.server_env, start_new_session=True,
                                preexec_fn=_die_with_parent(os.getpid(), signum),
                                **self.user.popen_kw())

    def initdb(self):
        initdb_log = os.path.join(self.dir, "initdb.log")
        with open(initdb_log, "w") as out:
            p = self._server_popen([self.tool("initdb"), "-D", self.data, "-U", "postgres",
                                    "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
                                    "--no-instructions"], out, signal.SIGKILL)
            try:
                rc = p.wait(self.timeout)
            except subprocess.TimeoutExpired:
                rc = None
            finally:
                if p.poll() is None:  # timed out or interrupted: stop initdb and its single-user
                    os.killpg(p.pid, signal.SIGKILL)  # postgres before the dir is removed
                    p.wait()
        if rc is None:
            raise SetupError(f"initdb did not finish within {self.timeout:g}s:\n"
                             f"{tail(initdb_log)}")
        if rc != 0:
            raise SetupError(f"initdb failed (exit {rc}):\n{tail(initdb_log)}")
        # Opening the existing files keeps their owner (the server user) and mode.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# with_postgres.py\n")
            f.write(f"unix_socket_directories = '{self.dir}'\n")
            for k, v in SETTINGS.items():
                f.write(f"{k} = {v}\n")

    def _isready(self):
        r = subprocess.run([self.tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "-d", "postgres", "-t", "1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=self.env)
        return r.returncode == 0

    def _pidfile_ready(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                lines = f.read().split("\n")
        except OSError:
            return False
        return (len(lines) > 7 and lines[0].strip() == str(self.proc.pid)
                and lines[3].strip() == str(self.port) and lines[7].strip() == "ready")

    def start(self):
        """Start postgres on a free port; retry with another port when the bind is lost."""
        for attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            offset = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
            with open(self.logfile, "a") as out:
                # Run postgres itself, not pg_ctl (which daemonizes): it stays our child, so the
                # death signal works. SIGQUIT = immediate shutdown, if this script is SIGKILLed.
                self.proc = self._server_popen([self.tool("postgres"), "-D", self.data,
                                                "-p", str(self.port)], out, signal.SIGQUIT)
            end = time.monotonic() + self.timeout
            while True:
                if self.proc.poll() is not None:
                    text = tail(self.logfile)
                    self.proc = None
                    with open(self.logfile, errors="replace") as f:
                        f.seek(offset)
                        this_attempt = f.read()
                    if "could not create any TCP/IP sockets" in this_attempt:
                        if attempt + 1 < PORT_ATTEMPTS:
                            break  # lost the race for the port: try another
                    raise SetupError(f"postgres exited while starting; the end of its log:\n"
                                     f"{text}")
                # postgres marks postmaster.pid "ready" when it accepts connections (as pg_ctl
                # -w sees it); pg_isready then confirms over TCP. Probing TCP before that could
                # reach whoever took the port and hang for libpq's 2 s minimum connect timeout.
                if self._pidfile_ready() and self._isready():
                    return
                if time.monotonic() > end:
                    raise SetupError(f"postgres not ready within {self.timeout:g}s; the end of "
                                     f"its log:\n{tail(self.logfile)}")
                time.sleep(0.05)
        raise SetupError(f"no free port after {PORT_ATTEMPTS} attempts:\n{tail(self.logfile)}")

    def createdb(self):
        r = subprocess.run([self.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE} OWNER postgres"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=self.env,
                           timeout=self.timeout)
        if r.returncode != 0:
            raise SetupError(f"creating {DATABASE} failed: {r.stdout.strip()}")

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self, grace=10.0):
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
        p, self.proc = self.proc, None
        if p is None:
            return
        for signum, wait in ((signal.SIGINT, grace), (signal.SIGQUIT, 5.0)):
            if p.poll() is not None:
                break
            try:
                p.send_signal(signum)
                p.wait(wait)
            except subprocess.TimeoutExpired:
                log(f"postgres did not stop on signal {signum} within {wait:.0f}s")
        if p.poll() is None:
            # Its children (each in a session of its own) would only notice the postmaster's
            # death at their next check: kill them too.
            children = _children(p.pid)
            p.kill()
            p.wait()
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _children(ppid):
    """The pids whose parent is PPID (from /proc)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(ppid):
                pids.append(int(name))
    return pids


def foreground_on_tty():
    """Whether our process group owns the controlling terminal (a ^C reaches CMD too)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def exit_code(returncode):
    return 128 - returncode if returncode < 0 else returncode


def _send(p, signum):
    try:
        p.send_signal(signum)
    except ProcessLookupError:
        pass


def run_command(cmd, env):
    """Run CMD in our process group (so it keeps the terminal) and return its exit code.

    A ^C or ^\\ from the terminal reaches CMD as well: as in a shell, CMD decides (psql cancels
    its query and goes on) and we wait for it. Any other signal (SIGTERM, SIGHUP, a SIGINT sent
    with kill) is forwarded to CMD, which gets 5 s, then SIGTERM, 5 s, then SIGKILL; a second
    such signal escalates at once."""
    try:
        p = subprocess.Popen(cmd, env=env)
    except OSError as e:
        log(f"cannot run {cmd[0]}: {e.strerror}")
        return 127
    ladder = None  # after the first forwarded signal: what to send when the grace time is over
    while True:
        try:
            p.wait(5.0 if ladder is not None else None)
            return exit_code(p.returncode)
        except subprocess.TimeoutExpired:
            pass
        except Interrupted as e:
            if e.signum in (signal.SIGINT, signal.SIGQUIT) and foreground_on_tty():
                continue
            if ladder is None:
                _send(p, e.signum)
                ladder = [signal.SIGTERM, signal.SIGKILL]
                continue
        _send(p, ladder.pop(0) if len(ladder) > 1 else signal.SIGKILL)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="with_postgres.py", description=__doc__.split("\n\n")[0],
                                 usage="%(prog)s [--keep] [--quiet] [--timeout S] [--bindir DIR] "
                                       "-- CMD ARGS...")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (data, log)")
    ap.add_argument("--quiet", "-q", action="store_true", help="no status lines on stderr")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds initdb, and then the server start, may take (default 30)")
    ap.add_argument("--bindir", default=os.environ.get("MTASTS_PG_BINDIR", DEFAULT_BINDIR),
                    help=f"PostgreSQL programs (default $MTASTS_PG_BINDIR or {DEFAULT_BINDIR})")
    args = argv[1:]
    if "--" not in args:
        ap.parse_known_args(args)  # --help
        ap.error("no command: it goes after --")
    i = args.index("--")
    args, cmd = args[:i], args[i + 1:]
    a = ap.parse_args(args)
    if not cmd:
        ap.error("no command after --")
    a.cmd = cmd
    return a


def main(argv):
    a = parse_args(argv)
    for tool in ("initdb", "postgres", "pg_isready", "psql"):
        if not os.access(os.path.join(a.bindir, tool), os.X_OK):
            log(f"{os.path.join(a.bindir, tool)} not found (PostgreSQL 15 server; --bindir)")
            return 2

    def interrupt(signum, _frame):
        raise Interrupted(signum)
    for s in HANDLED_SIGNALS:
        signal.signal(s, interrupt)

    cluster = workdir = None
    started = time.monotonic()
    try:
        try:
            user = ServerUser()
            workdir = make_workdir(user)
            cluster = Cluster(a.bindir, user, workdir, a.timeout)
            cluster.initdb()
            cluster.start()
            cluster.createdb()
        except (SetupError, OSError, subprocess.SubprocessError) as e:
            log(f"could not set up PostgreSQL: {e}")
            return 2
        if not a.quiet:
            log(f"{cluster.url} ready in {time.monotonic() - started:.2f}s ({workdir})")
        env = dict(os.environ, **{URL_VARIABLE: cluster.url})
        sys.stdout.flush()
        return run_command(a.cmd, env)
    except Interrupted as e:
        log(f"interrupted (signal {e.signum}), cleaning up")
        return 128 + e.signum
    finally:
        # No signal may cut the cleanup short; they stay pending and die with us.
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        stopping = time.monotonic()
        ran = cluster is not None and cluster.proc is not None
        if cluster:
            cluster.stop()
        if workdir:
            if a.keep:
                try:  # a kept directory is never swept
                    os.unlink(os.path.join(workdir, OWNER_FILE))
                except OSError:
                    pass
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        if ran and not a.quiet:
            log(f"stopped in {time.monotonic() - stopping:.2f}s")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
