"""PostgreSQL 17's cancel connections (src/lib/cancel.c): one record per cancel attempt.

tests/helpers/pqcall.c connects, starts `SELECT pg_sleep(30)`, then cancels it through
PQcancelCreate with PQcancelBlocking or PQcancelStart/PQcancelPoll, against a real server
of the same major, under libpq 17 and 18 (a libpq without cancel connections: the helper
says so and nothing changes). Every run is compared with the same run without pqtls, and
each cancel record with the record of the connection it came from: same endpoint, same
TLS settings and sources, its own TLS, outcome what libpq answered.

A TCP relay in front of the server sends the first connection to the server and the
second (the cancel) where a test wants it: to a server that does not offer TLS, or to a
server whose certificate the client does not trust, so the cancel fails the way libpq
fails it.

These run for every version of $PQTLS_LIBPQ_VERSIONS (make test-matrix: all six).
"""

import hashlib
import os
import socket
import threading

import pytest

from harness import run_plain, run_preloaded
from pgserver import leaf_der

CANCEL_APIS = ["PQcancelBlocking", "PQcancelStart"]
# Fields a cancel connection takes over from the connection it cancels (pqCopyPGconn).
SAME_AS_CONNECTION = ["host", "hostaddr", "port", "transport", "sslmode", "sslmode_source",
                      "sslrootcert", "sslrootcert_source", "rootcert_file", "rootcert_exists",
                      "verify"]


def _sha256(server):
    return hashlib.sha256(leaf_der(server.server_cert)).hexdigest()


def _same_as_plain(r, plain):
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout), \
        "%s\n---- plain ----\n%s" % (r.describe(), plain.describe())


def _run_both(libpq, libpqs, home, argv, mode, env=None, relay=None):
    """The helper without pqtls, then under it (a relay starts over for each run)."""
    helper = libpqs.helper(libpq)
    if relay is not None:
        relay.reset()
    plain = run_plain([helper] + argv, home=home, env_extra={
        k: v for k, v in (env or {}).items() if not k.startswith("PQTLS_")})
    if relay is not None:
        relay.reset()
    r = run_preloaded([helper] + argv, home=home, mode=mode, env_extra=env)
    _same_as_plain(r, plain)
    return r


def _needs_17(libpq, r):
    if libpq >= 17:
        return False
    assert r.returncode == 3 and "need libpq 17" in r.stdout, r.describe()
    assert r.records == [], r.describe()
    return True


@pytest.mark.parametrize("api", CANCEL_APIS)
@pytest.mark.parametrize("mode", ["observe", "dry-run", "enforce"])
def test_one_record_per_cancel(libpq, libpqs, home, api, mode):
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                               host="localhost", hostaddr="127.0.0.1")
    env = {"PQTLS_BUNDLE": server.ca_file, "PQTLS_NEW_CA": server.ca_file,
           "PQTLS_CACHE_TTL": "0"}
    r = _run_both(libpq, libpqs, home, [api, conninfo], mode, env)
    if _needs_17(libpq, r):
        return
    assert r.stdout.splitlines() == ["status=ok ssl=1", "cancel=ok", "query=canceled"], \
        r.describe()
    assert [rec["api"] for rec in r.records] == ["PQconnectdb", api], r.describe()
    conn, cancel = r.records
    for k in SAME_AS_CONNECTION:
        assert cancel[k] == conn[k], (k, r.describe())
    assert (cancel["outcome"], cancel["error"]) == ("ok", None), r.describe()
    assert cancel["verify"] == "full" and cancel["sslmode_source"] == "conninfo"
    tls = cancel["tls"]
    assert tls is not None and tls["protocol"].startswith("TLSv1."), r.describe()
    assert tls["cipher"] == conn["tls"]["cipher"], r.describe()
    assert tls["peer"]["sha256"] == _sha256(server), r.describe()
    assert cancel["after_rotation"] == "ready", r.describe()
    if mode == "observe":
        assert "dry_run" not in cancel, r.describe()
    else:
        dr = cancel["dry_run"]
        assert (dr["result"], dr["reason"], dr["method"]) == ("pass", "ok", "chain"), \
            r.describe()


