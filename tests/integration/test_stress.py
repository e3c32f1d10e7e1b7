"""Load, fork and memory: pqtls must never be why a program crashes, hangs or grows.

SPEC "The record": one complete JSON line per connection attempt, whatever the load.
Issue 5, "Load and concurrency", "fork" and the memory parts of "Memory safety".

    test_threads_*      64 threads opening and closing connections at once (blocking,
                        non-blocking, PQping), in observe, dry-run and enforce: every
                        attempt gives exactly one complete record, nothing torn or mixed
    test_fork_*         a process forking children while its threads connect, the
                        children connecting too: each process's records complete, in
                        the file its PQTLS_LOG template names, and no child hangs on a
                        lock of pqtls
    test_helgrind_*     helgrind on 8 threads x 3 connections: no race in pqtls
    test_memcheck_*     valgrind memcheck on psql and on Python's psycopg2: no invalid
                        access and no definitely lost block
    test_no_growth_*    10,000 connections in one process (8,000 over a Unix socket,
                        2,000 over TCP with TLS): resident memory and malloc's bytes in
                        use flat from the 1,000th to the 10,000th

The helpers are tests/helpers/stress.c and tests/helpers/connloop.c (`make tests`).

Two servers serve the connections. The real PostgreSQL server of the session (pg)
forks a backend per connection, which costs about 30 ms on the 2-core test machine:
10,000 of them would take five minutes. So the high counts go to FakePg below, a
protocol-level stand-in in this process that trusts everyone, answers SSLRequest with
a real TLS handshake (a certificate of the session's CA, so verify-full passes) and
says AuthenticationOk, BackendKeyData and ReadyForQuery without forking. For libpq,
and so for pqtls, it is a server like any other; the real server keeps its share of
every test that needs authentication, SCRAM and PostgreSQL's own TLS.

fork, and the locks of the libraries underneath. A child forked while another thread
holds a lock inherits it held. pqtls takes each of its own locks in a pthread_atfork
handler, and calls nothing in glibc that keeps a lock fork() does not reset (the
record's time is computed, not taken from gmtime_r and its tzset_lock). libpq 15 and
OpenSSL 3.0 do neither (seen on Debian 12, with and without pqtls): a child can hang in
its own first connect on libpq's ssl_config_mutex (taken by every connect), on
OpenSSL's RAND lock (TLS), or on GSSAPI's mechanism list lock (gss_acquire_cred, unless
gssencmode=disable). test_fork_* keeps TLS and GSSAPI out of the children, and when a
child still hangs reads gdb's backtrace of it: the test fails when the code waiting is
pqtls's (even inside glibc), and only reports the hang when it is another library's.

helgrind models neither pthread_once() nor C11 atomics: pqtls's lazy initialisations
tell it their order with ANNOTATE_HAPPENS_BEFORE/AFTER (valgrind/helgrind.h, no-ops
outside valgrind), and tests/valgrind/helgrind.supp holds only libpq's, OpenSSL's and
p11-kit's reports, each with its reason.
"""

import collections
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

import pytest

import harness
from harness import parse_records, run_preloaded

STRESS = os.path.join(harness.HELPERS_DIR, "stress")
CONNLOOP = os.path.join(harness.HELPERS_DIR, "connloop")
SUPP_DIR = os.path.join(harness.REPO, "tests", "valgrind")
VALGRIND = shutil.which("valgrind", path="/usr/bin:/bin")

APIS = ("PQconnectdb", "PQconnectdbParams", "PQconnectStart", "PQping")
PROC_RE = re.compile(r"^proc pid=(\d+) role=(parent|child) attempts=(\d+) ok=(\d+) failed=(\d+) "
                     r"PQconnectdb=(\d+) PQconnectdbParams=(\d+) PQconnectStart=(\d+) "
                     r"PQping=(\d+)$", re.M)

# 64 threads, each with this many attempts per target kind; see test_threads_*.
THREADS = 64
REAL_PER_THREAD = 2          # against PostgreSQL: 128 attempts per mode, about 5 s
FAKE_PER_THREAD = 12         # against FakePg: 768 attempts per mode

# Memory may not grow between the 1,000th connection and the last (10,000th).
WARMUP = 1000
RSS_GROWTH_MAX_KB = 2048
# malloc's bytes in use (mallinfo2), with glibc's per-thread cache off (a cached free
# block counts as in use: the tcache alone makes the figure wander by 100 KB and more).
# Measured so, libpq, OpenSSL and pqtls settle within the first 2,000 connections and
# then hold their bytes to the byte. The smallest block malloc hands out takes 32 bytes:
# one leaked per connection would add 288 KB over 9,000 connections, one per TLS
# connection 58 KB; a leaked certificate, chain or record far more.
HEAP_GROWTH_MAX = 32 * 1024
NO_TCACHE = "glibc.malloc.tcache_count=0"


