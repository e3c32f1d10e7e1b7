"""Real, unmodified libpq clients under the interposer.

Every case runs one client twice against the test server: once plainly and once with
LD_PRELOAD=libpqtls.so. The client must behave exactly the same (exit status, stdout and
stderr), and the preloaded run must leave exactly the expected records, with the fields of
SPEC.md "The record" right.

The clients (CLIENTS below) and how each reaches libpq:

    psql, pg_dump, pgbench     linked against libpq            PQconnectdbParams
    pg_isready                 linked against libpq            PQpingParams
    psycopg2                   dlopen()ed extension (RTLD_LOCAL) PQconnectdb
    psycopg 3 (pure Python)    ctypes: dlsym() on libpq's handle PQconnectStart + PQconnectPoll
    Perl DBD::Pg               dlopen()ed extension            PQconnectdb
    PHP pgsql (pg_connect)     dlopen()ed extension            PQconnectdb  (RTLD_DEEPBIND: src/lib/deepbind.c)
    Ruby pg 1.4                dlopen()ed extension            PQconnectStart + PQconnectPoll

The settings (SETTINGS below), each a set of connection parameters plus environment:

    verify-full   sslmode=verify-full sslrootcert=<CA> host=localhost hostaddr=127.0.0.1
    env-require   no sslmode in the connection string, PGSSLMODE=require in the environment
    wrong-ca      sslmode=verify-ca sslrootcert=<an unrelated CA>: the connection fails
    unix-socket   (psql only) host=<socket directory>, user postgres, no TLS
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest

import harness
from harness import run_plain, run_preloaded
from pgserver import conninfo_quote

# One query for every client that can run one: who we are and what TLS the server sees.
# Its answer ("pqtls_user true TLSv1.3") is compared with the record's tls.protocol.
SQL = ("SELECT current_user || ' ' || ssl || ' ' || coalesce(version, '-') "
       "FROM pg_stat_ssl WHERE pid = pg_backend_pid()")

TINY_SCHEMA = "pqtls_tiny"
PGBENCH_CLIENTS, PGBENCH_TX = 2, 5


class MissingRecords(AssertionError):
    """The preloaded run left fewer or more records than the client's connections."""


# --------------------------------------------------------------------------- clients

def conninfo(params):
    """A libpq key=value string from a dict (values quoted where needed)."""
    return " ".join("%s=%s" % (k, conninfo_quote(v)) for k, v in params.items())


def dbi_dsn(params):
    """A DBD::Pg data source: libpq keywords separated by ';' (user and password go to
    DBI->connect as arguments, the ordinary way)."""
    return "dbi:Pg:" + ";".join("%s=%s" % (k, v) for k, v in params.items()
                                if k not in ("user", "password"))


@dataclass
class Client:
    name: str                                   # the pytest id
    api: str                                    # the libpq function the record must name
    argv: Callable                              # (pg, params dict) -> argv
    records: int = 1                            # records of a successful run
    failed_records: int = 1                     # records of the wrong-ca run
    prints_query: bool = True                   # stdout is the answer to SQL
    stdout_filter: Optional[Callable] = None    # normalises what really varies run to run
    env: dict = field(default_factory=dict)     # extra environment, both runs
    env_sslmode_source: str = "env"             # sslmode_source when PGSSLMODE gives it
    marks: tuple = ()


