"""The settings matrix: for each way a program can set sslmode and sslrootcert, the
record's sslmode, sources, rootcert_file, rootcert_exists and verify, each checked
against what libpq really does.

`verify` is checked against reality by running the same case again, without pqtls,
with the root file's content swapped for an unrelated CA: a connection that verifies
(`ca`, `full`) must then lose TLS (fail, or fall back to plaintext under
allow/prefer); one that verifies nothing must still use TLS.
"""

import os
import shutil

import pytest

from harness import HELPERS_DIR, run_plain, run_preloaded

PQCALL = os.path.join(HELPERS_DIR, "pqcall")

# Where the case puts the root file: given as sslrootcert, in PGSSLROOTCERT, in a
# service file, or at the default ~/.postgresql/root.crt; or nowhere.
ROOT_GIVEN, ROOT_ENV, ROOT_SERVICE, ROOT_HOME, ROOT_NONE = (
    "given", "env", "service", "home", "none")

CASES = [
    # id, how the call is made, sslmode setting, root placement, expected mode and sources
    dict(id="kv-require", form="kv", mode=("conninfo", "require"), root=ROOT_NONE,
         want=("require", "conninfo", "default", "none")),
    dict(id="kv-verify-full", form="kv", mode=("conninfo", "verify-full"), root=ROOT_GIVEN,
         want=("verify-full", "conninfo", "conninfo", "full")),
    dict(id="kv-verify-ca-env-root", form="kv", mode=("conninfo", "verify-ca"), root=ROOT_ENV,
         want=("verify-ca", "conninfo", "env", "ca")),
    dict(id="kv-requiressl", form="kv", mode=("requiressl", "1"), root=ROOT_NONE,
         want=("require", "conninfo", "default", "none")),
    dict(id="uri-sslmode", form="uri", mode=("conninfo", "verify-ca"), root=ROOT_GIVEN,
         want=("verify-ca", "conninfo", "conninfo", "ca")),
    dict(id="uri-ssl-true", form="uri", mode=("ssl", "true"), root=ROOT_NONE,
         want=("require", "conninfo", "default", "none")),
    dict(id="params-require-home-root", form="params", mode=("conninfo", "require"),
         root=ROOT_HOME, want=("require", "conninfo", "default", "ca")),
    dict(id="params-expand-verify-full", form="params-expand", mode=("conninfo", "verify-full"),
         root=ROOT_GIVEN, want=("verify-full", "conninfo", "conninfo", "full")),
    dict(id="service-file", form="kv-service", mode=("service", "verify-ca"), root=ROOT_SERVICE,
         want=("verify-ca", "service", "service", "ca")),
    dict(id="pgservice-env", form="kv", mode=("pgservice", "require"), root=ROOT_NONE,
         want=("require", "service", "default", "none")),
    dict(id="pgsslmode-env", form="kv", mode=("env", "verify-ca"), root=ROOT_ENV,
         want=("verify-ca", "env", "env", "ca")),
    dict(id="pgrequiressl-env", form="kv", mode=("requiressl-env", "1"), root=ROOT_NONE,
         want=("require", "env", "default", "none")),
    dict(id="default-prefer-no-root", form="kv", mode=None, root=ROOT_NONE,
         want=("prefer", "default", "default", "none")),
    dict(id="default-prefer-home-root", form="kv", mode=None, root=ROOT_HOME,
         want=("prefer", "default", "default", "ca")),
    dict(id="allow-home-root", form="kv", mode=("conninfo", "allow"), root=ROOT_HOME,
         want=("allow", "conninfo", "default", "ca")),
    dict(id="disable-home-root", form="kv", mode=("conninfo", "disable"), root=ROOT_HOME,
         want=("disable", "conninfo", "default", "none")),
]


