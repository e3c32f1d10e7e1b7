"""No password in any form reaches a record or a message: password=, sslpassword=,
a URI's user:password@, PGPASSWORD, and strings libpq cannot even parse (whose error
messages quote parts of the input)."""

import os

import pytest

from harness import HELPERS_DIR, find_secrets, run_preloaded
from pgserver import SECRETS

PQCALL = os.path.join(HELPERS_DIR, "pqcall")


def no_secret_anywhere(r):
    for where, text in (("stdout", r.stdout), ("stderr", r.stderr),
                        ("records", r.log_text)):
        # The program's own output may echo what it was given; pqtls's may not.
        if where == "stdout":
            continue
        assert not find_secrets(text), "secret in %s:\n%s" % (where, r.describe())


def test_suite_secrets_are_real(pg):
    """The scan below is only worth something if the secrets are what the server uses."""
    assert pg.password in SECRETS and len(SECRETS) >= 3


@pytest.mark.parametrize("variant", ["kv", "uri", "sslpassword", "pgpassword", "wrong"])
def test_password_never_recorded(pg, home, lib, variant):
    env = {}
    if variant == "kv":
        conninfo = pg.conninfo()
    elif variant == "uri":
        conninfo = "postgresql://%s:%s@127.0.0.1:%d/%s" % (pg.user, pg.password, pg.port,
                                                           pg.dbname)
    elif variant == "sslpassword":
        conninfo = pg.conninfo(sslpassword=SECRETS[-1])
    elif variant == "pgpassword":
        conninfo = pg.conninfo(password=None)
        env["PGPASSWORD"] = pg.password
    else:
        conninfo = pg.conninfo(password=SECRETS[2])
    r = run_preloaded([PQCALL, "PQconnectdb", conninfo], env_extra=env, home=home,
                      check_secrets=False)
    assert len(r.records) == 1
    no_secret_anywhere(r)


@pytest.mark.parametrize("conninfo", [
    # libpq's parser quotes the offending part of these strings in its message.
    "host=127.0.0.1 password=%s nosuchoption",
    "host=127.0.0.1 password='%s",
    "postgresql://u:%s@127.0.0.1:notaport/db",
    "postgresql://u:%s@[::1/db",
], ids=["missing-equals", "unterminated-quote", "uri-bad-port", "uri-bad-ipv6"])
def test_unparseable_conninfo_leaks_nothing(pg, home, lib, conninfo):
    conninfo = conninfo % pg.password
    r = run_preloaded([PQCALL, "PQconnectdb", conninfo], home=home, check_secrets=False)
    rec = r.record
    assert rec["outcome"] == "failed" and rec["error"]
    no_secret_anywhere(r)
