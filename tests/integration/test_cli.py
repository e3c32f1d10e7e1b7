"""The pqtls command line: run, probe and sessions against the real server; every
command's --help, --version and usage errors; make install."""

import os
import signal
import subprocess
import time

import pytest

from harness import (HELPERS_DIR, RDS_FIXTURES, REPO, build_env, sanitizer_preload,
                     scratch_dir)

PQCALL = os.path.join(HELPERS_DIR, "pqcall")
RDS = os.path.join(RDS_FIXTURES, "global-bundle-2025-g1.pem")


def cli_run(cli, args, home, env_extra=None, timeout=60, **kw):
    env = build_env(home, env_extra, preload=False)
    if args[:1] == ["run"] and sanitizer_preload():
        # `make asan`: libpqtls.so needs the sanitizer runtime loaded ahead of it, as
        # from any user's LD_PRELOAD; `pqtls run` keeps such entries first (cmd_run.c).
        env["LD_PRELOAD"] = sanitizer_preload(env)
    return subprocess.run([cli] + args, env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=home, **kw)


# ---- every command ---------------------------------------------------------------

COMMANDS = ["run", "report", "probe", "bundle", "sessions"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_and_version(cli, home, cmd):
    r = cli_run(cli, [cmd, "--help"], home)
    assert r.returncode == 0 and r.stdout.startswith("usage: pqtls " + cmd), r
    r = cli_run(cli, [cmd, "--version"], home)
    assert r.returncode == 0 and r.stdout.startswith("pqtls "), r


@pytest.mark.parametrize("cmd", COMMANDS)
def test_usage_error_exits_2_with_one_line(cli, home, cmd):
    r = cli_run(cli, [cmd, "--no-such-option"], home)
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and "--help" in r.stderr, r.stderr


def test_top_level(cli, home):
    r = cli_run(cli, ["--help"], home)
    assert r.returncode == 0 and all(c in r.stdout for c in COMMANDS)
    assert cli_run(cli, ["--version"], home).stdout.startswith("pqtls ")
    assert cli_run(cli, [], home).returncode == 2
    r = cli_run(cli, ["frobnicate"], home)
    assert r.returncode == 2 and "unknown command" in r.stderr


# ---- run -------------------------------------------------------------------------

def test_run_records_and_summarises(cli, pg, home, lib):
    r = cli_run(cli, ["run", "--", PQCALL, "PQconnectdb", pg.conninfo(sslmode="require")], home)
    assert r.returncode == 0 and r.stdout == "status=ok ssl=1\n", r
    summary = [line for line in r.stderr.splitlines() if line.startswith("pqtls: ")]
    assert len(summary) == 1, r.stderr
    assert "pqcall" in summary[0] and ":%d" % pg.port in summary[0]
    assert "sslmode=require (conninfo)" in summary[0], summary


def test_run_keeps_exit_status_and_signals(cli, home, lib):
    assert cli_run(cli, ["run", "--", "sh", "-c", "exit 3"], home).returncode == 3
    r = cli_run(cli, ["run", "--quiet", "--", "sh", "-c", "kill -TERM $$"], home)
    assert r.returncode == -signal.SIGTERM, r
    r = cli_run(cli, ["run", "--", "/nonexistent/program"], home)
    assert r.returncode == 127 and "cannot run" in r.stderr


def test_run_quiet_and_log(cli, pg, home, lib, tmpdir_path):
    log = os.path.join(tmpdir_path, "%e-%p.jsonl")
    r = cli_run(cli, ["run", "--quiet", "--log", log, "--", PQCALL, "PQconnectdb",
                      pg.conninfo()], home)
    assert r.returncode == 0 and r.stderr == "", r
    files = os.listdir(tmpdir_path)
    assert len(files) == 1 and files[0].startswith("pqcall-"), files
    assert '"api":"PQconnectdb"' in open(os.path.join(tmpdir_path, files[0])).read()


def test_run_modes_reach_the_library(cli, pg, home, lib):
    r = cli_run(cli, ["run", "--mode", "dry-run", "--bundle", RDS, "--", PQCALL, "PQconnectdb",
                      pg.conninfo()], home)
    assert r.returncode == 0, r
    assert "dry-run fail (untrusted-ca)" in r.stderr, r.stderr
    r = cli_run(cli, ["run", "--mode", "enforce", "--bundle", pg.ca_file, "--", PQCALL,
                      "PQconnectdb", pg.conninfo(host="localhost", hostaddr="127.0.0.1")], home)
    assert r.returncode == 0 and "verify-full" in r.stderr, r


def test_run_keeps_existing_preload(cli, home, lib):
    other = "/lib/x86_64-linux-gnu/libm.so.6"
    r = cli_run(cli, ["run", "--quiet", "--", "sh", "-c", 'echo "$LD_PRELOAD"'], home,
                env_extra={"LD_PRELOAD": other})
    entries = r.stdout.strip().split(":")
    assert entries[-1] == other and entries[-2].endswith("/libpqtls.so"), r.stdout


@pytest.mark.parametrize("args,message", [
    (["--mode", "paranoid", "true"], "--mode"),
    (["--bundle", "/nonexistent.pem", "true"], "--bundle"),
    ([], "PROGRAM"),
])
def test_run_usage_errors(cli, home, args, message):
    r = cli_run(cli, ["run"] + args, home)
    assert r.returncode == 2 and message in r.stderr, r


# ---- probe -----------------------------------------------------------------------

def test_probe_pass(cli, pg, home):
    r = cli_run(cli, ["probe", "--bundle", pg.ca_file,
                      pg.conninfo(host="localhost", hostaddr="127.0.0.1", password=None)], home)
    assert r.returncode == 0, r
    assert "subject: CN=localhost" in r.stdout and pg.server.sha256 in r.stdout
    assert "verdict: pass (ok)" in r.stdout


@pytest.mark.parametrize("conninfo,bundle,reason", [
    (dict(host="other.example"), "ca", "hostname-mismatch"),
    (dict(), "wrong", "untrusted-ca"),
    (dict(), "rds", "untrusted-ca"),
])
def test_probe_fail(cli, pg, home, conninfo, bundle, reason):
    bundle = {"ca": pg.ca_file, "wrong": pg.wrong_ca_file, "rds": RDS}[bundle]
    r = cli_run(cli, ["probe", "--bundle", bundle,
                      pg.conninfo(hostaddr="127.0.0.1", password=None, **conninfo)], home)
    assert r.returncode == 1 and "verdict: fail (%s)" % reason in r.stdout, r


def test_probe_uri_and_ipv6(cli, pg, home):
    if not pg.ipv6:
        pytest.skip("no IPv6 loopback on this machine")
    uri = "postgresql://localhost:%d/?hostaddr=::1" % pg.port
    r = cli_run(cli, ["probe", "--bundle", pg.ca_file, uri], home)
    assert r.returncode == 0 and "address ::1" in r.stdout, r
    r = cli_run(cli, ["probe", "--bundle", pg.ca_file, "host=::1 port=%d" % pg.port], home)
    assert r.returncode == 1 and "hostname-mismatch" in r.stdout, r


def test_probe_errors(cli, pg, home):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = cli_run(cli, ["probe", "--bundle", pg.ca_file, "host=127.0.0.1 port=%d" % port], home)
    assert r.returncode == 2 and "unreachable" in r.stdout, r
    r = cli_run(cli, ["probe", "host=%s port=%d" % (pg.socket_dir, pg.port)], home)
    assert r.returncode == 2 and "Unix socket" in r.stderr, r
    r = cli_run(cli, ["probe", "host=127.0.0.1 port=%d" % pg.port], home)
    assert r.returncode == 2 and "no bundle" in r.stderr, r


# ---- sessions ----------------------------------------------------------------------

def test_sessions_lists_tls_and_plain(cli, pg, home):
    env = build_env(home, preload=False)
    held = [subprocess.Popen([pg.bin("psql"), "-X", "-c", "select pg_sleep(30)",
                              pg.conninfo(sslmode=mode, application_name="held-" + mode)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for mode in ("require", "disable")]
    try:
        superuser = "host=%s port=%d user=postgres dbname=postgres" % (pg.socket_dir, pg.port)
        deadline = time.monotonic() + 15
        while True:
            r = cli_run(cli, ["sessions", superuser], home)
            if ("held-require" in r.stdout and "held-disable" in r.stdout) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        rows = {line.split()[-1]: line.split() for line in r.stdout.splitlines()
                if line.split() and line.split()[-1].startswith("held-")}
        assert rows["held-require"][1] == "yes" and rows["held-require"][2].startswith("TLSv1")
        assert rows["held-disable"][1] == "no"
        assert "ssl = on" in r.stdout and "ssl_min_protocol_version = TLSv1.2" in r.stdout
        assert r.returncode == 1, r   # a session without TLS
        csv = cli_run(cli, ["sessions", "--format", "csv", superuser], home)
        assert csv.stdout.splitlines()[0] == \
            "pid,tls,protocol,cipher,client,user,database,application"
    finally:
        for p in held:
            p.kill()
            p.wait()


def test_sessions_connection_failure(cli, home):
    r = cli_run(cli, ["sessions", "host=127.0.0.1 port=1 connect_timeout=2"], home)
    assert r.returncode == 2 and "pqtls sessions:" in r.stderr


# ---- make install -----------------------------------------------------------------

def test_make_install(pg, home, lib):
    dest = scratch_dir("install-")
    r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/pqtls", "DESTDIR=" + dest,
                        "BUILD=" + os.path.basename(os.path.dirname(lib))],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    root = os.path.join(dest, "opt", "pqtls")
    for path in ("bin/pqtls", "lib/libpqtls.so", "share/man/man1/pqtls.1"):
        assert os.path.isfile(os.path.join(root, path)), path
    # The installed command finds the installed library (../lib beside bin/).
    r = cli_run(os.path.join(root, "bin", "pqtls"), ["run", "--", PQCALL, "PQconnectdb",
                                                      pg.conninfo()], home)
    assert r.returncode == 0 and "pqcall" in r.stderr, r
