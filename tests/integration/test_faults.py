"""Faults: whatever goes wrong around it, pqtls is never the reason a program fails,
hangs or slows down.

Each fault is run with a real client (build/tests/pqcall, psql, or Python's psycopg2)
twice, without pqtls and with it (observe, and dry-run with PQTLS_BUNDLE), and the
two runs must agree exactly: exit status, stdout, and stderr once pqtls's own
"pqtls: ..." lines (and records, where they go to stderr) are taken out. The record
must then say what happened.

Faults tried (see FAULTS_TRIED at the end, which counts them): the server down, a
server without TLS, a server answering the SSLRequest with garbage, a server that
accepts and never answers (timed against the probe bound), name resolution failing,
the log destination unusable in every way root can still be refused (a directory, a
path through a missing directory, EACCES under /sys, a write error under /proc,
/dev/full, a FIFO without reader, a symlink, a dangling symlink, a template too long,
the file deleted while in use), a bundle missing, empty, garbage, a directory, a
FIFO, corrupt, or 10 MB, HOME unset, empty or pointing nowhere, stdin, stdout or
stderr closed (and fd 2 reused by the program), and settings that are not numbers or
not a mode.
"""

import json
import os
import pwd
import re
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

from harness import (HELPERS_DIR, LIB_PATH, PYTHON, find_secrets, parse_records, run_plain,
                     run_preloaded, sanitizer_runtimes)
from pgserver import SECRETS, free_port

PQCALL = os.path.join(HELPERS_DIR, "pqcall")
PSQL = "/usr/bin/psql"

# Every run of this module, for the secret scan at the end.
_RUNS = []


# ---------------------------------------------------------------- comparing runs

def is_record_line(line):
    return line.startswith('{"ts":')


def pqtls_lines(stderr):
    """pqtls's one-line messages on stderr."""
    return [line for line in stderr.split("\n") if line.startswith("pqtls: ")]


def stderr_records(stderr):
    return [json.loads(line) for line in stderr.split("\n") if is_record_line(line)]


def program_stderr(stderr):
    """stderr without what pqtls wrote there (its messages and records)."""
    return "\n".join(line for line in stderr.split("\n")
                     if not line.startswith("pqtls: ") and not is_record_line(line))


def run(argv, mode="observe", **kw):
    """run_preloaded, remembered for the secret scan."""
    r = run_preloaded(argv, mode=mode, **kw)
    _RUNS.append(r)
    return r


def same_as_plain(argv, home, mode="observe", env_extra=None, plain_env=None, stdin=None,
                  timeout=60, messages=0):
    """Run argv without and with pqtls; assert the program's behaviour is identical
    and that pqtls said exactly `messages` "pqtls: ..." lines; return (plain, traced)."""
    plain = run_plain(argv, env_extra=plain_env if plain_env is not None else
                      {k: v for k, v in (env_extra or {}).items()
                       if not k.startswith("PQTLS_")},
                      home=home, stdin=stdin, timeout=timeout)
    traced = run(argv, mode=mode, env_extra=env_extra, home=home, stdin=stdin, timeout=timeout)
    assert traced.returncode == plain.returncode, traced.describe()
    assert traced.stdout == plain.stdout, "stdout differs:\n%s\n---- plain ----\n%s" % (
        traced.describe(), plain.stdout)
    assert program_stderr(traced.stderr) == plain.stderr, \
        "stderr differs:\n%s\n---- plain ----\n%s" % (traced.describe(), plain.stderr)
    if messages is not None:
        assert len(pqtls_lines(traced.stderr)) == messages, traced.describe()
    return plain, traced


def dry_env(pg, **kw):
    env = {"PQTLS_BUNDLE": pg.ca_file}
    env.update(kw)
    return env


# ---------------------------------------------------------------- fake servers

