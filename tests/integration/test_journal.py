"""PQTLS_LOG=journal against the real systemd-journald.

The test machine runs no journald of its own (and a test must not write into a host's
journal), so each test starts one: in a mount namespace of its own (unshare -m, root),
with tmpfs over /run/systemd, /run/log and /var/log/journal, the Debian binary
/lib/systemd/systemd-journald opens /run/systemd/journal/socket itself and keeps a
volatile journal that journalctl reads in the same namespace. A real libpq program runs
under `pqtls run --log journal`; `journalctl PQTLS_AFTER_ROTATION=breaks` must find it,
with every record field as a journal field, and `journalctl -o cat` feeds `pqtls report`.
(The protocol itself, the memfd for large records and the fallback are in
tests/unit/test_sink_journal.c against a socket the test listens on.)
"""

import json
import os
import shutil
import subprocess

import pytest

from harness import HELPERS_DIR, build_env, sanitizer_preload

PQCALL = os.path.join(HELPERS_DIR, "pqcall")
JOURNALD = next((p for p in ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
                 if os.access(p, os.X_OK)), None)

# $1: a file of NUL-separated argv to run with the journal up; then journalctl's
# output for each of the remaining arguments (a match), one file each: $2.N
SCRIPT = r'''
set -e
for d in /run/systemd /run/log /var/log/journal; do
    mkdir -p "$d"; mount -t tmpfs -o size=64m tmpfs "$d"
done
mkdir -p /run/systemd/journal
"$JOURNALD" &
jpid=$!
trap 'kill $jpid 2>/dev/null; wait $jpid 2>/dev/null || true' EXIT
i=0
while [ ! -S /run/systemd/journal/socket ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "journald did not start" >&2; exit 3; }
    sleep 0.1
done
xargs -0 -a "$1" sh -c '"$@" > "$OUT.stdout" 2> "$OUT.stderr"; echo $? > "$OUT.rc"' sh
journalctl --sync 2>/dev/null || sleep 1
journalctl --no-pager -o json PQTLS_AFTER_ROTATION=breaks > "$OUT.breaks"
journalctl --no-pager -o json PQTLS_AFTER_ROTATION=ready > "$OUT.ready"
journalctl --no-pager -t pqtls -o cat > "$OUT.cat"
'''


def _journal_run(tmpdir_path, argv, env):
    if os.geteuid() != 0:
        pytest.skip("a private journald needs root (mount namespace)")
    if JOURNALD is None or shutil.which("journalctl") is None:
        pytest.skip("systemd-journald is not installed")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace: " + probe.stderr.decode()[-200:])
    argfile = os.path.join(tmpdir_path, "argv")
    with open(argfile, "wb") as f:
        f.write(b"\0".join(os.fsencode(a) for a in argv))
    out = os.path.join(tmpdir_path, "out")
    env = dict(env, JOURNALD=JOURNALD, OUT=out)
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", SCRIPT,
                        "sh", argfile], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r

    def read(suffix):
        with open(out + "." + suffix) as f:
            return f.read()
    return {k: read(k) for k in ("rc", "stdout", "stderr", "breaks", "ready", "cat")}


def test_records_reach_journald_as_fields(cli, pg, home, lib, tmpdir_path):
    env = build_env(home, preload=False, env_extra={"LD_PRELOAD": sanitizer_preload()})
    breaking = pg.conninfo(sslmode="verify-ca", sslrootcert=pg.ca_file)
    argv = [cli, "run", "--log", "journal", "--new-ca", pg.wrong_ca_file, "--",
            PQCALL, "PQconnectdb", breaking]
    out = _journal_run(tmpdir_path, argv, env)
    assert out["rc"].strip() == "0" and out["stdout"] == "status=ok ssl=1\n", out
    assert "pqtls: " not in out["stderr"], out["stderr"]      # no fallback message

    entries = [json.loads(line) for line in out["breaks"].splitlines()]
    assert len(entries) == 1, out["breaks"]
    e = entries[0]
    record = json.loads(e["MESSAGE"])
    assert record["after_rotation"] == "breaks" and record["api"] == "PQconnectdb"
    assert e["SYSLOG_IDENTIFIER"] == "pqtls" and e["PRIORITY"] == "4"
    assert e["_TRANSPORT"] == "journal" and e["_PID"] == str(record["pid"])
    # every top-level field of the record, and the nested ones flattened
    assert e["PQTLS_AFTER_ROTATION"] == "breaks"
    assert e["PQTLS_SSLMODE"] == "verify-ca" and e["PQTLS_SSLMODE_SOURCE"] == "conninfo"
    assert e["PQTLS_SSLROOTCERT"] == pg.ca_file
    assert e["PQTLS_PORT"] == str(pg.port) and e["PQTLS_PID"] == str(record["pid"])
    assert e["PQTLS_EXE"] == record["exe"] and e["PQTLS_VERIFY"] == "ca"
    assert e["PQTLS_ROOTCERT_EXISTS"] == "true"
    assert e["PQTLS_TLS_PROTOCOL"] == record["tls"]["protocol"]
    assert e["PQTLS_TLS_PEER_SUBJECT"] == record["tls"]["peer"]["subject"]
    assert e["PQTLS_TLS_PEER_SHA256"] == record["tls"]["peer"]["sha256"]
    for k, v in record.items():
        if v is not None and not isinstance(v, (dict, list)):
            want = json.dumps(v) if isinstance(v, bool) else str(v)
            assert e.get("PQTLS_" + k.upper()) == want, k
    assert out["ready"].strip() == "", out["ready"]

    # journalctl -o cat gives the records back for pqtls report
    rep = subprocess.run([cli, "report", "--format", "json", "-"], input=out["cat"],
                         capture_output=True, text=True, timeout=60)
    assert rep.returncode == 1, rep     # something would break
    summary = json.loads(rep.stdout)
    assert summary["records"] == 1 and summary["malformed"] == 0, summary


def test_a_ready_connection_is_info(cli, pg, home, lib, tmpdir_path):
    env = build_env(home, preload=False, env_extra={"LD_PRELOAD": sanitizer_preload()})
    ready = pg.conninfo(sslmode="verify-ca", sslrootcert=pg.ca_file)
    argv = [cli, "run", "--quiet", "--log", "journal", "--new-ca", pg.ca_file, "--",
            PQCALL, "PQconnectdb", ready]
    out = _journal_run(tmpdir_path, argv, env)
    assert out["rc"].strip() == "0" and out["stderr"] == "", out
    assert out["breaks"].strip() == ""
    entries = [json.loads(line) for line in out["ready"].splitlines()]
    assert len(entries) == 1 and entries[0]["PRIORITY"] == "6", out["ready"]
    assert json.loads(entries[0]["MESSAGE"])["after_rotation"] == "ready"