def build(pg, home, tmp, case, root_content):
    """argv and environment for one case, its root file holding root_content."""
    env = {}
    kw = {}
    service = {}
    root_path = os.path.join(tmp, "root.pem")
    if case["root"] != ROOT_NONE:
        if case["root"] == ROOT_HOME:
            root_path = os.path.join(home, ".postgresql", "root.crt")
            os.makedirs(os.path.dirname(root_path), exist_ok=True)
        shutil.copyfile(root_content, root_path)
    if case["root"] == ROOT_GIVEN:
        kw["sslrootcert"] = root_path
    elif case["root"] == ROOT_ENV:
        env["PGSSLROOTCERT"] = root_path
    elif case["root"] == ROOT_SERVICE:
        service["sslrootcert"] = root_path

    if case["mode"] is not None:
        how, value = case["mode"]
        if how == "conninfo":
            kw["sslmode"] = value
        elif how == "requiressl":
            kw["requiressl"] = value
        elif how == "ssl":
            kw["ssl"] = value
        elif how in ("service", "pgservice"):
            service["sslmode"] = value
        elif how == "env":
            env["PGSSLMODE"] = value
        elif how == "requiressl-env":
            env["PGREQUIRESSL"] = value
    host = "localhost" if kw.get("sslmode") == "verify-full" or \
        service.get("sslmode") == "verify-full" else "127.0.0.1"

    if service:
        path = os.path.join(tmp, "pg_service.conf")
        with open(path, "w") as f:
            f.write("# a service file\n[pqtls]\n")
            for k, v in service.items():
                f.write("%s=%s\n" % (k, v))
        env["PGSERVICEFILE"] = path
        if case["mode"] and case["mode"][0] == "pgservice":
            env["PGSERVICE"] = "pqtls"
        else:
            kw["service"] = "pqtls"

    base = {"host": host, "hostaddr": "127.0.0.1", "port": str(pg.port), "dbname": pg.dbname,
            "user": pg.user, "password": pg.password}
    base.update(kw)
    form = case["form"]
    if form.startswith("kv"):
        s = " ".join("%s='%s'" % (k, v) for k, v in base.items() if k != "ssl")
        return [PQCALL, "PQconnectdb", s], env, root_path
    if form == "uri":
        extra = "&".join("%s=%s" % (k, base[k]) for k in ("sslmode", "sslrootcert", "ssl")
                         if k in base)
        uri = "postgresql://%s:%s@%s:%s/%s?hostaddr=127.0.0.1%s" % (
            pg.user, pg.password, host, pg.port, pg.dbname, "&" + extra if extra else "")
        return [PQCALL, "PQconnectdb", uri], env, root_path
    if form == "params":
        return [PQCALL, "PQconnectdbParams"] + ["%s=%s" % kv for kv in base.items()], env, \
            root_path
    if form == "params-expand":
        inner = " ".join("%s=%s" % (k, base.pop(k)) for k in ("sslmode", "sslrootcert"))
        base["dbname"] = "dbname=%s %s" % (pg.dbname, inner)
        return [PQCALL, "PQconnectdbParams", "--expand"] + \
            ["%s=%s" % kv for kv in base.items()], env, root_path
    raise AssertionError(form)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_settings_matrix(pg, home, lib, tmpdir_path, case):
    argv, env, root_path = build(pg, home, tmpdir_path, case, pg.ca_file)
    r = run_preloaded(argv, env_extra=env, home=home)
    plain = run_plain(argv, env_extra=env, home=home)
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout), r.describe()
    rec = r.record
    sslmode, mode_source, root_source, verify = case["want"]
    assert rec["outcome"] == "ok", r.describe()
    assert rec["sslmode"] == sslmode
    assert rec["sslmode_source"] == mode_source
    assert rec["sslrootcert_source"] == root_source
    expected_file = root_path if case["root"] != ROOT_NONE else \
        os.path.join(home, ".postgresql", "root.crt")
    assert rec["rootcert_file"] == expected_file
    assert rec["rootcert_exists"] == (case["root"] != ROOT_NONE)
    assert rec["sslrootcert"] == (root_path if case["root"] in (ROOT_GIVEN, ROOT_ENV,
                                                                ROOT_SERVICE) else None)
    assert rec["verify"] == verify
    assert (rec["tls"] is not None) == (sslmode != "disable" and sslmode != "allow")

    # Reality: the same case with an unrelated CA in the root file.
    if case["root"] == ROOT_NONE:
        return
    argv, env, _ = build(pg, home, tmpdir_path, case, pg.wrong_ca_file)
    wrong = run_plain(argv, env_extra=env, home=home)
    used_tls = wrong.returncode == 0 and "ssl=1" in wrong.stdout
    if verify in ("ca", "full"):
        assert not used_tls, "verify=%s but a wrong CA did not stop TLS:\n%s" % (
            verify, wrong.describe())
    elif sslmode not in ("disable", "allow"):
        assert used_tls, "verify=none but a wrong CA stopped TLS:\n%s" % wrong.describe()


def test_require_with_wrong_home_root_fails(pg, home, lib):
    """require with a wrong CA in ~/.postgresql/root.crt: libpq verifies the chain and
    fails; the record says so (verify ca) and carries the server's certificate."""
    os.makedirs(os.path.join(home, ".postgresql"))
    shutil.copyfile(pg.wrong_ca_file, os.path.join(home, ".postgresql", "root.crt"))
    argv = [PQCALL, "PQconnectdb", pg.conninfo(sslmode="require")]
    r = run_preloaded(argv, home=home)
    assert r.returncode == 1 and "certificate verify failed" in r.stdout
    rec = r.record
    assert rec["outcome"] == "failed" and rec["verify"] == "ca"
    assert rec["rootcert_exists"] is True
    assert "certificate verify failed" in rec["error"]
    assert rec["failed_peer"]["sha256"] == pg.server.sha256


def test_prefer_with_wrong_home_root_falls_back_to_plaintext(pg, home, lib):
    """prefer with a wrong CA in root.crt: libpq silently retries without TLS. The
    record shows the connection succeeded without TLS, and the certificate that was
    refused."""
    os.makedirs(os.path.join(home, ".postgresql"))
    shutil.copyfile(pg.wrong_ca_file, os.path.join(home, ".postgresql", "root.crt"))
    r = run_preloaded([PQCALL, "PQconnectdb", pg.conninfo()], home=home)
    assert r.returncode == 0 and "ssl=0" in r.stdout, r.describe()
    rec = r.record
    assert rec["outcome"] == "ok" and rec["tls"] is None and rec["verify"] == "ca"
    assert rec["failed_peer"]["sha256"] == pg.server.sha256


def test_unix_socket_never_uses_tls(pg, home, lib):
    """Even verify-full: a Unix socket has no TLS, and libpq does not ask for it."""
    conninfo = "host=%s port=%d dbname=postgres user=postgres sslmode=verify-full" % (
        pg.socket_dir, pg.port)
    r = run_preloaded([PQCALL, "PQconnectdb", conninfo], home=home)
    assert r.returncode == 0, r.describe()
    rec = r.record
    assert rec["transport"] == "unix" and rec["verify"] == "none" and rec["tls"] is None
    assert rec["host"] == pg.socket_dir


def test_home_unset_uses_passwd_entry(pg, lib, tmpdir_path):
    """No HOME: libpq looks for root.crt under the passwd entry's home directory."""
    import pwd
    r = run_preloaded([PQCALL, "PQconnectdb", pg.conninfo()], home=tmpdir_path,
                      env_extra={"HOME": None})
    rec = r.record
    assert rec["rootcert_file"] == os.path.join(pwd.getpwuid(os.geteuid()).pw_dir,
                                                ".postgresql", "root.crt")