class FakeServer:
    """A listener on 127.0.0.1 that plays a broken PostgreSQL server.

    no-tls   reads the SSLRequest, answers 'N', reads the startup packet that follows
             and closes (so that the client sees a clean EOF, never a reset)
    garbage  reads the SSLRequest, answers 'X' and junk, closes
    silent   accepts and never says anything (connections held until stop)
    """

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()

    @staticmethod
    def _read_exactly(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def _serve(self, c):
        try:
            c.settimeout(5)
            if self.behaviour == "silent":
                return
            first = self._read_exactly(c, 8)
            if self.behaviour == "no-tls":
                c.sendall(b"N")
                head = self._read_exactly(c, 4)
                if len(head) == 4:
                    self._read_exactly(c, int.from_bytes(head, "big") - 4)
            elif self.behaviour == "garbage":
                if first:
                    c.sendall(b"X\x00\xff\xfegarbage\r\n" * 8)
                    time.sleep(0.05)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            if self.behaviour != "silent":
                c.close()

    def _loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.behaviour == "silent":
                self.held.append(c)
            else:
                threading.Thread(target=self._serve, args=(c,), daemon=True).start()


def fake_conninfo(port, **kw):
    parts = {"host": "127.0.0.1", "port": str(port), "dbname": "db", "user": "u",
             "password": SECRETS[0]}
    parts.update(kw)
    return " ".join("%s=%s" % (k, v) for k, v in parts.items() if v is not None)


# ---------------------------------------------------------------- the server end

@pytest.mark.parametrize("api", ["PQconnectdb", "PQconnectStart", "PQping"])
@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_server_down(pg, home, lib, api, mode):
    port = free_port()
    env = dry_env(pg) if mode == "dry-run" else None
    _, r = same_as_plain([PQCALL, api, fake_conninfo(port)], home, mode=mode, env_extra=env)
    rec = r.record
    assert rec["outcome"] == "failed" and "Connection refused" in rec["error"], r.describe()
    assert rec["port"] == str(port) and rec["tls"] is None
    if mode == "dry-run":
        assert rec["dry_run"]["result"] == "fail"
        assert rec["dry_run"]["reason"] == "unreachable" and rec["dry_run"]["method"] == "probe"


def test_server_down_psql(pg, home, lib):
    port = free_port()
    argv = [PSQL, "-X", "-c", "SELECT 1", fake_conninfo(port)]
    for mode, env in (("observe", None), ("dry-run", dry_env(pg))):
        _, r = same_as_plain(argv, home, mode=mode, env_extra=env)
        assert r.returncode == 2 and r.record["outcome"] == "failed"


@pytest.mark.parametrize("sslmode", ["prefer", "require"])
@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_server_without_tls(pg, home, lib, sslmode, mode):
    """The server answers the SSLRequest with 'N': prefer goes on in plaintext and meets
    EOF, require gives up; the probe says no-tls."""
    with FakeServer("no-tls") as fake:
        env = dry_env(pg) if mode == "dry-run" else None
        _, r = same_as_plain([PQCALL, "PQconnectdb", fake_conninfo(fake.port, sslmode=sslmode)],
                             home, mode=mode, env_extra=env)
    rec = r.record
    assert rec["outcome"] == "failed" and rec["tls"] is None and rec["sslmode"] == sslmode
    if sslmode == "require":
        assert "server does not support SSL" in rec["error"], r.describe()
    else:
        assert "server closed the connection unexpectedly" in rec["error"], r.describe()
    if mode == "dry-run":
        assert rec["dry_run"]["reason"] == "no-tls", r.describe()
        assert rec["dry_run"]["result"] == "fail" and rec["dry_run"]["method"] == "probe"


@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_server_answers_garbage(pg, home, lib, mode):
    with FakeServer("garbage") as fake:
        env = dry_env(pg) if mode == "dry-run" else None
        _, r = same_as_plain([PQCALL, "PQconnectdb", fake_conninfo(fake.port)], home,
                             mode=mode, env_extra=env)
        _, r2 = same_as_plain([PQCALL, "PQconnectStart", fake_conninfo(fake.port)], home,
                              mode=mode, env_extra=env)
    for rec in (r.record, r2.record):
        assert rec["outcome"] == "failed" and rec["tls"] is None
        assert "invalid response to SSL negotiation: X" in rec["error"], r.describe()
        if mode == "dry-run":
            assert rec["dry_run"]["reason"] == "handshake-failed", r.describe()


def _at_next_second(offset=0.05):
    """Sleep until just after the next whole second of the wall clock: libpq's
    connect_timeout counts whole seconds of time(), so a run started at a fixed
    fraction of a second always lasts as long."""
    now = time.time()
    time.sleep((1 - (now - int(now))) + offset)


def test_server_never_answers(pg, home, lib):
    """A server that accepts and stays silent: the client's own connect_timeout=2 ends
    it; dry-run's side probe is bounded by PQTLS_PROBE_TIMEOUT_MS=300 and adds no more
    than that (plus a margin) to the program's run time."""
    bound = 0.3
    with FakeServer("silent") as fake:
        argv = [PQCALL, "PQconnectdb", fake_conninfo(fake.port, connect_timeout="2")]
        _at_next_second()
        plain = run_plain(argv, home=home, timeout=30)
        _at_next_second()
        r = run(argv, mode="dry-run", home=home, timeout=30,
                env_extra=dry_env(pg, PQTLS_PROBE_TIMEOUT_MS="300"))
        # the program once in each run, and the probe once
        assert fake.accepted == 3, fake.accepted
    assert r.returncode == plain.returncode == 1 and r.stdout == plain.stdout, r.describe()
    assert r.stderr == plain.stderr == ""
    rec = r.record
    assert rec["outcome"] == "failed" and "timeout expired" in rec["error"], r.describe()
    assert rec["dry_run"]["reason"] == "timeout" and rec["dry_run"]["method"] == "probe"
    print("never answers: plain %.3fs, dry-run %.3fs" % (plain.duration, r.duration))
    assert plain.duration >= 1.9, plain.describe()
    # (the margin is for a loaded machine: both runs start at the same fraction of a
    # second, so libpq's own wait is the same in both)
    assert r.duration <= plain.duration + bound + 1.0, (r.duration, plain.duration)
    # and the probe did wait for its bound, not less: libpq gives up at 1.95s at the
    # earliest here, the probe only then starts
    assert r.duration >= 1.9 + bound, (r.duration, plain.duration)


@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_name_resolution_fails(pg, home, lib, mode):
    conninfo = fake_conninfo(5432, host="nonexistent.invalid")
    env = dry_env(pg) if mode == "dry-run" else None
    plain, r = same_as_plain([PQCALL, "PQconnectdb", conninfo], home, mode=mode, env_extra=env)
    rec = r.record
    assert rec["outcome"] == "failed" and rec["host"] == "nonexistent.invalid"
    assert "could not translate host name" in rec["error"]
    if mode == "dry-run":
        assert rec["dry_run"]["reason"] == "unreachable", r.describe()
    assert r.duration <= plain.duration + 2.0


# ---------------------------------------------------------------- the log destination

def _log_fault_paths(tmp):
    """(id, PQTLS_LOG value, what the message must say)"""
    d = os.path.join(tmp, "adir")
    os.mkdir(d)
    target = os.path.join(tmp, "target.jsonl")
    with open(target, "w") as f:
        f.write('{"kept": true}\n')
    link = os.path.join(tmp, "link.jsonl")
    os.symlink(target, link)
    dangling = os.path.join(tmp, "dangling.jsonl")
    os.symlink(os.path.join(tmp, "created-through-link.jsonl"), dangling)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    return [
        ("directory", d, "Is a directory"),
        ("missing-dir", os.path.join(tmp, "missing", "sub", "log.jsonl"), "No such file"),
        ("eacces-sys", "/sys/kernel/pqtls-test.jsonl", "Permission denied"),
        ("eio-proc", "/proc/version", "cannot write"),
        ("dev-full", "/dev/full", "No space left"),
        ("fifo-no-reader", fifo, "cannot open"),
        ("symlink", link, "symbolic link"),
        ("dangling-symlink", dangling, "symbolic link"),
        ("template-too-long", os.path.join(tmp, "%e" * 3000), "expands to more than"),
    ]


LOG_FAULT_IDS = ["directory", "missing-dir", "eacces-sys", "eio-proc", "dev-full",
                 "fifo-no-reader", "symlink", "dangling-symlink", "template-too-long"]


@pytest.mark.parametrize("fault", LOG_FAULT_IDS)
def test_log_destination_unusable(pg, home, lib, tmpdir_path, fault):
    """One message naming PQTLS_LOG and the problem; the records go to stderr instead
    (nothing lost); the program is unaffected; nothing written through a link."""
    cases = {c[0]: c for c in _log_fault_paths(tmpdir_path)}
    _, path, said = cases[fault]
    if fault == "eacces-sys" and not os.path.isdir("/sys/kernel"):
        pytest.skip("no sysfs here")
    # two connections, one message; PQTLS_LOG set by a shell in between, so that the
    # harness does not read /proc/version as a log
    argv = ["/bin/sh", "-c", 'PQTLS_LOG="$1"; shift; exec "$@"', "sh", path,
            PQCALL, "PQreset", fake_conninfo(free_port())]
    _, r = same_as_plain(argv, home, messages=1)
    msg = pqtls_lines(r.stderr)[0]
    assert "PQTLS_LOG" in msg and said in msg, r.describe()
    recs = stderr_records(r.stderr)
    assert [x["api"] for x in recs] == ["PQconnectdb", "PQreset"], r.describe()
    assert all(x["outcome"] == "failed" for x in recs)
    if fault == "symlink":
        with open(os.path.join(tmpdir_path, "target.jsonl")) as f:
            assert f.read() == '{"kept": true}\n'
    if fault == "dangling-symlink":
        assert not os.path.exists(os.path.join(tmpdir_path, "created-through-link.jsonl"))
    if fault == "eacces-sys":
        assert not os.path.exists(path)


def test_log_fault_in_dry_run_psql(pg, home, lib, tmpdir_path):
    """The same with psql in dry-run: /dev/full."""
    argv = [PSQL, "-X", "-A", "-t", "-c", "SELECT 42", pg.conninfo()]
    _, r = same_as_plain(argv, home, mode="dry-run",
                         env_extra=dry_env(pg, PQTLS_LOG="/dev/full"), messages=1)
    assert r.stdout == "42\n"
    assert stderr_records(r.stderr)[0]["dry_run"]["result"] == "pass"


def test_log_file_deleted_while_in_use(pg, home, lib, tmpdir_path):
    """psql connects, the file is deleted, psql connects again (twice): no crash, same
    output, and nothing lost: the sink notices the deletion and creates the file again
    on the same descriptor, so the path ends up holding the record of the last
    connection, whole."""
    log = os.path.join(tmpdir_path, "deleted.jsonl")
    script = ("SELECT 1 AS first;\n\\! rm -f %s\n\\c\nSELECT 2 AS second;\n"
              "\\! rm -f %s\n\\c\nSELECT 3 AS third;\n" % (log, log))
    argv = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-", pg.conninfo()]
    _, r = same_as_plain(argv, home, env_extra={"PQTLS_LOG": log}, stdin=script)
    assert r.returncode == 0 and r.stdout.split() == ["1", "2", "3"], r.describe()
    recs, _ = parse_records(log)
    assert len(recs) == 1 and recs[0]["outcome"] == "ok", recs


def test_log_file_mode_and_append(pg, home, lib, tmpdir_path):
    """Created 0600 whatever the umask; an existing file is appended to, its content and
    mode kept."""
    fresh = os.path.join(tmpdir_path, "fresh.jsonl")
    dead = fake_conninfo(free_port())
    old = os.umask(0)
    try:
        r = run([PQCALL, "PQconnectdb", dead], env_extra={"PQTLS_LOG": fresh}, home=home)
    finally:
        os.umask(old)
    assert r.returncode == 1 and len(r.records) == 1
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600

    existing = os.path.join(tmpdir_path, "existing.jsonl")
    with open(existing, "w") as f:
        f.write('{"earlier": 1}\n')
    os.chmod(existing, 0o640)
    for _ in range(2):
        r = run([PQCALL, "PQconnectdb", dead], env_extra={"PQTLS_LOG": existing}, home=home)
    assert r.records[0] == {"earlier": 1} and len(r.records) == 3, r.describe()
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640


# ---------------------------------------------------------------- the bundle

def _ten_mb_bundle(pg, path):
    with open(pg.ca_file) as f:
        pem = f.read().rstrip("\n") + "\n"
    with open(pg.wrong_ca_file) as f:
        wrong = f.read().rstrip("\n") + "\n"
    n = (10 * 1024 * 1024) // len(wrong) + 1
    with open(path, "w") as f:
        f.write(wrong * n)
        f.write(pem)
    assert os.path.getsize(path) >= 10 * 1024 * 1024
    return path


def _bundle_faults(pg, tmp):
    empty = os.path.join(tmp, "empty.pem")
    open(empty, "w").close()
    garbage = os.path.join(tmp, "garbage.pem")
    with open(garbage, "wb") as f:
        f.write(os.urandom(65536))
    corrupt = os.path.join(tmp, "corrupt.pem")
    with open(corrupt, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIB!!notbase64!!\n-----END CERTIFICATE-----\n"
                "-----BEGIN CERTIFICATE-----\n" + "QUFB" * 100 + "\n-----END CERTIFICATE-----\n"
                "-----BEGIN CERTIFICATE-----\nMIIB\n")
    fifo = os.path.join(tmp, "bundle.fifo")
    os.mkfifo(fifo)
    return {
        "missing": (os.path.join(tmp, "nope.pem"), "cannot read"),
        "empty": (empty, "holds no certificate"),
        "garbage": (garbage, "holds no certificate"),
        "corrupt": (corrupt, "holds no certificate"),
        "directory": (tmp, "not a regular file"),
        "fifo": (fifo, "not a regular file"),
    }


@pytest.mark.parametrize("fault", ["missing", "empty", "garbage", "corrupt", "directory",
                                   "fifo"])
def test_bundle_unusable(pg, home, lib, tmpdir_path, fault):
    """dry-run with a bundle that cannot be used: one message naming PQTLS_BUNDLE, the
    verdict bundle-unusable, the program unaffected (two connections, one message)."""
    path, said = _bundle_faults(pg, tmpdir_path)[fault]
    dead = fake_conninfo(free_port())
    _, r = same_as_plain([PQCALL, "PQreset", dead], home, mode="dry-run",
                         env_extra={"PQTLS_BUNDLE": path}, timeout=20, messages=1)
    msg = pqtls_lines(r.stderr)[0]
    assert "PQTLS_BUNDLE" in msg and said in msg, r.describe()
    assert len(r.records) == 2
    for rec in r.records:
        assert rec["outcome"] == "failed"
        assert rec["dry_run"]["result"] == "fail"
        assert rec["dry_run"]["reason"] == "bundle-unusable", r.describe()
    # observe never reads the bundle: nothing said
    same_as_plain([PQCALL, "PQconnectdb", dead], home, mode="observe",
                  env_extra={"PQTLS_BUNDLE": path}, messages=0)


def test_bundle_unusable_real_connection(pg, home, lib, tmpdir_path):
    """The same on a real TLS connection by psql (a garbage bundle)."""
    path, _ = _bundle_faults(pg, tmpdir_path)["garbage"]
    argv = [PSQL, "-X", "-A", "-t", "-c", "SELECT 1", pg.conninfo()]
    _, r = same_as_plain(argv, home, mode="dry-run", env_extra={"PQTLS_BUNDLE": path},
                         messages=1)
    rec = r.record
    assert rec["outcome"] == "ok" and rec["tls"] is not None
    assert rec["dry_run"]["reason"] == "bundle-unusable"


def _refused_trust_files(pg, tmp):
    """Files libpq's OpenSSL refuses as a root file although they hold the right CA:
    {kind: (path, words of the hint)}."""
    with open(pg.ca_file) as f:
        ca = f.read().strip() + "\n"
    with open(pg.wrong_ca_file) as f:
        lines = f.read().strip().splitlines(True)
    damaged = os.path.join(tmp, "damaged.pem")
    with open(damaged, "w") as f:
        f.write(ca + "".join(lines[:3] + lines[6:]) + "\n")
    der = os.path.join(tmp, "ca.der")
    with open(der, "wb") as f:
        f.write(ssl.PEM_cert_to_DER_cert(ca))
    return {"damaged": (damaged, "damaged"), "der": (der, "DER")}


@pytest.mark.parametrize("kind", ["damaged", "der"])
def test_trust_file_libpq_refuses(pg, home, lib, tmpdir_path, kind):
    """A bundle holding the server's CA that libpq's OpenSSL refuses (one damaged block, or
    DER): dry-run says fail/bundle-unusable with OpenSSL's reason (the one psql prints) and
    one message naming PQTLS_BUNDLE; the program is unaffected; enforce fails as psql with
    the file as sslrootcert fails. As PQTLS_NEW_CA: one message, no after_rotation."""
    path, hint = _refused_trust_files(pg, tmpdir_path)[kind]
    argv = [PSQL, "-X", "-A", "-t", "-c", "SELECT 1", pg.conninfo(sslmode="require")]
    ref = run_plain([PSQL, "-X", "-A", "-t", "-c", "SELECT 1",
                     pg.conninfo(sslmode="verify-full", sslrootcert=path)], home=home)
    assert ref.returncode != 0 and "could not read root certificate file" in ref.stderr
    reason = ref.stderr.strip().rsplit(": ", 1)[-1]

    _, r = same_as_plain(argv, home, mode="dry-run", env_extra={"PQTLS_BUNDLE": path},
                         messages=1)
    msg = pqtls_lines(r.stderr)[0]
    assert "PQTLS_BUNDLE" in msg and reason in msg and hint in msg, r.describe()
    dr = r.record["dry_run"]
    assert (dr["result"], dr["reason"]) == ("fail", "bundle-unusable"), r.describe()
    assert "SSL_CTX_load_verify_locations): " + reason in dr["detail"], r.describe()

    e = run(argv, mode="enforce", env_extra={"PQTLS_BUNDLE": path}, home=home)
    assert e.returncode == ref.returncode and "could not read root certificate file" in e.stderr
    assert e.record["outcome"] == "failed" and e.record["dry_run"]["result"] == "fail"

    _, n = same_as_plain(argv, home, mode="observe", env_extra={"PQTLS_NEW_CA": path},
                         messages=1)
    assert "PQTLS_NEW_CA" in pqtls_lines(n.stderr)[0] and "after_rotation" not in n.record


def test_bundle_ten_megabytes(pg, home, lib, tmpdir_path):
    """10 MB of PEM (thousands of certificates, the right CA last): dry-run still judges,
    and in a reasonable time."""
    big = _ten_mb_bundle(pg, os.path.join(tmpdir_path, "big.pem"))
    argv = [PQCALL, "PQreset", pg.conninfo(sslmode="require")]
    plain, r = same_as_plain(argv, home, mode="dry-run", env_extra={"PQTLS_BUNDLE": big},
                             timeout=30)
    assert len(r.records) == 2
    for rec in r.records:
        assert rec["dry_run"]["result"] == "pass", r.describe()
        assert rec["dry_run"]["reason"] == "ok"
    if sanitizer_runtimes(LIB_PATH):
        pytest.skip("the time bound (5 s over the plain run for a 10 MB bundle) is about pqtls's "
                    "index; under `make asan` every read of the bundle is instrumented (6.4 s "
                    "seen on a loaded machine), so only the verdicts were checked")
    assert r.duration < plain.duration + 5.0, (r.duration, plain.duration)


# ---------------------------------------------------------------- the environment

@pytest.mark.parametrize("home_value,mode", [(None, "observe"), (None, "dry-run"),
                                            ("", "observe"), ("/nonexistent-home-pqtls",
                                                              "observe")],
                         ids=["unset", "unset-dry-run", "empty", "nowhere"])
def test_home_unset(pg, home, lib, home_value, mode):
    """No usable HOME: libpq falls back to the passwd entry (or uses what it is given);
    the record's rootcert_file is the file libpq itself names in its error."""
    env = {"HOME": home_value}
    if mode == "dry-run":
        env.update(dry_env(pg))
    # verify-ca without sslrootcert: libpq names the root file it looked for
    argv = [PQCALL, "PQconnectdb", pg.conninfo(sslmode="verify-ca")]
    plain, r = same_as_plain(argv, home, mode=mode, env_extra=env)
    m = re.search(r'root certificate file "([^"]+)" does not exist', plain.stdout)
    if m is None:
        pytest.skip("libpq found a root file: %s" % plain.stdout)
    rec = r.record
    assert rec["rootcert_file"] == m.group(1), r.describe()
    if home_value in (None, ""):
        want = os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".postgresql", "root.crt")
        assert rec["rootcert_file"] == want
    assert rec["rootcert_exists"] is False and rec["outcome"] == "failed"
    if home_value is None:
        # a real connection works as before
        same_as_plain([PQCALL, "PQconnectdb", pg.conninfo()], home, mode=mode, env_extra=env)