def need(path):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is missing: run `make tests`" % path)
    return path


# --------------------------------------------------------------------------- FakePg

def _pg_msg(kind, payload):
    return kind + struct.pack("!i", len(payload) + 4) + payload


_FAKE_PARAMS = [("server_version", "15.0"), ("server_encoding", "UTF8"),
                ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"),
                ("integer_datetimes", "on"), ("TimeZone", "UTC"),
                ("standard_conforming_strings", "on"), ("is_superuser", "off"),
                ("session_authorization", "fake"), ("IntervalStyle", "postgres")]

_FAKE_GREETING = (
    _pg_msg(b"R", struct.pack("!i", 0))                                   # AuthenticationOk
    + b"".join(_pg_msg(b"S", k.encode() + b"\0" + v.encode() + b"\0")    # ParameterStatus
               for k, v in _FAKE_PARAMS)
    + _pg_msg(b"K", struct.pack("!ii", 4242, 17))                         # BackendKeyData
    + _pg_msg(b"Z", b"I"))                                                # ReadyForQuery


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def fake_conninfo(sockdir, port, tls=True):
    """FakePg over TCP with sslmode=require, or (tls=False) over its Unix socket."""
    if tls:
        return ("host=localhost hostaddr=127.0.0.1 port=%d dbname=fake user=fake "
                "sslmode=require gssencmode=disable" % port)
    return "host=%s port=%d dbname=fake user=fake" % (sockdir, port)


class FakePg:
    """A PostgreSQL wire-protocol server without backends: on 127.0.0.1:port and on the
    Unix socket sockdir/.s.PGSQL.port; a thread per connection."""

    def __init__(self, sockdir, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sockdir = sockdir
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_path = os.path.join(sockdir, ".s.PGSQL.%d" % self.port)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.lock = threading.Lock()
        self.sessions = 0           # startup packets answered
        self.tls_sessions = 0
        self.stopped = False
        for s in (self.tcp, self.unix):
            s.listen(512)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def conninfo(self, tls=True):
        return fake_conninfo(self.sockdir, self.port, tls)

    def _accept(self, lsock):
        while not self.stopped:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            if lsock.family == socket.AF_INET:
                # libpq's small writes must not wait for delayed ACKs (40 ms each).
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, sock):
        tls = False
        try:
            while True:
                head = _recv_exact(sock, 4)
                if head is None:
                    return
                body = _recv_exact(sock, struct.unpack("!i", head)[0] - 4)
                if body is None or len(body) < 4:
                    return
                code = struct.unpack("!i", body[:4])[0]
                if code == 80877103:                    # SSLRequest
                    if tls:
                        sock.sendall(b"N")
                        continue
                    sock.sendall(b"S")
                    sock = self.ctx.wrap_socket(sock, server_side=True)
                    tls = True
                    continue
                if code == 80877104:                    # GSSENCRequest
                    sock.sendall(b"N")
                    continue
                if code == 80877102:                    # CancelRequest
                    return
                break                                   # the startup packet
            with self.lock:
                self.sessions += 1
                self.tls_sessions += tls
            sock.sendall(_FAKE_GREETING)
            while True:                                 # until Terminate or EOF
                head = _recv_exact(sock, 5)
                if head is None or head[:1] == b"X":
                    return
                if _recv_exact(sock, struct.unpack("!i", head[1:])[0] - 4) is None:
                    return
                sock.sendall(_pg_msg(b"E", b"SERROR\0C0A000\0Mno queries here\0\0")
                             + _pg_msg(b"Z", b"I"))
        except (OSError, ssl.SSLError, ValueError, struct.error):
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def close(self):
        self.stopped = True
        for s in (self.tcp, self.unix):
            try:
                s.close()
            except OSError:
                pass
        try:
            os.unlink(self.unix_path)
        except OSError:
            pass


@pytest.fixture(scope="module")
def fake(pg):
    """FakePg with an ECDSA certificate for localhost from the session's CA (cheap
    handshakes: 2,000 of them must not take long)."""
    cert = pg.make_cert("localhost", sans=["DNS:localhost", "IP:127.0.0.1"], key_type="ec",
                        name="fakepg")
    server = FakePg(harness.scratch_dir("fakepg-"), cert.cert, cert.key)
    server.cert_files = (cert.cert, cert.key)
    yield server
    server.close()