@pytest.mark.parametrize("api", CANCEL_APIS)
def test_cancel_of_a_forced_connection_says_so(libpq, libpqs, home, api):
    """enforce: the cancel connection copies the options enforce gave its connection
    (pqCopyPGconn), so its record carries the same `forced`, and it verifies."""
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode="require", host="localhost", hostaddr="127.0.0.1")
    r = _run_both(libpq, libpqs, home, [api, conninfo], "enforce",
                  {"PQTLS_BUNDLE": server.ca_file})
    if _needs_17(libpq, r):
        return
    conn, cancel = r.records
    want = {"from": {"sslmode": "require", "sslrootcert": None},
            "to": {"sslmode": "verify-full", "sslrootcert": server.ca_file}}
    assert conn["forced"] == want and cancel["forced"] == want, r.describe()
    assert (cancel["sslmode"], cancel["verify"], cancel["outcome"]) == \
        ("verify-full", "full", "ok"), r.describe()


@pytest.mark.parametrize("api", CANCEL_APIS)
def test_cancel_takes_the_sources_of_its_connection(libpq, libpqs, home, api):
    """sslmode from the environment and no root file: the cancel record says `env` and
    verify none, and still used TLS (require)."""
    server = libpqs.server(libpq)
    r = _run_both(libpq, libpqs, home, [api, server.conninfo()], "observe",
                  {"PGSSLMODE": "require"})
    if _needs_17(libpq, r):
        return
    conn, cancel = r.records
    assert (cancel["sslmode"], cancel["sslmode_source"], cancel["verify"]) == \
        ("require", "env", "none"), r.describe()
    assert cancel["tls"]["peer"]["sha256"] == _sha256(server), r.describe()
    assert cancel["outcome"] == "ok", r.describe()


def test_plaintext_cancel(libpq, libpqs, home):
    """sslmode=disable: the cancel goes without TLS, and says so."""
    server = libpqs.server(libpq)
    r = _run_both(libpq, libpqs, home, ["PQcancelBlocking", server.conninfo(sslmode="disable")],
                  "dry-run", {"PQTLS_BUNDLE": server.ca_file})
    if _needs_17(libpq, r):
        return
    conn, cancel = r.records
    assert conn["tls"] is None and cancel["tls"] is None, r.describe()
    assert cancel["outcome"] == "ok" and cancel["sslmode"] == "disable", r.describe()
    # no TLS to judge on the program's connection: the side handshake answers
    assert cancel["dry_run"]["method"] == "probe", r.describe()


def test_abandoned_and_reset(libpq, libpqs, home):
    """PQcancelStart then PQcancelFinish at once: abandoned. A PGcancelConn used twice
    (PQcancelReset between): two records."""
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode="require")
    r = _run_both(libpq, libpqs, home, ["cancel-abandon", conninfo], "observe")
    if _needs_17(libpq, r):
        return
    assert r.stdout.splitlines() == ["status=ok ssl=1", "cancel=abandoned"], r.describe()
    assert [(rec["api"], rec["outcome"]) for rec in r.records] == \
        [("PQconnectdb", "ok"), ("PQcancelStart", "abandoned")], r.describe()
    r = _run_both(libpq, libpqs, home, ["cancel-reset", conninfo], "observe")
    assert r.stdout.splitlines()[:3] == ["status=ok ssl=1", "cancel=ok", "cancel=ok"], \
        r.describe()
    assert [(rec["api"], rec["outcome"]) for rec in r.records] == \
        [("PQconnectdb", "ok"), ("PQcancelBlocking", "ok"), ("PQcancelBlocking", "ok")], \
        r.describe()
    assert all(rec["tls"] is not None for rec in r.records), r.describe()


# ----------------------------------------------------------------------------- failing cancels