_FD_PROBE = r"""
import os, sys
fd2 = None
if sys.argv[1] != "-":
    fd2 = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if fd2 != 2:
        os.dup2(fd2, 2)
        os.close(fd2)
import psycopg2
out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
for conninfo in sys.argv[3:]:
    try:
        psycopg2.connect(conninfo).close()
        os.write(out, b"ok\n")
    except psycopg2.Error as e:
        os.write(out, ("error %s\n" % str(e).splitlines()[0]).encode())
nxt = os.open("/dev/null", os.O_RDONLY)
os.write(out, ("next_fd=%d\n" % nxt).encode())
"""


@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_stderr_closed_and_fd2_reused(pg, home, lib, tmpdir_path, mode):
    """A program started with fd 2 closed that then opens a data file on fd 2: not one
    byte of pqtls (records or messages, here with a bad PQTLS_MODE... and PQTLS_LOG=
    stderr) may land in it."""
    script = os.path.join(tmpdir_path, "fdprobe.py")
    with open(script, "w") as f:
        f.write(_FD_PROBE)
    results = {}
    dead = pg.conninfo(port=free_port())
    for label, preload in (("plain", False), ("traced", True)):
        data = os.path.join(tmpdir_path, "data-%s-%s" % (mode, label))
        out = os.path.join(tmpdir_path, "out-%s-%s" % (mode, label))
        argv = ["/bin/sh", "-c", 'exec 2>&-; exec "$@"', "sh", PYTHON, script, data, out,
                pg.conninfo(), dead]
        env = {"PQTLS_LOG": "stderr", "PQTLS_PROBE_TIMEOUT_MS": "abc"}
        if mode == "dry-run":
            env["PQTLS_BUNDLE"] = pg.ca_file
        r = run(argv, mode=mode, env_extra=env, home=home) if preload else \
            run_plain(argv, home=home)
        with open(data, "rb") as f:
            written = f.read()
        with open(out) as f:
            results[label] = (r.returncode, f.read(), written)
        assert written == b"", "pqtls wrote into the program's fd 2 file: %r" % written
    assert results["plain"] == results["traced"], results
    assert results["plain"][1].startswith("ok\nerror ")