class FakePgProcess:
    """FakePg in a process of its own (this file run as a script), for the long runs:
    two servers in the test process would share one interpreter lock, and the two
    10,000-connection runs side by side would take as long as one after the other."""

    def __init__(self, cert, key):
        self.sockdir = harness.scratch_dir("fakepg-")
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONPATH": os.path.join(harness.REPO, "tests", "lib")}
        self.proc = subprocess.Popen([harness.PYTHON, os.path.abspath(__file__), "--fakepg",
                                      self.sockdir, cert, key], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd="/")
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            pytest.fail("FakePg did not start: %r" % line)
        self.port = int(line)

    def conninfo(self, tls=True):
        return fake_conninfo(self.sockdir, self.port, tls)

    def close(self):
        try:
            self.proc.stdin.close()         # the server exits when its stdin closes
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- helpers

def real_tls(pg):
    """The session server over TCP with TLS; host=localhost so that verify-full passes
    in enforce (the certificate names localhost and 127.0.0.1)."""
    return pg.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="require",
                       gssencmode="disable")


def real_unix(pg):
    """The session server over its Unix socket, as the superuser (trusted there)."""
    return "host=%s port=%d dbname=postgres user=%s" % (pg.socket_dir, pg.port, pg.superuser)


def mode_env(pg, mode, new_ca=False):
    env = {}
    if mode != "observe":
        env["PQTLS_BUNDLE"] = pg.ca_file
    if new_ca:
        env["PQTLS_NEW_CA"] = pg.ca_file
    return env


def procs(stdout):
    """{pid: {"role", "attempts", "ok", "failed", <api>: n}} from stress's lines."""
    out = {}
    for m in PROC_RE.finditer(stdout):
        pid = int(m.group(1))
        out[pid] = {"role": m.group(2), "attempts": int(m.group(3)), "ok": int(m.group(4)),
                    "failed": int(m.group(5))}
        out[pid].update(zip(APIS, map(int, m.groups()[5:])))
    return out


def parent_of(r):
    ps = [p for p, v in procs(r.stdout).items() if v["role"] == "parent"]
    assert len(ps) == 1, "stress printed no parent line\n" + r.describe()
    return ps[0], procs(r.stdout)[ps[0]]


def check_log_text(text, n, where):
    """n lines, each one JSON object and nothing else: no torn, empty or mixed lines
    (parse_records already failed the test on any line that does not parse)."""
    assert text.count("\n") == n, "%s: %d lines for %d attempts" % (where, text.count("\n"), n)
    for line in text.split("\n")[:-1]:
        assert line.startswith("{") and line.endswith("}") and line.count('"ts":"') == 1, \
            "%s: a line that is not one whole record: %r" % (where, line[:300])


def check_records(records, counts, where, pid=None, mode=None):
    """Exactly one record per attempt of the process: as many as it made, of each entry
    point as many as it called, all succeeded, all from it."""
    apis = collections.Counter(r.get("api") for r in records)
    expected = {a: counts[a] for a in APIS if counts[a]}
    assert len(records) == counts["attempts"], \
        "%s: %d records for %d attempts (by api: %s, expected %s)" \
        % (where, len(records), counts["attempts"], dict(apis), expected)
    assert dict(apis) == expected, "%s: records by api %s, attempts %s" % (where, dict(apis), expected)
    bad = [r for r in records if r.get("outcome") != "ok"]
    assert not bad, "%s: %d records not ok, e.g. %r" % (where, len(bad), bad[:2])
    if pid is not None:
        others = [r for r in records if r.get("pid") != pid]
        assert not others, "%s: records of pid %s in the file of %s: %r" \
            % (where, others[0].get("pid"), pid, others[:1])
    if mode is not None:
        assert {r.get("mode") for r in records} == {mode}, where


def run_stress(args, pg, mode, timeout, new_ca=False, env=None, home=None):
    e = mode_env(pg, mode, new_ca)
    e.update(env or {})
    return run_preloaded([need(STRESS)] + [str(a) for a in args], env_extra=e, mode=mode,
                         timeout=timeout, home=home)


# --------------------------------------------------------------------------- threads

MODES = ["observe", "dry-run", "enforce"]


