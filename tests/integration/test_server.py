"""The harness itself: the throwaway server behaves as the other tests assume.

No interposer here: plain psql against the server of tests/lib/pgserver.py.
"""

import os

from harness import install_root_crt, run_plain
from pgserver import SECRETS, USER_PASSWORD, WRONG_PASSWORD

PSQL = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]


def psql(conninfo, sql, home):
    return run_plain(PSQL + ["-c", sql, conninfo], home=home)


def verify_full(pg, ca, **kw):
    return pg.conninfo(sslmode="verify-full", sslrootcert=ca, host="localhost",
                       hostaddr="127.0.0.1", **kw)


def test_verify_full_over_tcp(pg, home):
    r = psql(verify_full(pg, pg.ca_file), "SELECT 1", home)
    assert r.returncode == 0, r.describe()
    assert r.stdout.strip() == "1", r.describe()

    sql = ("SELECT ssl, version, current_user, current_database() FROM pg_stat_ssl "
           "WHERE pid = pg_backend_pid()")
    r = psql(verify_full(pg, pg.ca_file), sql, home)
    assert r.returncode == 0, r.describe()
    ssl, version, user, db = r.stdout.strip().split("|")
    assert ssl == "t", r.describe()
    assert version.startswith("TLSv1."), r.describe()
    assert (user, db) == ("pqtls_user", "pqtls_db")


def test_wrong_ca_fails(pg, home):
    r = psql(pg.conninfo(sslmode="verify-ca", sslrootcert=pg.wrong_ca_file), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    assert "certificate verify failed" in r.stderr, r.describe()


def test_root_crt_in_home(pg, home):
    """Without sslrootcert, libpq reads ~/.postgresql/root.crt of the HOME we give."""
    r = psql(pg.conninfo(sslmode="verify-ca"), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    assert "root certificate file" in r.stderr and "does not exist" in r.stderr, r.describe()
    assert os.path.join(home, ".postgresql", "root.crt") in r.stderr, r.describe()

    install_root_crt(home, pg.ca_file)
    r = psql(pg.conninfo(sslmode="verify-ca"), "SELECT 1", home)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.describe()


def test_password_needed_over_tcp(pg, home):
    r = psql(pg.conninfo(password=WRONG_PASSWORD, sslmode="require"), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    assert "password authentication failed" in r.stderr, r.describe()
    r = psql(pg.conninfo(password=None, sslmode="require"), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    for text in (r.stdout, r.stderr):
        assert not any(s in text for s in SECRETS)


def test_plain_tcp_allowed(pg, home):
    r = psql(pg.conninfo(sslmode="disable"),
             "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", home)
    assert r.returncode == 0, r.describe()
    assert r.stdout.strip() == "f", r.describe()


def test_unix_socket(pg, home):
    ci = pg.conninfo(host=pg.socket_dir, password=None)
    r = psql(ci, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", home)
    assert r.returncode == 0, r.describe()
    assert r.stdout.strip() == "f", r.describe()
    # As the superuser, the way pg.psql goes.
    assert pg.psql("SELECT current_user") == "postgres"
    assert pg.psql("SELECT rolname FROM pg_roles WHERE rolname = 'pqtls_user'") == "pqtls_user"


def test_server_settings(pg):
    assert pg.psql("SHOW ssl") == "on"
    assert pg.psql("SHOW max_connections") == "200"
    assert pg.psql("SHOW listen_addresses") == ",".join(pg.listen)
    assert pg.psql("SHOW port") == str(pg.port)
    assert USER_PASSWORD in SECRETS and pg.password == USER_PASSWORD


def test_conninfo(pg):
    ci = pg.conninfo(sslmode="verify-full", password=None, application_name="a b'c")
    assert ci == ("host=127.0.0.1 port=%d dbname=pqtls_db user=pqtls_user sslmode=verify-full "
                  "application_name='a b\\'c'" % pg.port)


def test_rotate_server_cert(pg, home):
    new_ca = pg.make_ca("pqtls test rotated CA")
    new_cert = pg.make_cert("localhost", sans=["DNS:localhost", "IP:127.0.0.1"], issuer=new_ca)
    old_ok = psql(verify_full(pg, pg.ca_file), "SELECT 1", home)
    assert old_ok.returncode == 0, old_ok.describe()

    pg.set_server_cert(new_cert)
    assert pg.probe_peer_der() == new_cert.der

    r = psql(verify_full(pg, pg.ca_file), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    assert "certificate verify failed" in r.stderr, r.describe()

    r = psql(verify_full(pg, new_ca), "SELECT 1", home)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.describe()

    # A bundle with both CAs (what clients should hold across the rotation) passes too.
    both = pg.bundle(pg.ca, new_ca)
    r = psql(verify_full(pg, both), "SELECT 1", home)
    assert r.returncode == 0, r.describe()

    pg.restore_server_cert()
    r = psql(verify_full(pg, pg.ca_file), "SELECT 1", home)
    assert r.returncode == 0, r.describe()


def test_hostname_mismatch(pg, home):
    """A certificate for another name: verify-ca passes, verify-full does not."""
    other = pg.make_cert("db.example.com", sans=["DNS:db.example.com"])
    pg.set_server_cert(other)
    r = psql(pg.conninfo(sslmode="verify-ca", sslrootcert=pg.ca_file), "SELECT 1", home)
    assert r.returncode == 0, r.describe()
    r = psql(verify_full(pg, pg.ca_file), "SELECT 1", home)
    assert r.returncode != 0, r.describe()
    assert "does not match host name" in r.stderr, r.describe()
    # The autouse fixture restores the original certificate after this test.
