"""Every libpq entry point, called by a small C program linked with -lpq at build time,
gives exactly one record with the right api and outcome, and the program behaves exactly
as without pqtls."""

import os

import pytest

from harness import HELPERS_DIR, run_plain, run_preloaded

PQCALL = os.path.join(HELPERS_DIR, "pqcall")


def pqcall(*args):
    return [PQCALL] + [str(a) for a in args]


def params(pg, **kw):
    """KEY=VALUE arguments for the *Params entry points."""
    d = {"host": pg.host, "port": str(pg.port), "dbname": pg.dbname, "user": pg.user,
         "password": pg.password}
    d.update({k: v for k, v in kw.items()})
    return ["%s=%s" % (k, v) for k, v in d.items() if v is not None]


def same_as_plain(pg, home, argv, env_extra=None):
    """Run argv with and without pqtls; assert identical behaviour; return the
    preloaded run."""
    plain = run_plain(argv, env_extra=env_extra, home=home)
    traced = run_preloaded(argv, env_extra=env_extra, home=home)
    assert traced.returncode == plain.returncode, traced.describe()
    assert traced.stdout == plain.stdout, "stdout differs:\n%s\n---- plain ----\n%s" % (
        traced.describe(), plain.stdout)
    return traced


CASES = [
    ("PQconnectdb", lambda pg: pqcall("PQconnectdb", pg.conninfo()), "PQconnectdb"),
    ("PQconnectdbParams", lambda pg: pqcall("PQconnectdbParams", *params(pg)),
     "PQconnectdbParams"),
    ("PQsetdbLogin", lambda pg: pqcall("PQsetdbLogin", pg.host, pg.port, pg.dbname, pg.user,
                                       pg.password), "PQsetdbLogin"),
    ("PQconnectStart", lambda pg: pqcall("PQconnectStart", pg.conninfo()), "PQconnectStart"),
    ("PQconnectStartParams", lambda pg: pqcall("PQconnectStartParams", *params(pg)),
     "PQconnectStartParams"),
    ("PQping", lambda pg: pqcall("PQping", pg.conninfo()), "PQping"),
    ("PQpingParams", lambda pg: pqcall("PQpingParams", *params(pg)), "PQpingParams"),
]