def psql(pg, p):
    return [pg.bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", SQL, conninfo(p)]


def pg_isready(pg, p):
    return [pg.bin("pg_isready"), "-d", conninfo(p)]


def pgbench(pg, p):
    return [pg.bin("pgbench"), "-c", str(PGBENCH_CLIENTS), "-t", str(PGBENCH_TX), conninfo(p)]


def pg_dump(pg, p):
    # Since 15.14 a plain dump carries "\restrict KEY" lines with a random key; a fixed key
    # makes two dumps comparable without touching their text. No other line varies: the
    # "Started on"/"Completed on" timestamp comments only come with --verbose.
    return [pg.bin("pg_dump"), "--schema=" + TINY_SCHEMA, "--no-owner"] + \
        (["--restrict-key=pqtlstest"] if _pg_dump_has_restrict_key(pg) else []) + [conninfo(p)]


def psycopg2(pg, p):
    return [harness.PYTHON, "-c",
            "import sys, psycopg2\n"
            "conn = psycopg2.connect(sys.argv[1])\n"
            "cur = conn.cursor()\n"
            "cur.execute(sys.argv[2])\n"
            "print(cur.fetchone()[0])\n", conninfo(p), SQL]


def psycopg3(pg, p):
    return [harness.PYTHON, "-c",
            "import sys, psycopg\n"
            "assert psycopg.pq.__impl__ == 'python', psycopg.pq.__impl__\n"
            "conn = psycopg.connect(sys.argv[1])\n"
            "print(conn.execute(sys.argv[2]).fetchone()[0])\n", conninfo(p), SQL]


def perl_dbd_pg(pg, p):
    return ["perl", "-MDBI", "-e",
            "my $dbh = DBI->connect($ARGV[0], $ARGV[1], $ARGV[2],"
            " {RaiseError => 0, PrintError => 1, AutoCommit => 1}) or exit 1;"
            " print $dbh->selectrow_array($ARGV[3]), \"\\n\";",
            dbi_dsn(p), p.get("user", ""), p.get("password", ""), SQL]


def php_pgsql(pg, p):
    return ["php", "-r",
            "$conn = pg_connect($argv[1]); if (!$conn) exit(1);"
            " echo pg_fetch_result(pg_query($conn, $argv[2]), 0, 0), \"\\n\";",
            conninfo(p), SQL]


def ruby_pg(pg, p):
    return ["ruby", "-rpg", "-e",
            "conn = PG.connect(ARGV[0]); puts conn.exec(ARGV[1]).getvalue(0, 0)",
            conninfo(p), SQL]


_PGBENCH_TIMING = re.compile(r"^(latency average|latency stddev|initial connection time|tps) = ")


def pgbench_stdout(text):
    """pgbench's report without its timings (latency, connection time, tps)."""
    return "".join(line for line in text.splitlines(True) if not _PGBENCH_TIMING.match(line))


CLIENTS = [
    Client("psql", "PQconnectdbParams", psql),
    Client("pg_isready", "PQpingParams", pg_isready, prints_query=False),
    # pgbench opens one connection for its setup (vacuum) and then one per client; a
    # failing setup connection ends the run before any client connects.
    Client("pgbench", "PQconnectdbParams", pgbench, records=1 + PGBENCH_CLIENTS,
           prints_query=False, stdout_filter=pgbench_stdout),
    Client("pg_dump", "PQconnectdbParams", pg_dump, prints_query=False),
    Client("psycopg2", "PQconnectdb", psycopg2),
    # psycopg 3's pure-Python implementation (Debian's python3-psycopg) looks libpq's
    # functions up with ctypes (dlsym on libpq's handle) and connects with PQconnectStart
    # and PQconnectPoll, even for a blocking psycopg.connect().
    Client("psycopg3", "PQconnectStart", psycopg3, env={"PSYCOPG_IMPL": "python"}),
    Client("perl-DBD-Pg", "PQconnectdb", perl_dbd_pg),
    Client("php-pgsql", "PQconnectdb", php_pgsql),
    # Ruby pg 1.4 (PG::Connection.connect_to_hosts in pg/connection.rb) does not use
    # PQconnectStartParams: it merges PQconndefaults() into its options, resolves host
    # names into hostaddr itself, and hands the result to PQconnectStart as one string,
    # polled with PQconnectPoll. Because the defaults it merges include the PGSSLMODE of
    # the environment, libpq receives "sslmode=require" in the connection string itself:
    # source "conninfo" is what libpq really got.
    Client("ruby-pg", "PQconnectStart", ruby_pg, env_sslmode_source="conninfo"),
]


# --------------------------------------------------------------------------- settings

@dataclass
class Setting:
    name: str
    params: Callable        # pg -> connection parameters (dict)
    env: dict = field(default_factory=dict)
    ok: bool = True


def _base(pg, **kw):
    p = {"host": pg.host, "port": str(pg.port), "dbname": pg.dbname, "user": pg.user,
         "password": pg.password}
    for k, v in kw.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = os.fspath(v)
    return p


SETTINGS = {
    "verify-full": Setting("verify-full", lambda pg: _base(
        pg, host="localhost", hostaddr="127.0.0.1", sslmode="verify-full",
        sslrootcert=pg.ca_file)),
    "env-require": Setting("env-require", lambda pg: _base(pg), env={"PGSSLMODE": "require"}),
    "wrong-ca": Setting("wrong-ca", lambda pg: _base(
        pg, sslmode="verify-ca", sslrootcert=pg.wrong_ca_file), ok=False),
    "unix-socket": Setting("unix-socket", lambda pg: _base(
        pg, host=pg.socket_dir, user=pg.superuser, password=None)),
}

CASES = [pytest.param(c, SETTINGS[s], id="%s-%s" % (c.name, s), marks=c.marks)
         for c in CLIENTS for s in ("verify-full", "env-require", "wrong-ca")]
CASES.insert(1, pytest.param(CLIENTS[0], SETTINGS["unix-socket"], id="psql-unix-socket"))


# --------------------------------------------------------------------------- fixtures

_restrict_key = {}


def _pg_dump_has_restrict_key(pg):
    if pg.bindir not in _restrict_key:
        r = run_plain([pg.bin("pg_dump"), "--help"])
        _restrict_key[pg.bindir] = "--restrict-key" in r.stdout
    return _restrict_key[pg.bindir]


@pytest.fixture(scope="module")
def data(pg):
    """pgbench's tables (pgbench -i -s 1) and a tiny schema for pg_dump, made once as the
    test user over TCP, without the interposer."""
    home = harness.scratch_dir("home-")
    r = run_plain([pg.bin("pgbench"), "-i", "-s", "1", pg.conninfo()], home=home)
    assert r.returncode == 0, r.describe()
    r = run_plain([pg.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                   "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s;"
                   " CREATE TABLE %s.t (id int PRIMARY KEY, name text);"
                   " INSERT INTO %s.t VALUES (1, 'one'), (2, 'two');"
                   % ((TINY_SCHEMA,) * 4), pg.conninfo()], home=home)
    assert r.returncode == 0, r.describe()
    return pg


# --------------------------------------------------------------------------- the test

def expected_record(client, setting, pg, params, home):
    """The record fields this case must produce (tls and failed_peer checked apart)."""
    e = {"api": client.api, "port": str(pg.port), "user": params["user"],
         "dbname": params["dbname"], "host": params["host"]}
    if setting.name == "verify-full":
        e.update(transport="tcp", hostaddr="127.0.0.1", sslmode="verify-full",
                 sslmode_source="conninfo", sslrootcert=pg.ca_file,
                 sslrootcert_source="conninfo", rootcert_file=pg.ca_file,
                 rootcert_exists=True, verify="full", outcome="ok", error=None)
    elif setting.name == "env-require":
        # No root.crt in this HOME: require encrypts but checks nothing.
        e.update(transport="tcp", hostaddr="127.0.0.1", sslmode="require",
                 sslmode_source=client.env_sslmode_source, sslrootcert=None,
                 rootcert_file=os.path.join(home, ".postgresql", "root.crt"),
                 rootcert_exists=False, verify="none", outcome="ok", error=None)
    elif setting.name == "wrong-ca":
        e.update(transport="tcp", hostaddr="127.0.0.1", sslmode="verify-ca",
                 sslmode_source="conninfo", sslrootcert=pg.wrong_ca_file,
                 sslrootcert_source="conninfo", rootcert_file=pg.wrong_ca_file,
                 rootcert_exists=True, verify="ca", outcome="failed")
    elif setting.name == "unix-socket":
        # libpq's default sslmode (prefer) never tries TLS over a unix socket.
        e.update(transport="unix", hostaddr=None, sslmode="prefer", sslmode_source="default",
                 verify="none", outcome="ok", error=None, tls=None)
    return e


@pytest.mark.parametrize("client,setting", CASES)
def test_client(client, setting, data, home, lib):
    pg = data
    params = setting.params(pg)
    argv = client.argv(pg, params)
    env = dict(setting.env, **client.env)
    plain = run_plain(argv, env_extra=env, home=home)
    pre = run_preloaded(argv, env_extra=env, home=home)
    both = "==== without pqtls ====\n%s\n==== with pqtls ====\n%s" % (plain.describe(),
                                                                     pre.describe())

    # (a) The client behaves exactly as without pqtls.
    if setting.ok:
        assert plain.returncode == 0, both
    else:
        assert plain.returncode != 0, both
        if client.name != "pg_isready":     # pg_isready only says "no response"
            assert "certificate verify failed" in plain.stderr, both
    assert pre.returncode == plain.returncode, both
    if client.stdout_filter is not None:
        assert client.stdout_filter(pre.stdout) == client.stdout_filter(plain.stdout), both
    else:
        assert pre.stdout == plain.stdout, both
    assert pre.stderr == plain.stderr, both
    if client.name == "pgbench" and setting.ok:
        processed = "number of transactions actually processed: %d/%d" % (
            PGBENCH_CLIENTS * PGBENCH_TX, PGBENCH_CLIENTS * PGBENCH_TX)
        assert processed in plain.stdout and processed in pre.stdout, both
    pre.assert_no_secrets()

    # (b) Exactly the expected records, each right.
    want = client.records if setting.ok else client.failed_records
    if len(pre.records) != want:
        raise MissingRecords("expected %d record(s), got %d\n%s"
                             % (want, len(pre.records), pre.describe()))
    exe = os.path.realpath(shutil.which(argv[0], path="/usr/bin:/bin"))
    expected = expected_record(client, setting, pg, params, home)
    for rec in pre.records:
        got = {k: rec.get(k, "<missing>") for k in expected}
        assert got == expected, "record fields differ\n" + pre.describe()
        assert rec.get("exe") == exe, pre.describe()
        if setting.name == "unix-socket":
            continue
        if setting.ok:
            tls = rec.get("tls")
            assert isinstance(tls, dict), pre.describe()
            assert str(tls.get("protocol")).startswith("TLSv1"), pre.describe()
            assert tls.get("peer", {}).get("sha256") == pg.server.sha256, pre.describe()
            if client.prints_query:
                # The server's own view of this session agrees with the record.
                assert plain.stdout == "%s true %s\n" % (params["user"], tls["protocol"]), \
                    both
        else:
            assert rec.get("tls") is None, pre.describe()
            assert "certificate verify failed" in (rec.get("error") or ""), pre.describe()
            assert rec.get("failed_peer", {}).get("sha256") == pg.server.sha256, \
                pre.describe()
    if setting.name == "unix-socket":
        assert plain.stdout == "%s false -\n" % params["user"], both