@pytest.mark.parametrize("closed,mode", [("stdin", "observe"), ("stdout", "observe"),
                                         ("stderr", "observe"), ("all", "observe"),
                                         ("all", "dry-run")])
def test_stdio_closed(pg, home, lib, tmpdir_path, closed, mode):
    """pqcall run with stdin, stdout or stderr closed: same exit status as without
    pqtls, records still in the log file; with stderr closed and PQTLS_LOG=stderr no
    record is written anywhere (and the connection, whose socket may then be fd 2, is
    not disturbed)."""
    redir = {"stdin": "exec 0<&-", "stdout": "exec 1>&-", "stderr": "exec 2>&-",
             "all": "exec 0<&- 1>&- 2>&-"}[closed]
    env = dry_env(pg) if mode == "dry-run" else {}
    dead = pg.conninfo(port=free_port())
    for conninfo, want in ((pg.conninfo(), 0), (dead, 1)):
        argv = ["/bin/sh", "-c", redir + '; exec "$@"', "sh", PQCALL, "PQreset", conninfo]
        plain = run_plain(argv, home=home)
        r = run(argv, mode=mode, env_extra=env, home=home)
        assert r.returncode == plain.returncode, r.describe()
        if closed not in ("stdout", "all"):
            # (with fd 1 closed the socket takes it, and the report dies of SIGPIPE,
            # with or without pqtls)
            assert r.returncode == want, r.describe()
        assert r.stdout == plain.stdout and program_stderr(r.stderr) == plain.stderr
        assert [x["api"] for x in r.records] == ["PQconnectdb", "PQreset"], r.describe()


