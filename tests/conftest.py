"""Fixtures of the pqtls test suite.

    pg            session: one throwaway PostgreSQL server (tests/lib/pgserver.py)
    home          a fresh, empty HOME directory for each test (str)
    lib           absolute path of build/libpqtls.so (skips the test when missing)
    cli           absolute path of build/pqtls (skips the test when missing)
    tmpdir_path   a fresh scratch directory for each test (str)
    libpq         a libpq major (int): a test that takes this argument runs once per
                  version of the matrix ($PQTLS_LIBPQ_VERSIONS; tests/lib/embedded.py),
                  unless it parametrizes it itself; such tests are marked `matrix`
    libpqs        session: the versions' helpers, environments and servers, e.g.
                  libpqs.helper(libpq, "pqcall"), libpqs.env(libpq), libpqs.server(17)
                  (a started server of that major; 15 is the `pg` server); a version
                  that cannot be fetched FAILS the test with the npm command to run

Helpers live in tests/lib (on sys.path from here): `from harness import run_preloaded,
run_plain` and `from pgserver import SECRETS`.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import embedded  # noqa: E402
import harness  # noqa: E402
import pgserver  # noqa: E402
from harness import run_plain, run_preloaded  # noqa: E402,F401


@pytest.fixture(scope="session")
def pg(request):
    """One PostgreSQL server for the whole session; stopped at the end whatever
    happens."""
    server = pgserver.PgServer()
    request.addfinalizer(server.stop)
    server.start()
    return server


@pytest.fixture(autouse=True)
def _restore_server_cert(request):
    """A test that changed the server's certificate gets the original one back."""
    yield
    if "pg" in request.fixturenames:
        request.getfixturevalue("pg").restore_server_cert()


@pytest.fixture
def home():
    """A fresh, empty HOME for one test, so ~/.postgresql/root.crt is under control.
    (Under /tmp/pqtls-tests-*, removed when the session ends.)"""
    d = harness.scratch_dir("home-")
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def tmpdir_path():
    """A fresh scratch directory for one test (str), removed when the session ends."""
    return harness.scratch_dir("tmp-")


@pytest.fixture(scope="session")
def lib():
    """The interposer under test."""
    if not os.path.isfile(harness.LIB_PATH):
        pytest.skip("%s is missing: run `make` (or `make tests`) first" % harness.LIB_PATH)
    return harness.LIB_PATH


@pytest.fixture(scope="session")
def cli():
    """The pqtls command line under test."""
    if not os.path.isfile(harness.CLI_PATH):
        pytest.skip("%s is missing: run `make` (or `make tests`) first" % harness.CLI_PATH)
    return harness.CLI_PATH


# ----------------------------------------------------------------------------- libpq versions

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "matrix: runs once per libpq version of the matrix (make test-matrix: all)")


def pytest_generate_tests(metafunc):
    """A test that takes `libpq` without parametrizing it runs for every version of
    the matrix."""
    if "libpq" not in metafunc.fixturenames:
        return
    for m in metafunc.definition.iter_markers("parametrize"):
        names = m.args[0] if m.args else ""
        if "libpq" in ([n.strip() for n in names.split(",")] if isinstance(names, str)
                       else list(names)):
            return
    metafunc.parametrize("libpq", embedded.matrix_params())


def pytest_collection_modifyitems(config, items):
    for item in items:
        cs = getattr(item, "callspec", None)
        if cs is not None and "libpq" in cs.params:
            item.add_marker(pytest.mark.matrix)


class Libpqs:
    """The libpq versions of the matrix for tests (see tests/lib/embedded.py); every
    failure to fetch or build is a test failure with the command to run."""

    def __init__(self, request):
        self._request = request
        self._servers = {}

    @staticmethod
    def _get(fn, *args):
        try:
            return fn(*args)
        except embedded.Unavailable as e:
            pytest.fail(str(e), pytrace=False)

    def dir(self, major):
        return self._get(embedded.libpq_dir, major)

    def env(self, major):
        return self._get(embedded.libpq_env, major)

    def helper(self, major, name="pqcall"):
        return self._get(embedded.helper, major, name)

    def openssl(self, major):
        return self._get(embedded.openssl_version, major)

    def server(self, major):
        """A running server of this major for the rest of the session (15: `pg`)."""
        if major == embedded.SYSTEM_MAJOR:
            return self._request.getfixturevalue("pg")
        if major not in self._servers:
            server = self._get(embedded.server, major)
            self._request.addfinalizer(server.stop)
            server.start()
            self._servers[major] = server
        return self._servers[major]


@pytest.fixture(scope="session")
def libpqs(request):
    return Libpqs(request)