@pytest.mark.parametrize("mode", MODES)
def test_threads_real_server(pg, lib, mode):
    """64 threads x 2 attempts against PostgreSQL itself (SCRAM, the server's own TLS):
    blocking (PQconnectdb, PQconnectdbParams), non-blocking (PQconnectStart +
    PQconnectPoll) and PQping, all at once."""
    r = run_stress([THREADS, REAL_PER_THREAD, real_tls(pg), "--nonblocking-every", 2,
                    "--ping-every", 3], pg, mode, timeout=90)
    assert r.returncode == 0, r.describe()
    pid, counts = parent_of(r)
    assert counts["attempts"] == THREADS * REAL_PER_THREAD and counts["ok"] == counts["attempts"]
    assert all(counts[a] > 0 for a in APIS), counts
    check_log_text(r.log_text, counts["attempts"], mode)
    check_records(r.records, counts, mode, pid=pid, mode=mode)
    assert all(rec["tls"] and rec["transport"] == "tcp" for rec in r.records)
    if mode != "observe":
        assert {rec["dry_run"]["result"] for rec in r.records} == {"pass"}
    if mode == "enforce":
        assert {rec["sslmode"] for rec in r.records} == {"verify-full"}
        assert all(rec["forced"]["from"]["sslmode"] == "require" for rec in r.records)
    print("threads real %s: %d threads, %d attempts, %d records, %.1fs"
          % (mode, THREADS, counts["attempts"], len(r.records), r.duration))


