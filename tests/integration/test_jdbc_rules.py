"""pgjdbc's rules beyond the rehearsal's matrix, found by running Debian's pgjdbc 42.5.5
(doc/jdbc-rules.md): how it reads settings (URL against Properties, the environment,
spellings of ssl and sslmode), how it reads a root file (DER, text between PEM blocks,
an empty or a damaged file, a directory), where the default root file is (user.home, not
$HOME), how it matches host names, and that many threads and pools open connections
the same way. The server is on the old certificate; every case states what pgjdbc does,
and the test fails when it does something else."""

import os
import re

import pytest

import jdbc
from jdbcpki import HOST_APEX, HOST_DEEP, HOST_MATCH, HOST_OTHER, java, pki  # noqa: F401
from pgserver import USER_PASSWORD

PSQL = "org.postgresql.util.PSQLException: "


def ok(transport="tls"):
    return ("ok", transport)


def failed(message):
    """pgjdbc's exception: message is a regular expression (anchored at both ends)."""
    return ("failed", PSQL + message)


def no_root(path):
    return failed(re.escape("Could not open SSL root certificate file %s." % path))


# name: (way, host, settings (pki -> list of (k, v)), expected (pki -> ok()/failed()))
CASES = {
    # settings: where pgjdbc reads them
    "URL beats Properties (disable in the URL)": (
        "driver-props", HOST_MATCH,
        lambda p: [("url.sslmode", "disable"), ("sslmode", "verify-full"),
                   ("sslrootcert", p.files["missing"])],
        lambda p: ok("plain")),
    "URL beats Properties (verify-full in the URL)": (
        "driver-props", HOST_MATCH,
        lambda p: [("url.sslmode", "verify-full"), ("sslmode", "disable"),
                   ("sslrootcert", p.files["missing"])],
        lambda p: no_root(p.files["missing"])),
    "PGSSLMODE, PGSSLROOTCERT and PGSERVICE are ignored (prefer, no check)": (
        "driver-url", HOST_OTHER, lambda p: [], lambda p: ok()),
    # spellings
    "sslmode is case-insensitive": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "VERIFY-FULL"), ("sslrootcert", p.files["missing"])],
        lambda p: no_root(p.files["missing"])),
    "an unknown sslmode fails": (
        "driver-url", HOST_MATCH, lambda p: [("sslmode", "bogus")],
        lambda p: failed(re.escape("Invalid sslmode value: bogus"))),
    "an empty sslmode fails": (
        "driver-url", HOST_MATCH, lambda p: [("sslmode", "")],
        lambda p: failed(re.escape("Invalid sslmode value: "))),
    "ssl=TRUE is verify-full": (
        "driver-url", HOST_MATCH,
        lambda p: [("ssl", "TRUE"), ("sslrootcert", p.files["missing"])],
        lambda p: no_root(p.files["missing"])),
    "ssl with an empty value is verify-full": (
        "driver-url", HOST_MATCH,
        lambda p: [("ssl", ""), ("sslrootcert", p.files["missing"])],
        lambda p: no_root(p.files["missing"])),
    "ssl=1 is not true: prefer": (
        "driver-url", HOST_OTHER,
        lambda p: [("ssl", "1"), ("sslrootcert", p.files["missing"])], lambda p: ok()),
    "ssl=yes is not true: prefer": (
        "driver-url", HOST_OTHER,
        lambda p: [("ssl", "yes"), ("sslrootcert", p.files["missing"])], lambda p: ok()),
    "ssl=true with sslmode=disable: sslmode wins": (
        "datasource", HOST_MATCH,
        lambda p: [("ssl", "true"), ("sslmode", "disable")], lambda p: ok("plain")),
    "an unknown sslfactory fails": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "require"), ("sslfactory", "org.example.NoSuchFactory")],
        lambda p: failed(re.escape("The SSLSocketFactory class provided "
                                   "org.example.NoSuchFactory could not be instantiated."))),
    "disable never instantiates the sslfactory": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "disable"), ("sslfactory", "org.example.NoSuchFactory")],
        lambda p: ok("plain")),
    # the root file of LibPQFactory
    "a DER root file is read": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["der-old"])],
        lambda p: ok()),
    "text around and between PEM blocks is skipped": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["both-text"])],
        lambda p: ok()),
    "a file with no certificate fails to load": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "verify-ca"), ("sslrootcert", p.files["garbage"])],
        lambda p: failed(re.escape("Loading the SSL root certificate %s into a TrustManager "
                                   "failed." % p.files["garbage"]))),
    "an empty file loads, then the handshake fails": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "verify-ca"), ("sslrootcert", p.files["empty"])],
        lambda p: failed(re.escape(
            "SSL error: Unexpected error: java.security.InvalidAlgorithmParameterException: "
            "the trustAnchors parameter must be non-empty"))),
    "a directory cannot be opened": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "verify-ca"), ("sslrootcert", p.dir)],
        lambda p: no_root(p.dir)),
    "require never reads the root file (a damaged one is fine)": (
        "driver-url", HOST_MATCH,
        lambda p: [("sslmode", "require"), ("sslrootcert", p.files["garbage"])],
        lambda p: ok()),
    # host names (PGjdbcHostnameVerifier, verify-full only)
    "the host name is matched without regard to case": (
        "driver-url", HOST_MATCH.upper(),
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["old"])],
        lambda p: ok()),
    "a SAN naming the host itself": (
        "driver-url", HOST_APEX,
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["old"])],
        lambda p: ok()),
    "a wildcard covers one label only": (
        "driver-url", HOST_DEEP,
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["old"])],
        lambda p: failed(re.escape("The hostname %s could not be verified by "
                                   "hostnameverifier PgjdbcHostnameVerifier." % HOST_DEEP))),
    "an IP address needs an IP SAN": (
        "driver-url", "127.0.0.1",
        lambda p: [("sslmode", "verify-full"), ("sslrootcert", p.files["old"])],
        lambda p: failed(re.escape("The hostname 127.0.0.1 could not be verified by "
                                   "hostnameverifier PgjdbcHostnameVerifier."))),
    "verify-ca checks no host name": (
        "driver-url", "127.0.0.1",
        lambda p: [("sslmode", "verify-ca"), ("sslrootcert", p.files["old"])],
        lambda p: ok()),
}