@pytest.mark.parametrize("closed,mode", [("stderr", "observe"), ("all", "observe"),
                                         ("all", "dry-run")])
def test_stdio_closed_psql(pg, home, lib, closed, mode):
    """psql with fd 2 closed: its libpq socket becomes fd 2; a record written to
    "stderr" would go to the server and break the query that follows."""
    redir = {"stderr": "exec 2>&-", "all": "exec 0<&- 2>&-"}[closed]
    env = dry_env(pg) if mode == "dry-run" else {}
    argv = ["/bin/sh", "-c", redir + '; exec "$@"', "sh", PSQL,
            "-X", "-A", "-t", "-c", "SELECT 6*7", pg.conninfo()]
    plain = run_plain(argv, home=home)
    env2 = dict(env, PQTLS_LOG="stderr", PQTLS_MODE="bogus-mode")
    r = run(argv, mode=None, env_extra=env2, home=home)
    assert r.returncode == plain.returncode and r.stdout == plain.stdout, r.describe()
    if closed == "stderr":
        assert r.stdout == "42\n"


# ---------------------------------------------------------------- bad settings

BAD_SETTINGS = [
    ("PQTLS_PROBE_TIMEOUT_MS", "abc"),
    ("PQTLS_PROBE_TIMEOUT_MS", "0"),
    ("PQTLS_PROBE_TIMEOUT_MS", "-300"),
    ("PQTLS_PROBE_TIMEOUT_MS", " 300"),
    ("PQTLS_PROBE_TIMEOUT_MS", "300ms"),
    ("PQTLS_PROBE_TIMEOUT_MS", "0x12c"),
    ("PQTLS_PROBE_TIMEOUT_MS", "1e3"),
    ("PQTLS_PROBE_TIMEOUT_MS", "99999999999999999999999999"),
    ("PQTLS_PROBE_TIMEOUT_MS", "3\n00"),
    ("PQTLS_CACHE_TTL", "-1"),
    ("PQTLS_CACHE_TTL", "abc"),
    ("PQTLS_CACHE_TTL", "18446744073709551617"),
    ("PQTLS_CACHE_TTL", "\xe9\x01"),
    ("PQTLS_MODE", "bogus"),
    ("PQTLS_MODE", "DRY-RUN"),
    ("PQTLS_MODE", "observe "),
    ("PQTLS_MODE", "enforce\nobserve"),
]