class Relay:
    """127.0.0.1:port relaying its first connection to `first` and every later one to
    `later` ((host, port) or "refuse-tls": answer the SSLRequest with 'N' and close)."""

    def __init__(self, first, later):
        self.first, self.later = first, later
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            target = self.first if self.accepted == 1 else self.later
            threading.Thread(target=self._serve, args=(client, target), daemon=True).start()

    def _serve(self, client, target):
        if target == "refuse-tls":
            client.recv(8)
            client.sendall(b"N")
            client.close()
            return
        upstream = socket.create_connection(target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset(self):
        """The next connection is a first one again."""
        self.accepted = 0

    def close(self):
        self.sock.close()


@pytest.fixture
def relay():
    made = []

    def make(first, later):
        made.append(Relay(first, later))
        return made[-1]
    yield make
    for r in made:
        r.close()


def _cancel_error(r):
    line = [x for x in r.stdout.splitlines() if x.startswith("cancel=bad: ")]
    assert line, r.describe()
    return line[0][len("cancel=bad: "):].strip()


@pytest.mark.parametrize("api", CANCEL_APIS)
def test_cancel_refused_tls_fails_as_libpq_says(libpq, libpqs, home, relay, api):
    """The cancel reaches a server that answers 'N': libpq fails the cancel (sslmode
    require), and the record says failed with libpq's own message."""
    server = libpqs.server(libpq)
    rl = relay(("127.0.0.1", server.port), "refuse-tls")
    conninfo = server.conninfo(sslmode="require", port=rl.port)
    r = _run_both(libpq, libpqs, home, [api, conninfo], "observe", relay=rl)
    if _needs_17(libpq, r):
        return
    assert r.returncode == 1, r.describe()
    conn, cancel = r.records
    assert (conn["outcome"], cancel["api"], cancel["outcome"]) == ("ok", api, "failed"), \
        r.describe()
    assert cancel["error"] == _cancel_error(r) and "SSL" in cancel["error"], r.describe()
    assert cancel["tls"] is None and cancel["port"] == str(rl.port), r.describe()


@pytest.mark.parametrize("api", CANCEL_APIS)
def test_cancel_to_untrusted_server(libpq, libpqs, home, relay, api, pg):
    """The cancel reaches another server (Debian's, another CA): verify-full fails it
    with 'certificate verify failed'; failed_peer is that server's certificate, and
    dry-run judges that chain (method chain) under the libpq's own OpenSSL."""
    server = libpqs.server(libpq)
    if libpq < 17:
        _needs_17(libpq, _run_both(libpq, libpqs, home, [api, server.conninfo()], "dry-run"))
        return
    other = pg
    rl = relay(("127.0.0.1", server.port), ("127.0.0.1", other.port))
    conninfo = server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                               host="localhost", hostaddr="127.0.0.1", port=rl.port)
    r = _run_both(libpq, libpqs, home, [api, conninfo], "dry-run",
                  {"PQTLS_BUNDLE": server.ca_file, "PQTLS_CACHE_TTL": "0"}, relay=rl)
    conn, cancel = r.records
    assert conn["outcome"] == "ok" and cancel["outcome"] == "failed", r.describe()
    assert "certificate verify failed" in cancel["error"], r.describe()
    assert cancel["error"] == _cancel_error(r), r.describe()
    assert cancel["failed_peer"]["sha256"] == _sha256(other), r.describe()
    dr = cancel["dry_run"]
    assert (dr["result"], dr["reason"], dr["method"]) == ("fail", "untrusted-ca", "chain"), \
        r.describe()


# ----------------------------------------------------------------------------- through dlsym

CTYPES_CANCEL = r"""
import ctypes, sys, time
lib = ctypes.CDLL(sys.argv[1])          # RTLD_LOCAL, functions found with dlsym
P = ctypes.c_void_p
for name, res, args in (("PQconnectdb", P, [ctypes.c_char_p]), ("PQstatus", ctypes.c_int, [P]),
                        ("PQsendQuery", ctypes.c_int, [P, ctypes.c_char_p]),
                        ("PQcancelCreate", P, [P]), ("PQcancelBlocking", ctypes.c_int, [P]),
                        ("PQcancelFinish", None, [P]), ("PQfinish", None, [P])):
    f = getattr(lib, name)
    f.restype, f.argtypes = res, args
conn = lib.PQconnectdb(sys.argv[2].encode())
assert lib.PQstatus(conn) == 0
lib.PQsendQuery(conn, b"SELECT pg_sleep(30)")
time.sleep(0.2)
cc = lib.PQcancelCreate(conn)
print("cancel=%d" % lib.PQcancelBlocking(cc))
lib.PQcancelFinish(cc)
lib.PQfinish(conn)
"""


