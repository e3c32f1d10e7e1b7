"""The server chain of a handshake that fails, under every libpq's own OpenSSL
(src/lib/capture.c).

OpenSSL 3 keeps the peer chain in the SSL object when verification fails; OpenSSL 1.1.1
(which libpq 13, 14, 16, 17 and 18 of the embedded packages load) does not, so pqtls
takes the chain from libpq's verify callback instead. Either way a failed verification
must give the record a `failed_peer` that is the server's real certificate, and a dry-run
verdict judged on that chain (`method: chain`), with libpq behaving exactly as without
pqtls (its own verify callback still decides).

These run for every version of $PQTLS_LIBPQ_VERSIONS (make test-matrix: all six).
"""

import hashlib

import pytest

from harness import run_plain, run_preloaded
from pgserver import leaf_der


def _server_sha256(server):
    return hashlib.sha256(leaf_der(server.server_cert)).hexdigest()


# sslmode and root file that make libpq's verification fail against the test server:
# its certificate is signed by server.ca_file, never by server.wrong_ca_file.
FAILING = [
    ("verify-full", "wrong"),
    ("verify-ca", "wrong"),
    ("require", "wrong"),       # require with a root file verifies the chain (libpq 12+)
]


@pytest.mark.parametrize("sslmode,root", FAILING)
@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_failed_verification_keeps_the_chain(libpq, libpqs, home, sslmode, root, mode):
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode=sslmode, sslrootcert=server.wrong_ca_file,
                               host="localhost", hostaddr="127.0.0.1")
    helper = libpqs.helper(libpq)
    plain = run_plain([helper, "PQconnectdb", conninfo], home=home)
    assert plain.returncode == 1 and "certificate verify failed" in plain.stdout, \
        plain.describe()
    env = {"PQTLS_BUNDLE": server.ca_file, "PQTLS_CACHE_TTL": "0"} if mode == "dry-run" \
        else None
    r = run_preloaded([helper, "PQconnectdb", conninfo], home=home, mode=mode, env_extra=env)
    # libpq decided as without pqtls: the wrapper answered as libpq's own callback
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout), r.describe()
    assert len(r.records) == 1, r.describe()
    rec = r.record
    assert rec["outcome"] == "failed" and rec["tls"] is None, r.describe()
    assert rec["failed_peer"]["sha256"] == _server_sha256(server), r.describe()
    assert rec["failed_peer"]["subject"] == "CN=localhost", r.describe()
    if mode == "dry-run":
        dr = rec["dry_run"]
        # judged on the chain the program's own handshake received, not a side probe
        assert (dr["result"], dr["reason"], dr["method"]) == ("pass", "ok", "chain"), \
            r.describe()


def test_failed_verification_judged_on_the_chain_it_got(libpq, libpqs, home):
    """The chain kept is the one that failed: judged against the wrong CA as bundle it
    fails untrusted-ca, naming the server's issuer."""
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode="verify-full", sslrootcert=server.wrong_ca_file,
                               host="localhost", hostaddr="127.0.0.1")
    r = run_preloaded([libpqs.helper(libpq), "PQconnectdb", conninfo], home=home,
                      mode="dry-run", env_extra={"PQTLS_BUNDLE": server.wrong_ca_file,
                                                 "PQTLS_CACHE_TTL": "0"})
    dr = r.record["dry_run"]
    assert (dr["result"], dr["reason"], dr["method"]) == ("fail", "untrusted-ca", "chain"), \
        r.describe()
    assert r.record["failed_peer"]["issuer"] in dr["detail"], r.describe()


def test_successful_verification_unchanged(libpq, libpqs, home):
    """A handshake that verifies: the record's tls peer is the server's certificate,
    nothing in failed_peer, and the program's result is libpq's."""
    server = libpqs.server(libpq)
    conninfo = server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file,
                               host="localhost", hostaddr="127.0.0.1")
    r = run_preloaded([libpqs.helper(libpq), "PQconnectdb", conninfo], home=home,
                      mode="dry-run", env_extra={"PQTLS_BUNDLE": server.ca_file})
    assert r.returncode == 0 and r.stdout.startswith("status=ok ssl=1"), r.describe()
    rec = r.record
    assert rec["tls"]["peer"]["sha256"] == _server_sha256(server), r.describe()
    assert "failed_peer" not in rec, r.describe()
    assert rec["dry_run"]["method"] == "chain", r.describe()