BAD_SETTING_CASES = [(v, x, m) for v, x in BAD_SETTINGS
                     for m in (["observe"] if v == "PQTLS_MODE" else ["observe", "dry-run"])]


@pytest.mark.parametrize("var,value,mode", BAD_SETTING_CASES,
                         ids=["%s=%r-%s" % c for c in BAD_SETTING_CASES])
def test_bad_setting(pg, home, lib, var, value, mode):
    """Exactly one message naming the variable (two connections in the process), the
    program unaffected, records written (with the default in force)."""
    env = dry_env(pg) if mode == "dry-run" else {}
    if var == "PQTLS_MODE":
        mode = value
    else:
        env[var] = value
    _, r = same_as_plain([PQCALL, "PQreset", fake_conninfo(free_port())], home, mode=mode,
                         env_extra=env, messages=1)
    msg = pqtls_lines(r.stderr)[0]
    assert var in msg, r.describe()
    assert len(r.records) == 2 and all(x["outcome"] == "failed" for x in r.records)
    if var == "PQTLS_MODE":
        assert all(x["mode"] == "observe" for x in r.records)
        assert "observe" in msg
    elif mode == "dry-run":
        assert all(x["dry_run"]["reason"] == "unreachable" for x in r.records), r.describe()


def test_bad_settings_together_real_connection(pg, home, lib):
    """psql, two real connections, every kind of bad value at once: one message per
    variable, the rehearsal still done with the defaults."""
    env = dry_env(pg, PQTLS_PROBE_TIMEOUT_MS="abc", PQTLS_CACHE_TTL="-1")
    script = "SELECT 1;\n\\c\nSELECT 2;\n"
    argv = [PSQL, "-X", "-q", "-A", "-t", "-f", "-", pg.conninfo()]
    _, r = same_as_plain(argv, home, mode="dry-run", env_extra=env, stdin=script, messages=2)
    msgs = pqtls_lines(r.stderr)
    assert any("PQTLS_PROBE_TIMEOUT_MS" in m for m in msgs)
    assert any("PQTLS_CACHE_TTL" in m for m in msgs)
    assert r.stdout == "1\n2\n" and len(r.records) == 2
    assert all(x["dry_run"]["result"] == "pass" for x in r.records)
    _, r = same_as_plain(argv, home, mode="nonsense", env_extra=env, stdin=script, messages=3)
    assert all(x["mode"] == "observe" for x in r.records)


