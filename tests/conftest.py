"""Fixtures of the pqtls test suite.

    pg            session: one throwaway PostgreSQL server (tests/lib/pgserver.py)
    home          a fresh, empty HOME directory for each test (str)
    lib           absolute path of build/libpqtls.so (skips the test when missing)
    cli           absolute path of build/pqtls (skips the test when missing)
    tmpdir_path   a fresh scratch directory for each test (str)

Helpers live in tests/lib (on sys.path from here): `from harness import run_preloaded,
run_plain` and `from pgserver import SECRETS`.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

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