def test_cancel_through_dlsym(libpq, libpqs, home):
    """A program that finds libpq's functions with dlsym on an RTLD_LOCAL handle, as
    psycopg 3's ctypes implementation does (17+: it cancels with PQcancelCreate)."""
    server = libpqs.server(libpq)
    path = os.path.join(libpqs.dir(libpq), "libpq.so.5")
    if libpq < 17:
        # dlsym on that libpq's handle finds no cancel function, with pqtls as without
        argv = ["/usr/bin/python3", "-c", "import ctypes, sys; "
                "print(hasattr(ctypes.CDLL(sys.argv[1]), 'PQcancelCreate'))", path]
        r = run_preloaded(argv, home=home)
        assert (r.returncode, r.stdout, r.records) == (0, "False\n", []), r.describe()
        return
    conninfo = server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                               host="localhost", hostaddr="127.0.0.1")
    argv = ["/usr/bin/python3", "-c", CTYPES_CANCEL, path, conninfo]
    plain = run_plain(argv, home=home)
    r = run_preloaded(argv, home=home, mode="dry-run",
                      env_extra={"PQTLS_BUNDLE": server.ca_file})
    _same_as_plain(r, plain)
    assert r.stdout == "cancel=1\n", r.describe()
    assert [(rec["api"], rec["outcome"]) for rec in r.records] == \
        [("PQconnectdb", "ok"), ("PQcancelBlocking", "ok")], r.describe()
    assert r.records[1]["tls"]["peer"]["sha256"] == _sha256(server), r.describe()
    assert r.records[1]["dry_run"]["method"] == "chain", r.describe()


OLD_LIBPQ_CANCEL = r"""
import ctypes, sys
ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)   # that libpq, in the global scope
scope = ctypes.CDLL(None)                          # what a program linked against 17 binds
P = ctypes.c_void_p
try:
    create = scope.PQcancelCreate
except AttributeError:
    print("absent")
    sys.exit(0)
create.restype, create.argtypes = P, [P]
start = scope.PQcancelStart
start.restype, start.argtypes = ctypes.c_int, [P]
poll = scope.PQcancelPoll
poll.restype, poll.argtypes = ctypes.c_int, [P]
# libpq 17's own PQcancelPoll(NULL) dereferences NULL: only the stand-ins are asked
polled = poll(None) if sys.argv[2] == "old" else "-"
print("create=%s start=%d poll=%s" % (create(None) is not None, start(None), polled))
scope.PQcancelFinish.argtypes = [P]
scope.PQcancelFinish(None)
"""


def test_older_libpq_gets_failure_values(libpq, libpqs, home):
    """Under LD_PRELOAD the cancel names exist even where libpq has none (13 to 16): a
    program that reaches them gets libpq's failure values (NULL, 0, PGRES_POLLING_FAILED)
    and one message, never a call through NULL, and no record."""
    path = os.path.join(libpqs.dir(libpq), "libpq.so.5")
    argv = ["/usr/bin/python3", "-c", OLD_LIBPQ_CANCEL, path, "old" if libpq < 17 else "new"]
    plain = run_plain(argv, home=home)
    r = run_preloaded(argv, home=home)
    assert r.returncode == 0 and r.records == [], r.describe()
    if libpq >= 17:
        # the real functions: PQcancelCreate(NULL) makes a failed cancel connection,
        # PQcancelStart(NULL) is 0; nothing reached a server, nothing is recorded
        assert plain.stdout == r.stdout == "create=True start=0 poll=-\n", r.describe()
        return
    assert plain.stdout == "absent\n", plain.describe()
    assert r.stdout == "create=False start=0 poll=0\n", r.describe()   # 0: POLLING_FAILED
    notes = [line for line in r.stderr.splitlines() if "cancel connections" in line]
    assert len(notes) == 1 and "libpq 17 added them" in notes[0], r.describe()