@pytest.mark.parametrize("api,argv", [(c[2], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_entry_point_gives_one_record(pg, home, lib, api, argv):
    r = same_as_plain(pg, home, argv(pg))
    assert r.returncode == 0, r.describe()
    rec = r.record
    assert rec["api"] == api
    assert rec["outcome"] == "ok"
    assert rec["port"] == str(pg.port)
    assert rec["user"] == pg.user and rec["dbname"] == pg.dbname
    assert rec["transport"] == "tcp"
    assert rec["sslmode"] == "prefer" and rec["sslmode_source"] == "default"
    assert rec["tls"]["protocol"].startswith("TLSv1")
    assert rec["tls"]["peer"]["sha256"] == pg.server.sha256
    assert rec["pid"] > 0 and rec["exe"].endswith("/pqcall")
    if api.startswith("PQping"):
        assert rec["ping"] == "ok"


@pytest.mark.parametrize("api", ["PQconnectdb", "PQconnectStart", "PQping"])
def test_failed_entry_point(pg, home, lib, api):
    """A refused connection (wrong password) is one failed record with libpq's
    message; a ping of a live server is still ok (the server answered)."""
    r = same_as_plain(pg, home, pqcall(api, pg.conninfo(password="wrong-password-1")))
    rec = r.record
    assert rec["api"] == api
    assert rec["outcome"] == "failed"
    assert "password authentication failed" in rec["error"]
    if api == "PQping":
        assert r.returncode == 0 and rec["ping"] == "ok"
    else:
        assert r.returncode == 1


def test_unreachable_server(pg, home, lib, tmpdir_path):
    """Nothing listens on the port: failed, with libpq's own message."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = same_as_plain(pg, home, pqcall("PQconnectdb", pg.conninfo(port=port)))
    rec = r.record
    assert rec["outcome"] == "failed" and "Connection refused" in rec["error"]
    assert rec["port"] == str(port) and rec["tls"] is None


@pytest.mark.parametrize("api", ["PQreset", "PQresetStart"])
def test_reset_is_recorded(pg, home, lib, api):
    """PQconnectdb, then a reset: two records, the reset's keeps the sources of the
    original call."""
    r = same_as_plain(pg, home, pqcall(api, pg.conninfo(sslmode="require")))
    assert [x["api"] for x in r.records] == ["PQconnectdb", api], r.describe()
    reset = r.records[1]
    assert reset["outcome"] == "ok"
    assert reset["sslmode"] == "require" and reset["sslmode_source"] == "conninfo"
    assert reset["tls"]["peer"]["sha256"] == pg.server.sha256


@pytest.mark.parametrize("api", ["PQreset", "PQresetStart"])
def test_reset_of_a_forced_connection_says_so(pg, home, lib, api):
    """enforce: libpq reconnects with the options enforce gave the connection, so the
    reset's record carries the same `forced` as the original call's."""
    r = run_preloaded([PQCALL, api, pg.conninfo(sslmode="require")], home=home,
                      mode="enforce", env_extra={"PQTLS_BUNDLE": pg.ca_file})
    assert r.returncode == 0, r.describe()
    conn, reset = r.records
    want = {"from": {"sslmode": "require", "sslrootcert": None},
            "to": {"sslmode": "verify-full", "sslrootcert": pg.ca_file}}
    assert conn["forced"] == want and reset["forced"] == want, r.describe()
    assert reset["sslmode"] == "verify-full" and reset["outcome"] == "ok", r.describe()


def test_peer_names_in_record(pg, home, lib):
    """The record lists the server certificate's subjectAltNames in their order: DNS
    names as written, addresses as inet_ntop writes them (x509_ip_text)."""
    import ipaddress
    import socket
    sans = ["DNS:db.example.internal", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1",
            "DNS:*.example.internal", "IP:2001:DB8:0:0:0:0:0:5", "IP:::ffff:192.0.2.7"]
    pg.set_server_cert(pg.make_cert("db.example.internal", sans=sans))
    r = same_as_plain(pg, home, pqcall("PQconnectdb", pg.conninfo(sslmode="require")))
    def ntop(v):
        packed = ipaddress.ip_address(v).packed
        return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
    want = [v if k == "DNS" else ntop(v) for k, v in (x.split(":", 1) for x in sans)]
    assert want[2] == "::1" and want[4] == "2001:db8::5", want   # RFC 5952 forms
    assert r.record["tls"]["peer"]["san"] == want, r.describe()


def test_abandoned_nonblocking_connect(pg, home, lib):
    """PQconnectStart, then PQfinish before polling: one record, outcome abandoned."""
    r = same_as_plain(pg, home, pqcall("abandon", pg.conninfo()))
    rec = r.record
    assert rec["api"] == "PQconnectStart" and rec["outcome"] == "abandoned"


def test_invalid_conninfo(pg, home, lib):
    """libpq rejects the string before any connection: failed, libpq's message."""
    r = same_as_plain(pg, home, pqcall("PQconnectdb", "host=127.0.0.1 nosuchoption=1"))
    rec = r.record
    assert rec["outcome"] == "failed"
    assert 'invalid connection option "nosuchoption"' in rec["error"]


def test_multiple_hosts(pg, home, lib):
    """host=a,b: the record names the host connected to and lists them all."""
    conninfo = pg.conninfo(host="127.0.0.1,localhost", port="1,%d" % pg.port)
    r = same_as_plain(pg, home, pqcall("PQconnectdb", conninfo))
    rec = r.record
    assert rec["outcome"] == "ok"
    assert rec["hosts"] == ["127.0.0.1", "localhost"]
    assert rec["host"] == "localhost" and rec["port"] == str(pg.port)


def test_expand_dbname(pg, home, lib):
    """A connection string in dbname with expand_dbname on: its sslmode is given in the
    call; with expand_dbname off, it is a database name."""
    inner = "dbname=%s sslmode=require" % pg.dbname
    r = same_as_plain(pg, home, pqcall("PQconnectdbParams", "--expand", *params(
        pg, dbname=inner)))
    rec = r.record
    assert rec["outcome"] == "ok"
    assert rec["sslmode"] == "require" and rec["sslmode_source"] == "conninfo"
    assert rec["dbname"] == pg.dbname

    r = same_as_plain(pg, home, pqcall("PQconnectdbParams", *params(pg, dbname=inner)))
    rec = r.record
    assert rec["outcome"] == "failed" and rec["dbname"] == inner
    assert rec["sslmode"] == "prefer" and rec["sslmode_source"] == "default"


def test_library_has_no_link_time_libpq_or_openssl(lib):
    """ldd shows the C library only: a program that never connects pays nothing more."""
    import subprocess
    out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    needed = [line.split()[0] for line in out.splitlines() if "=>" in line]
    assert not [n for n in needed if not n.startswith(("libc.so", "libasan", "libubsan",
                                                         "libstdc++", "libm.so", "libgcc_s",
                                                         "libdl.so", "libpthread", "librt"))], out
    assert "libpq" not in out and "libssl" not in out and "libcrypto" not in out


def test_only_hooks_are_exported(lib):
    import subprocess
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                         text=True).stdout
    names = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    names = [n for n in names if not n.startswith(("__asan", "__ubsan", "__sanitizer", "__lsan"))]
    assert names == sorted([
        "PQcancelBlocking", "PQcancelCreate", "PQcancelFinish", "PQcancelPoll",
        "PQcancelStart",
        "PQconnectPoll", "PQconnectStart", "PQconnectStartParams", "PQconnectdb",
        "PQconnectdbParams", "PQfinish", "PQping", "PQpingParams", "PQreset", "PQresetPoll",
        "PQresetStart", "PQsetdbLogin", "SSL_connect", "dlopen", "dlsym"]), names


def test_program_without_libpq_is_untouched(lib, home):
    """A program that never uses libpq runs as before and leaves no record."""
    r = run_preloaded(["/bin/sh", "-c", "echo hello; exit 3"], home=home)
    assert r.returncode == 3 and r.stdout == "hello\n" and r.stderr == ""
    assert r.records == []