# The variables a service's environment could carry: pgjdbc reads none of them.
LIBPQ_ENV = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/nonexistent/root.crt",
             "PGSERVICE": "nosuchservice", "PGSSLNEGOTIATION": "direct"}


def props_for(pki, home):
    return {"user.home": home, "jdk.net.hosts.file": pki.hosts_file}


@pytest.fixture(scope="module")
def case_results(pg, pki):
    pg.set_server_cert(pki.old_server)
    try:
        hosts = pki.hosts_file
        with open(hosts) as f:                   # the upper-case spelling resolves too
            line = f.read().strip()
        with open(hosts, "w") as f:
            f.write(line + " " + HOST_MATCH.upper() + "\n")
        entries = [jdbc.PlanEntry("c%d" % i, way, host, pg.port, pg.dbname, pg.user,
                                  tuple(settings(pki)))
                   for i, (way, host, settings, _) in enumerate(CASES.values())]
        r, results = jdbc.run_plan(entries, props_for(pki, pki.homes["empty"]),
                                   pki.homes["empty"], os.path.join(pki.dir, "plans"),
                                   USER_PASSWORD, env_extra=LIBPQ_ENV)
    finally:
        pg.restore_server_cert()
    return r, {name: results.get("c%d" % i) for i, name in enumerate(CASES)}


@pytest.mark.parametrize("name", list(CASES))
def test_pgjdbc_rule(case_results, pki, name):
    run, results = case_results
    way, host, settings, expected = CASES[name]
    outcome, what = expected(pki)
    got = results[name]
    assert got is not None, "no result for %r: %s" % (name, run.describe())
    if outcome == "ok":
        assert (got.outcome, got.transport) == ("ok", what), got.said
    else:
        assert got.outcome == "failed", got.said
        assert re.fullmatch(what, got.error or ""), got.said


def test_default_root_file_is_under_user_home_not_HOME(pg, pki):
    """LibPQFactory's default root file is System.getProperty("user.home") +
    "/.postgresql/root.crt"; the JDK takes user.home from the password database, so a
    HOME pointing elsewhere changes nothing."""
    import pwd
    pw_home = pwd.getpwuid(os.getuid()).pw_dir
    default = os.path.join(pw_home, ".postgresql", "root.crt")
    if os.path.exists(default):
        pytest.skip("%s exists on this machine: the case needs it absent" % default)
    pg.set_server_cert(pki.old_server)
    try:
        entries = [jdbc.PlanEntry("c0", "driver-url", HOST_MATCH, pg.port, pg.dbname, pg.user,
                                  (("sslmode", "verify-ca"),))]
        # HOME holds .postgresql/root.crt with the right CA; user.home is left alone
        r, results = jdbc.run_plan(entries, {"jdk.net.hosts.file": pki.hosts_file},
                                   pki.homes["old"], os.path.join(pki.dir, "plans"),
                                   USER_PASSWORD)
        got = results.get("c0")
        assert got is not None, r.describe()
        assert got.outcome == "failed" and got.error == PSQL + (
            "Could not open SSL root certificate file %s." % default), got.said
        # and with user.home set to the same directory, the file is found
        r, results = jdbc.run_plan(entries, props_for(pki, pki.homes["old"]),
                                   pki.homes["old"], os.path.join(pki.dir, "plans"),
                                   USER_PASSWORD)
        assert results["c0"].said == "ok (tls)", r.describe()
    finally:
        pg.restore_server_cert()


@pytest.mark.parametrize("way", ["driver-url", "driver-props", "datasource", "hikari"])
def test_many_threads(pg, pki, way):
    """16 threads opening connections at once (HikariCP: a pool of 16 filled by its own
    threads, borrowed from by 16 threads): every one succeeds, each counted once."""
    pg.set_server_cert(pki.old_server)
    try:
        argv = jdbc.java_argv("JdbcThreads", [way, HOST_MATCH, str(pg.port), pg.dbname, pg.user,
                                              "16", "3", "sslmode=verify-full",
                                              "sslrootcert=" + pki.files["both"]],
                              props_for(pki, pki.homes["empty"]))
        r = jdbc.harness.run_plain(argv, env_extra={"PQTLS_TEST_PASSWORD": USER_PASSWORD},
                                   home=pki.homes["empty"], timeout=180)
    finally:
        pg.restore_server_cert()
    want = "opened 16 tls 16 plain 0 failed 0" if way == "hikari" else \
        "opened 48 tls 48 plain 0 failed 0"
    assert r.returncode == 0 and r.stdout.splitlines()[0] == want, r.describe()
