"""A log file is the process's own, tried as a new user would (issue 12): another
local user (postgres, who runs the test server) creates /tmp/...jsonl mode 0666 in
advance, and root runs a real libpq program with `pqtls run --log` at it. The file is
refused with one message, the record goes to stderr, and the planted file stays empty.
Our own private file next to it receives the record. (Each case of the rule, the %p
file of a forked child and a file planted after deletion: tests/unit/test_sink_owner.c.)
"""

import json
import os
import pwd
import subprocess

import pytest

from harness import HELPERS_DIR, build_env, sanitizer_preload

PQCALL = os.path.join(HELPERS_DIR, "pqcall")


def _other_user():
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root")
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")


def _run(cli, home, log, conninfo):
    env = build_env(home, preload=False)
    if sanitizer_preload():             # make asan: the runtime the library needs, first
        env["LD_PRELOAD"] = sanitizer_preload()
    return subprocess.run([cli, "run", "--quiet", "--log", log, "--", PQCALL, "PQconnectdb",
                           conninfo], env=env, capture_output=True, text=True, timeout=60,
                          cwd=home)


def test_planted_world_writable_log_refused(cli, pg, home, lib):
    pw = _other_user()
    path = "/tmp/pqtls-planted-%d.jsonl" % os.getpid()
    if os.path.lexists(path):
        os.unlink(path)
    # the other user makes it, as they would: umask 0, mode 0666
    made = subprocess.run(["sh", "-c", "umask 0; : > \"$1\"", "sh", path],
                          user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], timeout=30)
    assert made.returncode == 0
    try:
        st = os.stat(path)
        assert st.st_uid == pw.pw_uid and st.st_mode & 0o777 == 0o666
        r = _run(cli, home, path, pg.conninfo())
        assert r.returncode == 0 and r.stdout == "status=ok ssl=1\n", r
        lines = r.stderr.splitlines()
        messages = [line for line in lines if line.startswith("pqtls: ")]
        assert len(messages) == 1, r.stderr
        assert "refusing" in messages[0] and path in messages[0], messages
        assert "belongs to uid %d" % pw.pw_uid in messages[0], messages
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert len(records) == 1 and records[0]["api"] == "PQconnectdb", r.stderr
        assert os.stat(path).st_size == 0
    finally:
        os.unlink(path)


def test_own_private_log_written(cli, pg, home, lib, tmpdir_path):
    path = os.path.join(tmpdir_path, "mine.jsonl")
    r = _run(cli, home, path, pg.conninfo())
    assert r.returncode == 0 and r.stderr == "", r
    st = os.stat(path)
    assert st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o600
    recs = [json.loads(line) for line in open(path)]
    assert len(recs) == 1 and recs[0]["api"] == "PQconnectdb"
    # made group-writable by mistake: refused from then on, records on stderr
    os.chmod(path, 0o660)
    r = _run(cli, home, path, pg.conninfo())
    assert r.returncode == 0 and "lets the group write" in r.stderr, r
    assert len(open(path).read().splitlines()) == 1