@pytest.mark.parametrize("mode", MODES)
def test_threads_many(pg, fake, lib, mode):
    """64 threads x 12 attempts against FakePg, half the threads over TCP with TLS and
    half over the Unix socket: 768 attempts in a few seconds, so that the threads
    really are in the hooks, the connection table and the log at the same moments."""
    before = fake.sessions
    r = run_stress([THREADS, FAKE_PER_THREAD, fake.conninfo(tls=True),
                    "--also", fake.conninfo(tls=False),
                    "--nonblocking-every", 2, "--ping-every", 3], pg, mode, timeout=90)
    assert r.returncode == 0, r.describe()
    pid, counts = parent_of(r)
    n = THREADS * FAKE_PER_THREAD
    assert counts["attempts"] == n and counts["ok"] == n, counts
    check_log_text(r.log_text, n, mode)
    check_records(r.records, counts, mode, pid=pid, mode=mode)
    # Threads 0, 2, 4... used TCP with TLS, the others the socket: half each.
    transports = collections.Counter(rec["transport"] for rec in r.records)
    assert transports == {"tcp": n // 2, "unix": n // 2}, transports
    assert all(bool(rec["tls"]) == (rec["transport"] == "tcp") for rec in r.records)
    if mode != "observe":
        assert {rec["dry_run"]["result"] for rec in r.records} == {"pass"}
    # Every attempt reached the server once (PQping too): no attempt made twice.
    assert fake.sessions - before == n
    print("threads fake %s: %d threads, %d attempts, %d records, %.1fs"
          % (mode, THREADS, n, len(r.records), r.duration))


# --------------------------------------------------------------------------- fork

FORK_CHILDREN = 4
CHILD_CONNS = 4
CHILD_TIMEOUT = 10
# glibc's own frames (the lock primitives, and glibc functions that take an internal
# lock, such as gmtime_r's tzset_lock), skipped to find the code that called into them.
_GLIBC_FRAME = re.compile(r" at \.\.?/| from \S*/lib(c|pthread)\.so|futex|lll_lock|"
                          r"pthread_(mutex|rwlock|cond)_")


def hung_children(stdout):
    """{pid: (owner, frame)} of the children stress reported hung, with whose code
    waits: the first frame below glibc's is pqtls's ("pqtls": src/ or libpqtls.so),
    another library's ("other": libpq, OpenSSL, GSSAPI...), or there is no backtrace
    or it ends in the helper ("unknown")."""
    out = {}
    for pid in map(int, re.findall(r"^child pid=(\d+) hung", stdout, re.M)):
        frames = re.findall(r"^bt pid=%d: (#\d+ .*)$" % pid, stdout, re.M)
        waiter = next((f for f in frames if not _GLIBC_FRAME.search(f)), None)
        if waiter is None or "tests/helpers/" in waiter:
            out[pid] = ("unknown", waiter)
        elif "libpqtls" in waiter or re.search(r" at src/", waiter):
            out[pid] = ("pqtls", waiter)
        else:
            out[pid] = ("other", waiter)
    return out


def test_fork_children_while_threads_connect(pg, fake, lib, tmpdir_path):
    """8 threads connect over TCP with TLS (PostgreSQL and FakePg) while the main thread
    forks 4 children, spread over the run; each child makes 4 attempts of its own over
    the Unix socket (blocking, non-blocking, PQping) and exits. PQTLS_LOG has %p: every
    process writes its own file, reopened lazily in the child. dry-run, so that the
    children also take the bundle cache's lock and the probe cache's."""
    logdir = os.path.join(tmpdir_path, "logs")
    os.mkdir(logdir)
    os.chmod(logdir, 0o777)
    template = os.path.join(logdir, "pqtls-%p.jsonl")
    r = run_stress([8, 6, real_tls(pg), "--also", fake.conninfo(tls=True),
                    "--nonblocking-every", 2, "--ping-every", 5,
                    "--fork-children", FORK_CHILDREN, "--child-conns", CHILD_CONNS,
                    "--child-conninfo", real_unix(pg), "--child-timeout", CHILD_TIMEOUT,
                    "--backtrace-hung"],
                   pg, "dry-run", timeout=120, new_ca=True, env={"PQTLS_LOG": template})
    ps = procs(r.stdout)
    hung = hung_children(r.stdout)
    ours = {p: w for p, (who, w) in hung.items() if who != "other"}
    assert not ours, "a child hung on a lock of pqtls, or with no backtrace to tell whose " \
        "lock (the test reads it with gdb: is gdb installed?):\n%r\n%s" % (ours, r.describe())
    for p, (_, waiter) in hung.items():
        print("fork: child %d hung inside another library (%s); not pqtls's" % (p, waiter))
    assert not re.search(r"died of signal|lost:", r.stdout), r.describe()
    parent = [p for p, v in ps.items() if v["role"] == "parent"]
    children = sorted(p for p, v in ps.items() if v["role"] == "child")
    assert len(parent) == 1, r.describe()
    assert len(children) + len(hung) == FORK_CHILDREN, r.describe()
    assert r.returncode == (3 if hung else 0), r.describe()

    files = sorted(os.listdir(logdir))
    by_pid = {}
    for name in files:
        m = re.match(r"^pqtls-(\d+)\.jsonl$", name)
        assert m, "unexpected file %s in the log directory" % name
        records, text = parse_records(os.path.join(logdir, name))
        check_log_text(text, len(records), name)
        by_pid[int(m.group(1))] = records
    # Exactly the parent's and the children's files (a hung child may have written
    # none, or some of its records).
    assert set(by_pid) - set(hung) == set(parent + children), (files, ps, hung)
    check_records(by_pid[parent[0]], ps[parent[0]], "parent", pid=parent[0], mode="dry-run")
    assert {rec["transport"] for rec in by_pid[parent[0]]} == {"tcp"}
    for c in children:
        check_records(by_pid[c], ps[c], "child %d" % c, pid=c, mode="dry-run")
        assert {rec["transport"] for rec in by_pid[c]} == {"unix"}
        assert {rec["dry_run"]["result"] for rec in by_pid[c]} == {"pass"}
    for h in hung:
        recs = by_pid.get(h, [])
        assert all(rec["pid"] == h for rec in recs)
    print("fork: parent %d attempts, %d children x %d attempts, %d files, %.1fs"
          % (ps[parent[0]]["attempts"], len(children), CHILD_CONNS, len(files), r.duration))


def test_fork_hang_classifier():
    """hung_children tells pqtls's hangs from the other libraries' by the first frame
    below glibc's (the backtraces are gdb's, as seen on Debian 12)."""
    out = ("child pid=7 hung: still running after 10 s; killed\n"
           "bt pid=7: #0  futex_wait (private=0, expected=2) at ../sysdeps/nptl/futex-internal.h:146\n"
           "bt pid=7: #1  __GI___lll_lock_wait (futex=0x1) at ./nptl/lowlevellock.c:49\n"
           "bt pid=7: #2  ___pthread_mutex_lock (mutex=0x1) at ./nptl/pthread_mutex_lock.c:93\n"
           "bt pid=7: #3  0x00007f in conns_track (conn=0x1) at src/lib/conns.c:70\n"
           "child pid=8 hung: still running after 10 s; killed\n"
           "bt pid=8: #0  futex_wait (private=0) at ../sysdeps/nptl/futex-internal.h:146\n"
           "bt pid=8: #2  __pthread_rwlock_rdlock_full64 (rwlock=0x1) at ./nptl/pthread_rwlock_common.c:460\n"
           "bt pid=8: #4  0x00007f in CRYPTO_THREAD_read_lock () from /lib/x86_64-linux-gnu/libcrypto.so.3\n"
           "bt pid=8: #5  0x00007f in RAND_get0_primary () from /lib/x86_64-linux-gnu/libcrypto.so.3\n"
           "child pid=9 hung: still running after 10 s; killed\n"
           "bt pid=9: (gdb failed)\n"
           "child pid=10 hung: still running after 10 s; killed\n"
           "bt pid=10: #0  futex_wait (futex_word=0x7f <tzset_lock>) at ../sysdeps/nptl/futex-internal.h:146\n"
           "bt pid=10: #1  __GI___lll_lock_wait_private (futex=0x7f) at ./nptl/lowlevellock.c:34\n"
           "bt pid=10: #2  0x00007f in __tz_convert (timer=1, use_localtime=0) at ./time/tzset.c:572\n"
           "bt pid=10: #3  0x00007f in __GI___gmtime_r (t=0x7f, tp=0x7f) at ./time/gmtime.c:26\n"
           "bt pid=10: #4  0x00007f in format_now (out=0x7f) at src/lib/record.c:58\n"
           "child pid=11 hung: still running after 10 s; killed\n"
           "bt pid=11: #3  ___pthread_mutex_lock (mutex=0x7f) at ./nptl/pthread_mutex_lock.c:93\n"
           "bt pid=11: #4  0x00007f in ?? () from /lib/x86_64-linux-gnu/libpq.so.5\n"
           "bt pid=11: #5  0x00007f in PQconnectPoll () from /lib/x86_64-linux-gnu/libpq.so.5\n")
    h = hung_children(out)
    assert {p: v[0] for p, v in h.items()} == \
        {7: "pqtls", 8: "other", 9: "unknown", 10: "pqtls", 11: "other"}, h


# --------------------------------------------------------------------------- valgrind

def need_valgrind():
    if VALGRIND is None:
        pytest.skip("valgrind is not installed (`make deps`)")
    if harness.sanitizer_runtimes(harness.LIB_PATH):
        pytest.skip("valgrind cannot run a program under the ASan runtime: it loads its own "
                    "vgpreload objects ahead of LD_PRELOAD, so libasan is not first and stops "
                    "the program (\"ASan runtime does not come first\"), and both would "
                    "replace malloc; helgrind and memcheck run in `make test`")
    return VALGRIND


def valgrind_errors(xml_path):
    """[(kind, frames)] of the errors in a valgrind XML file; frames are (obj, fn,
    file:line) of every stack of the error, top first."""
    root = ET.parse(xml_path).getroot()
    out = []
    for e in root.iter("error"):
        frames = []
        for st in e.findall("stack"):
            for f in st.findall("frame"):
                where = "%s:%s" % (f.findtext("file"), f.findtext("line")) if f.findtext("file") else ""
                frames.append((f.findtext("obj") or "", f.findtext("fn") or "?", where))
        out.append((e.findtext("kind"), frames))
    return out


def pqtls_frames(frames):
    return [f for f in frames if f[0].endswith("/libpqtls.so")]


def describe_errors(errors):
    return "\n".join("%s:\n  %s" % (kind, "\n  ".join("%s %s %s" % f for f in frames[:14]))
                     for kind, frames in errors[:10])


def suppressed_counts(xml_path):
    root = ET.parse(xml_path).getroot()
    return {p.findtext("name"): int(p.findtext("count"))
            for p in root.iter("pair") if p.find("name") is not None}


def check_supp_file(name):
    """No suppression names a frame of pqtls: its own errors are fixed, not hidden."""
    with open(os.path.join(SUPP_DIR, name)) as f:
        entries = re.sub(r"#.*", "", f.read())
    for word in ("libpqtls", "pqtls", "src/lib", "src/common", "hooks.c"):
        assert word not in entries, "%s names %r" % (name, word)


def test_helgrind_threads(pg, fake, lib, tmpdir_path):
    """helgrind on stress: 8 threads x 3 attempts, dry-run with PQTLS_NEW_CA (the most
    code: rehearsal, bundle cache, probe cache), the threads spread over the real
    server's Unix socket (four threads), FakePg with TLS (two) and FakePg without TLS
    (two: sslmode=disable over TCP, which makes dry-run probe the server with a TLS
    handshake of its own). TLS is what makes helgrind slow (about a second a handshake),
    hence only a quarter of the threads use it. No error may remain once the
    documented suppressions of libpq, OpenSSL, glibc and p11-kit are applied, and none
    of those suppressions names a pqtls frame."""
    need_valgrind()
    check_supp_file("helgrind.supp")
    xml_path = os.path.join(tmpdir_path, "helgrind.xml")
    plain = fake.conninfo(tls=True).replace("sslmode=require", "sslmode=disable")
    argv = [VALGRIND, "--tool=helgrind", "--error-exitcode=3",
            "--suppressions=" + os.path.join(SUPP_DIR, "helgrind.supp"),
            "--xml=yes", "--xml-file=" + xml_path,
            need(STRESS), "8", "3", real_unix(pg), "--also", fake.conninfo(tls=True),
            "--also", real_unix(pg), "--also", plain,
            "--nonblocking-every", "2", "--ping-every", "3"]
    r = run_preloaded(argv, env_extra=mode_env(pg, "dry-run", new_ca=True), mode="dry-run",
                      timeout=240)
    errors = valgrind_errors(xml_path)
    ours = [e for e in errors if pqtls_frames(e[1][:6])]
    assert not ours, "helgrind: %d errors in pqtls's code:\n%s" % (len(ours), describe_errors(ours))
    assert not errors, "helgrind: %d errors (others' code: a suppression with a reason " \
        "belongs in tests/valgrind/helgrind.supp):\n%s" % (len(errors), describe_errors(errors))
    assert r.returncode == 0, r.describe()
    pid, counts = parent_of(r)
    assert counts["ok"] == counts["attempts"] == 24
    check_records(r.records, counts, "helgrind", pid=pid, mode="dry-run")
    print("helgrind: 8 threads x 3, %d records, 0 errors, suppressed %s, %.1fs"
          % (len(r.records), suppressed_counts(xml_path), r.duration))


MEMCHECK = ["--tool=memcheck", "--error-exitcode=3", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite"]

PSYCOPG2_SCRIPT = """
import sys
import psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT 1")
assert cur.fetchone() == (1,)
conn.close()
print("ok")
"""


@pytest.mark.parametrize("client,mode", [("psql", "enforce"), ("psycopg2", "dry-run")])
def test_memcheck(pg, lib, tmpdir_path, client, mode):
    """valgrind memcheck on a real client under the interposer, one verify-full TLS
    connection to the real server (enforce rewrites it, dry-run judges its chain and the
    rotation): no invalid read or write, no use of uninitialised memory, no definitely
    lost block (after the one documented suppression, a leak of psql's own)."""
    need_valgrind()
    check_supp_file("memcheck.supp")
    xml_path = os.path.join(tmpdir_path, "memcheck.xml")
    info = pg.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="verify-full",
                       sslrootcert=pg.ca_file)
    env = mode_env(pg, mode, new_ca=True)
    if client == "psql":
        prog = [pg.bin("psql"), "-X", "-A", "-t", "-c", "SELECT 1", info]
    else:
        prog = [harness.PYTHON, "-c", PSYCOPG2_SCRIPT, info]
        env["PYTHONMALLOC"] = "malloc"      # pymalloc's arenas would hide every block
    argv = [VALGRIND] + MEMCHECK + [
        "--suppressions=" + os.path.join(SUPP_DIR, "memcheck.supp"),
        "--xml=yes", "--xml-file=" + xml_path] + prog
    r = run_preloaded(argv, env_extra=env, mode=mode, timeout=180)
    errors = valgrind_errors(xml_path)
    ours = [e for e in errors if pqtls_frames(e[1])]
    assert not ours, "memcheck: %d errors with pqtls frames:\n%s" % (len(ours), describe_errors(ours))
    assert not errors, "memcheck: %d errors:\n%s" % (len(errors), describe_errors(errors))
    assert r.returncode == 0, r.describe()
    assert r.stdout.strip().endswith("1") or r.stdout.strip() == "ok", r.describe()
    rec = r.record
    assert rec["outcome"] == "ok" and rec["tls"] and rec["dry_run"]["result"] == "pass", rec
    # The root file (sslrootcert) holds the CA that PQTLS_NEW_CA names.
    assert rec["after_rotation"] == "ready", rec
    print("memcheck %s (%s): 0 errors, suppressed %s, %.1fs"
          % (client, mode, suppressed_counts(xml_path), r.duration))


# --------------------------------------------------------------------------- growth

SAMPLE_RE = re.compile(r"^sample n=(\d+) rss_kb=(\d+) heap_in_use=(\d+) heap_total=(\d+)$", re.M)
DONE_RE = re.compile(r"^done attempts=(\d+) ok=(\d+) failed=(\d+) abandoned=(\d+) "
                     r"PQconnectdb=(\d+) PQconnectdbParams=(\d+) PQconnectStart=(\d+) "
                     r"PQping=(\d+) abandoned=(\d+)$", re.M)
UNIX_CONNS = 8000
TLS_CONNS = 2000


# Under `make asan`: ASan keeps freed blocks in a quarantine of up to 256 MB (to catch
# use after free), which a run of 10,000 connections fills, and resident memory grows
# with it whatever pqtls does. Without the quarantine resident memory measures the
# program again; heap in use is then ASan's allocator's count (connloop.c).
SANITIZER_GROWTH_ENV = {"ASAN_OPTIONS": "detect_leaks=0:quarantine_size_mb=0"}


def growth_run(pg, fake, mode):
    env = dict(mode_env(pg, mode, new_ca=(mode == "dry-run")), GLIBC_TUNABLES=NO_TCACHE)
    if harness.sanitizer_runtimes(harness.LIB_PATH):
        env.update(SANITIZER_GROWTH_ENV)
    return run_preloaded([need(CONNLOOP), "%d:%s" % (UNIX_CONNS, fake.conninfo(tls=False)),
                          "%d:%s" % (TLS_CONNS, fake.conninfo(tls=True))],
                         env_extra=env, mode=mode, timeout=240)


def check_growth(mode, r):
    assert r.returncode == 0, "%s:\n%s" % (mode, r.describe()[:5000])
    total = UNIX_CONNS + TLS_CONNS
    done = DONE_RE.search(r.stdout)
    assert done, r.stdout[-2000:]
    attempts, ok, failed, abandoned = map(int, done.groups()[:4])
    assert (attempts, failed) == (total, 0) and ok + abandoned == total, done.group(0)
    samples = {int(m.group(1)): tuple(map(int, m.groups()[1:])) for m in SAMPLE_RE.finditer(r.stdout)}
    assert WARMUP in samples and total in samples, r.stdout[-2000:]

    # One record per connection, each with its outcome.
    assert len(r.records) == total, "%s: %d records for %d connections" % (mode, len(r.records), total)
    check_log_text(r.log_text, total, mode)
    outcomes = collections.Counter(rec["outcome"] for rec in r.records)
    assert outcomes == {"ok": ok, "abandoned": abandoned}, (mode, outcomes)
    transports = collections.Counter(rec["transport"] for rec in r.records)
    assert transports == {"unix": UNIX_CONNS, "tcp": TLS_CONNS}, (mode, transports)
    tls_ok = [rec for rec in r.records if rec["transport"] == "tcp" and rec["outcome"] == "ok"]
    assert tls_ok and all(rec["tls"] and rec["tls"]["peer"] for rec in tls_ok), mode
    if mode == "dry-run":
        assert all(rec["dry_run"]["result"] == "pass" and rec["after_rotation"]
                   for rec in r.records if rec["outcome"] == "ok")

    rss0, heap0, _ = samples[WARMUP]
    rss1, heap1, _ = samples[total]
    curve = " ".join("%d:%dkB/%dB" % (n, v[0], v[1]) for n, v in sorted(samples.items()))
    print("growth %s: %d connections (%d unix, %d TLS), %d records, %.1fs; RSS %d kB at %d, "
          "%d kB at %d (%+d kB); heap in use %d B -> %d B (%+d B)\n  %s"
          % (mode, total, UNIX_CONNS, TLS_CONNS, len(r.records), r.duration, rss0, WARMUP,
             rss1, total, rss1 - rss0, heap0, heap1, heap1 - heap0, curve))
    assert rss1 - rss0 < RSS_GROWTH_MAX_KB, \
        "%s: resident memory grew by %d kB: %s" % (mode, rss1 - rss0, curve)
    assert heap1 - heap0 < HEAP_GROWTH_MAX, \
        "%s: malloc's bytes in use grew by %d: %s" % (mode, heap1 - heap0, curve)


def test_no_growth_per_connection(pg, fake, lib):
    """10,000 connections one after the other in one process, every one closed with
    PQfinish: 8,000 over the Unix socket and 2,000 over TCP with TLS (the record's
    tls and peer, and in dry-run the chain judged against the bundle and the rotation),
    interleaved, through all five ways in (PQconnectdb, PQconnectdbParams, PQconnectStart
    + PQconnectPoll, PQping, PQconnectStart abandoned with PQfinish). In observe and in
    dry-run (one process each, side by side). From the 1,000th connection to the last,
    resident memory must stay within 2 MB and malloc's bytes in use within 32 KB: the
    connection table, the probe cache and the bundle cache must not grow."""
    results = {}

    def run(mode):
        server = None
        try:
            server = FakePgProcess(*fake.cert_files)
            results[mode] = growth_run(pg, server, mode)
        except BaseException as e:      # pytest.fail (a timeout) raises outside Exception
            results[mode] = e
        finally:
            if server is not None:
                server.close()

    threads = [threading.Thread(target=run, args=(m,)) for m in ("observe", "dry-run")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for mode in ("observe", "dry-run"):
        if isinstance(results[mode], BaseException):
            raise results[mode]
        check_growth(mode, results[mode])


if __name__ == "__main__" and sys.argv[1:2] == ["--fakepg"]:
    # FakePgProcess: serve until the test closes our stdin.
    _server = FakePg(*sys.argv[2:5])
    print(_server.port, flush=True)
    sys.stdin.read()
    _server.close()