# ---------------------------------------------------------------- setuid and setgid

def _setgid_fixture(tmpdir_path):
    """A directory the postgres user can enter, holding a copy of the interposer,
    pqcall linked at build time with it (absolute RUNPATH, which the loader
    honours in secure mode), and a plain pqcall."""
    import shutil
    from harness import REPO
    if os.geteuid() != 0:
        pytest.skip("making a setgid-root program needs root")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run the setgid program as")
    if sanitizer_runtimes(LIB_PATH):
        pytest.skip("under `make asan` libpqtls.so needs libasan loaded first, and a setgid "
                    "program runs in secure mode, where the loader drops LD_PRELOAD entries "
                    "with a slash: the runtime cannot be put in front of it")
    os.chmod(tmpdir_path, 0o711)        # the postgres user must reach d
    d = os.path.join(tmpdir_path, "sgid")
    os.mkdir(d)
    os.chmod(d, 0o755)      # (the setgid process has group root, not postgres)
    shutil.copyfile(LIB_PATH, os.path.join(d, "libpqtls.so"))
    os.chmod(os.path.join(d, "libpqtls.so"), 0o755)
    cc = subprocess.run(
        ["cc", "-o", os.path.join(d, "linked"), os.path.join(REPO, "tests/helpers/pqcall.c"),
         "-I/usr/include/postgresql", "-L" + d, "-Wl,--no-as-needed", "-lpqtls", "-lpq",
         "-Wl,-rpath," + d], capture_output=True, text=True, timeout=120)
    if cc.returncode != 0:
        pytest.skip("cannot build the linked helper: " + cc.stderr[-500:])
    shutil.copyfile(PQCALL, os.path.join(d, "pqcall"))
    logs = os.path.join(d, "logs")
    os.mkdir(logs)
    os.chmod(logs, 0o777)
    return d, logs, pw


def _run_as(pw, argv, env):
    return subprocess.run(argv, env=env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          capture_output=True, text=True, timeout=60, cwd="/")


def test_setgid_program_ignores_settings(pg, lib, tmpdir_path):
    """A setgid program (secure mode: AT_SECURE) that has pqtls linked in reads no
    PQTLS_* setting: they are read with secure_getenv, so whoever runs it cannot make
    it write a file of their choosing (PQTLS_LOG) or change its connections
    (PQTLS_MODE=enforce). It runs in observe with records on stderr. The same program
    without the setgid bit honours them."""
    d, logs, pw = _setgid_fixture(tmpdir_path)
    prog = os.path.join(d, "linked")
    dead = "host=127.0.0.1 port=%d connect_timeout=5" % free_port()
    try:
        out = {}
        for setgid in (True, False):
            os.chmod(prog, 0o2755 if setgid else 0o755)
            log = os.path.join(logs, "linked-%d.jsonl" % setgid)
            env = {"PATH": "/usr/bin:/bin", "HOME": d, "PQTLS_LOG": log,
                   "PQTLS_MODE": "enforce", "PQTLS_BUNDLE": "/nonexistent.pem",
                   "PQTLS_PROBE_TIMEOUT_MS": "abc"}
            r = _run_as(pw, [prog, "PQconnectdb", dead], env)
            out[setgid] = (r, os.path.exists(log))
    finally:
        os.chmod(prog, 0o755)
    r, created = out[True]
    assert r.returncode == 1 and "Connection refused" in r.stdout, r
    assert not created, "a setgid program wrote to PQTLS_LOG"
    recs = stderr_records(r.stderr)
    assert len(recs) == 1 and recs[0]["mode"] == "observe" and "forced" not in recs[0], r
    assert pqtls_lines(r.stderr) == [], r.stderr        # nothing read, nothing to say
    r, created = out[False]
    assert created and r.returncode == 1
    assert any("PQTLS_PROBE_TIMEOUT_MS" in m for m in pqtls_lines(r.stderr)), r.stderr


def test_setgid_program_drops_ld_preload(pg, lib, tmpdir_path):
    """The loader ignores an LD_PRELOAD path with a '/' for a setgid program: pqtls is
    simply not there (no record), and the program works as without it."""
    d, logs, pw = _setgid_fixture(tmpdir_path)
    prog = os.path.join(d, "pqcall")
    dead = "host=127.0.0.1 port=%d connect_timeout=5" % free_port()
    try:
        res = {}
        for setgid in (True, False):
            os.chmod(prog, 0o2755 if setgid else 0o755)
            log = os.path.join(logs, "preloaded-%d.jsonl" % setgid)
            env = {"PATH": "/usr/bin:/bin", "HOME": d, "PQTLS_LOG": log,
                   "LD_PRELOAD": os.path.join(d, "libpqtls.so")}
            r = _run_as(pw, [prog, "PQconnectdb", dead], env)
            res[setgid] = (r.returncode, r.stdout, r.stderr, os.path.exists(log))
    finally:
        os.chmod(prog, 0o755)
    assert res[True][:2] == res[False][:2] and res[True][0] == 1, res
    assert res[True][2] == "" and res[True][3] is False, res     # not loaded
    assert res[False][3] is True, res                              # loaded


# ---------------------------------------------------------------- secrets

def test_zz_no_secret_in_anything_this_module_ran():
    """Every run above (records, pqtls's messages, and the records that went to
    stderr): no password from SECRETS. Runs last in this file."""
    if not _RUNS:
        pytest.skip("no run to scan (run the whole file)")
    for r in _RUNS:
        for where, text in (("records", r.log_text),
                            ("pqtls messages", "\n".join(pqtls_lines(r.stderr))),
                            ("records on stderr", "\n".join(
                                line for line in r.stderr.split("\n") if is_record_line(line)))):
            found = find_secrets(text)
            assert not found, "secret %r in %s of\n%s" % (found, where, r.describe())


FAULTS_TRIED = {
    "server down": 8, "server without TLS": 4, "server answering garbage": 4,
    "server never answering": 2, "name resolution failing": 2,
    "log destination unusable or deleted": len(LOG_FAULT_IDS) + 2, "bundle unusable": 7,
    "bundle 10 MB": 1, "HOME unset/empty/nowhere": 4, "stdio closed": 5 + 2 + 2,
    "bad settings": len(BAD_SETTING_CASES) + 2, "setgid program": 2,
}
