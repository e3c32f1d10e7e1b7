"""harness: run programs with and without the pqtls interposer, read its records.

    r = run_preloaded(["psql", "-X", "-c", "SELECT 1", pg.conninfo()], home=home)
    r.returncode, r.stdout, r.stderr     # the program's
    r.records                            # the JSON records pqtls wrote to PQTLS_LOG
    r.record                             # the one record (fails unless exactly one)

Programs run with a clean environment: PATH=/usr/bin:/bin, HOME, LANG=C.UTF-8, no PG*
variables unless env_extra gives them, LD_PRELOAD=<lib> and PQTLS_LOG=<a fresh file>.
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from pgserver import SECRETS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The build directory under test: `make asan` builds into build-asan.
BUILD_DIR = os.path.join(REPO, os.environ.get("PQTLS_BUILD", "build"))
LIB_PATH = os.path.join(BUILD_DIR, "libpqtls.so")
CLI_PATH = os.path.join(BUILD_DIR, "pqtls")
HELPERS_DIR = os.path.join(BUILD_DIR, "tests")
RDS_FIXTURES = os.path.join(REPO, "tests", "fixtures", "rds")   # public Amazon RDS bundles
PYTHON = "/usr/bin/python3"

# Variables that configure sanitizers are test settings, not the program's: kept.
_PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")

_scratch_root = None


def scratch_dir(prefix="run-"):
    """A fresh directory under this process's scratch root (removed at exit)."""
    global _scratch_root
    if _scratch_root is None or not os.path.isdir(_scratch_root):
        _scratch_root = tempfile.mkdtemp(prefix="pqtls-tests-", dir="/tmp")
        os.chmod(_scratch_root, 0o755)
        atexit.register(shutil.rmtree, _scratch_root, True)
    return tempfile.mkdtemp(prefix=prefix, dir=_scratch_root)


def install_root_crt(home, src):
    """Copy src (a path or Cert) to HOME/.postgresql/root.crt; returns the path."""
    d = os.path.join(os.fspath(home), ".postgresql")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "root.crt")
    shutil.copyfile(os.fspath(src), dst)
    return dst


def find_secrets(text):
    """The SECRETS that occur in text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in SECRETS if s in (text or "")]


class RunResult:
    """What one run gave: returncode, stdout, stderr (str), records (list of dict),
    log_path (the PQTLS_LOG file, or None), log_text, argv, env, duration (s)."""

    def __init__(self, argv, env, returncode, stdout, stderr, records, log_path, log_text,
                 duration):
        self.argv = argv
        self.env = env
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.records = records
        self.log_path = log_path
        self.log_text = log_text
        self.duration = duration

    @property
    def record(self):
        """The single record of the run; fails the test unless there is exactly one."""
        if len(self.records) != 1:
            pytest.fail("expected exactly one record, got %d\n%s"
                        % (len(self.records), self.describe()), pytrace=False)
        return self.records[0]

    @property
    def ok(self):
        return self.returncode == 0

    def describe(self):
        """Everything about the run, for assertion messages."""
        env = {k: v for k, v in self.env.items() if k not in ("PATH", "LANG")}
        return ("argv: %r\nenv: %r\nexit: %s (%.2fs)\n---- stdout ----\n%s\n"
                "---- stderr ----\n%s\n---- records (%s) ----\n%s"
                % (self.argv, env, self.returncode, self.duration, self.stdout, self.stderr,
                   self.log_path, self.log_text))

    def __repr__(self):
        return "<RunResult exit=%s records=%d>\n%s" % (self.returncode, len(self.records),
                                                        self.describe())

    def assert_ok(self):
        assert self.returncode == 0, self.describe()
        return self

    def assert_no_secrets(self):
        """No password from SECRETS in stdout, stderr or the records."""
        for where, text in (("stdout", self.stdout), ("stderr", self.stderr),
                            ("records", self.log_text)):
            found = find_secrets(text)
            assert not found, "secret %r leaked into %s\n%s" % (found, where, self.describe())
        return self


def parse_records(path):
    """The records of a JSON Lines file: each line one JSON object. Anything else (a
    line that does not parse, is not an object, is empty, or lacks its newline, or
    text that is not UTF-8) fails the test loudly."""
    with open(path, "rb") as f:
        data = f.read()
    text, bad = None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = str(e)
    if bad is not None:
        pytest.fail("PQTLS_LOG %s is not UTF-8 (%s):\n%r" % (path, bad, data[:2000]),
                    pytrace=False)
    if text and not text.endswith("\n"):
        pytest.fail("PQTLS_LOG %s ends with a partial line:\n%s" % (path, text),
                    pytrace=False)
    records = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        rec, error = None, None
        try:
            rec = json.loads(line)
        except ValueError as e:
            error = str(e)
        if error is not None:
            pytest.fail("PQTLS_LOG %s line %d is not JSON (%s):\n%r\n---- whole file ----\n%s"
                        % (path, n, error, line, text), pytrace=False)
        if not isinstance(rec, dict):
            pytest.fail("PQTLS_LOG %s line %d is not a JSON object:\n%r" % (path, n, line),
                        pytrace=False)
        records.append(rec)
    return records, text


_sanitizer_cache = {}


def sanitizer_runtimes(lib):
    """The ASan/UBSan runtimes lib needs loaded first (empty for a normal build)."""
    if lib not in _sanitizer_cache:
        found = []
        try:
            out = subprocess.run(["ldd", lib], capture_output=True, text=True,
                                 env={"PATH": "/usr/bin:/bin"}, timeout=30).stdout
            for line in out.splitlines():
                m = re.match(r"\s*(lib(?:asan|ubsan)\.so[.\d]*)\s*=>\s*(\S+)", line)
                if m and m.group(2) != "not":
                    found.append(m.group(2))
        except (OSError, subprocess.TimeoutExpired):
            pass
        _sanitizer_cache[lib] = found
    return _sanitizer_cache[lib]


# ----------------------------------------------------------------------------- sanitizers

# Under `make asan` the library needs libasan and libubsan preloaded ahead of it, so every
# preloaded program runs with the sanitizer runtime, and some real clients cannot, with or
# without pqtls (Debian 12, gcc 12's libasan.so.8):
#   PostgreSQL's own clients (psql, pgbench, pg_dump, pg_isready...) link libpq and through
#       it libldap -> gnutls -> libp11-kit; with libasan preloaded they hang at exit:
#       p11-kit's destructor calls freelocale(), which waits forever on glibc's setlocale
#       lock, whose reader count is left broken (0xfffffffa seen in gdb). Python, Perl and
#       Ruby load libpq (and p11-kit) later with dlopen and exit normally.
#   php dlopens its extensions (opcache, pgsql) with RTLD_DEEPBIND, which the sanitizer
#       runtime refuses: it exits 1 at start.
# Both are found out, not assumed: the first is confirmed once per session by running
# `psql --version` with only libasan preloaded (no pqtls), the second by running the
# program itself that way. A test reaching such a client is skipped with the reason
# (pytest -rs prints it); our own instrumented helpers are never probed.
SANITIZER_PROBE_SECONDS = 5
_blocked_cache = {}


def _resolve_program(name):
    """The program's path as run (not its link target: pg_wrapper picks the client by
    the name it is called by)."""
    if os.sep in name:
        return os.path.abspath(name)
    return shutil.which(name, path="/usr/bin:/bin")


def _elf_of(prog):
    """The ELF file that runs for prog: Debian's pg_wrapper (a Perl script behind
    /usr/bin/psql and the other clients) runs the newest cluster's binary of that name."""
    if os.path.basename(os.path.realpath(prog)) == "pg_wrapper":
        import pgserver
        return os.path.join(pgserver.find_bindir(), os.path.basename(prog))
    return os.path.realpath(prog)


def _links_p11kit(elf):
    try:
        out = subprocess.run(["ldd", elf], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"}, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libp11-kit.so" in out


def _run_under_sanitizer(argv, runtimes):
    """(timed out, exit status, stderr) of argv with only the sanitizer runtimes preloaded."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
           "LD_PRELOAD": ":".join(runtimes), "ASAN_OPTIONS": "detect_leaks=0"}
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = p.communicate(timeout=SANITIZER_PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)    # the whole group: pg_wrapper execs the client
        p.communicate()
        return True, None, b""
    return False, p.returncode, err


def sanitizer_blocked(argv, lib=None):
    """Why argv cannot run with the sanitizer runtime of lib preloaded, or None (also
    None for a build without sanitizers). The programs looked at: argv[0], and any later
    argument that is the absolute path of an executable (`sh -c '...; exec "$@"' sh
    /usr/bin/psql ...`); the build's own programs are never blocked."""
    runtimes = sanitizer_runtimes(lib or LIB_PATH)
    if not runtimes or not argv:
        return None
    progs = [_resolve_program(os.fspath(argv[0]))]
    progs += [os.fspath(a) for a in argv[1:] if os.path.isabs(os.fspath(a))
              and os.path.isfile(a) and os.access(a, os.X_OK)]
    build = os.path.realpath(BUILD_DIR) + os.sep
    for prog in progs:
        if not prog or os.path.realpath(prog).startswith(build):
            continue
        if prog not in _blocked_cache:
            _blocked_cache[prog] = _blocked_reason(prog, runtimes)
        if _blocked_cache[prog]:
            return _blocked_cache[prog]
    return None


def _blocked_reason(prog, runtimes):
    name = os.path.basename(prog)
    asan = os.path.basename(runtimes[0])
    elf = _elf_of(prog)
    if _links_p11kit(elf):
        psql = os.path.join(os.path.dirname(elf), "psql")
        if "p11kit-hang" not in _blocked_cache:
            _blocked_cache["p11kit-hang"] = _run_under_sanitizer([psql, "--version"],
                                                                 runtimes)[0]
        if _blocked_cache["p11kit-hang"]:
            return ("%s cannot run under `make asan`: it links libp11-kit (libpq -> libldap -> "
                    "gnutls), and with libasan preloaded such a client hangs at exit even "
                    "without pqtls (`LD_PRELOAD=%s psql --version` did not exit in %d s: "
                    "p11-kit's destructor waits in freelocale() on glibc's setlocale lock)"
                    % (name, asan, SANITIZER_PROBE_SECONDS))
    timed_out, status, err = _run_under_sanitizer([prog, "--version"], runtimes)
    if not timed_out and b"incompatible with sanitizer runtime" in err:
        return ("%s cannot run under `make asan`: it dlopens its extensions with "
                "RTLD_DEEPBIND, which the sanitizer runtime refuses even without pqtls "
                "(`LD_PRELOAD=%s %s --version` exits %d)" % (name, asan, name, status))
    return None


def sanitizer_preload(env=None):
    """Under `make asan`, the LD_PRELOAD a program needs that loads an instrumented object
    of the build other than through run_preloaded (the JVM agent through -agentpath, the
    child of `pqtls run`, which keeps such entries first): the sanitizer runtimes, then
    what env already preloads. Else env's own LD_PRELOAD (None when it has none)."""
    runtimes = sanitizer_runtimes(LIB_PATH)
    given = (env or {}).get("LD_PRELOAD")
    if not runtimes:
        return given
    return ":".join(runtimes + ([given] if given else []))


def build_env(home, env_extra=None, preload=True, lib=None, mode="observe", log_path=None):
    """The clean environment run_preloaded uses (exposed for tests that spawn
    programs themselves)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.fspath(home), "LANG": "C.UTF-8"}
    for k in _PASS_THROUGH:
        if k in os.environ:
            env[k] = os.environ[k]
    if preload:
        lib = lib or LIB_PATH
        runtimes = sanitizer_runtimes(lib)
        env["LD_PRELOAD"] = ":".join(runtimes + [lib])
        if runtimes:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if log_path is not None:
            env["PQTLS_LOG"] = log_path
        if mode is not None:
            env["PQTLS_MODE"] = mode
    if sanitizer_runtimes(lib or LIB_PATH):
        # A sanitizer build: the test helpers are instrumented too, with or without
        # the preload, and their small exit-time leaks are not what is tested.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for k, v in (env_extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = os.fspath(v) if isinstance(v, os.PathLike) else str(v)
    return env


def run_preloaded(argv, env_extra=None, home=None, mode="observe", stdin=None, timeout=60,
                  preload=True, lib=None, cwd=None, check_secrets=True):
    """Run argv under the interposer and collect its records.

    argv          list of strings (a program name is looked up in /usr/bin:/bin)
    env_extra     variables to add or override; a value of None removes one (PQTLS_LOG
                  given here replaces the fresh log file; records are then read from it
                  when it names a plain file)
    home          HOME for the program (the `home` fixture); None: a fresh empty one
    mode          PQTLS_MODE, or None to leave it unset
    stdin         str or bytes to feed, or None for /dev/null
    timeout       seconds; on expiry the process group is killed and the test fails
    preload       False: no LD_PRELOAD, no PQTLS_LOG (see run_plain)
    lib           the interposer (default build/libpqtls.so, or $PQTLS_BUILD/libpqtls.so)
    check_secrets fail the test if a password from SECRETS appears in the records

    Returns a RunResult.
    """
    argv = [os.fspath(a) for a in argv]
    if preload:
        blocked = sanitizer_blocked(argv, lib)
        if blocked:
            pytest.skip(blocked)
    if home is None:
        home = scratch_dir("home-")
    log_path = None
    if preload:
        logdir = scratch_dir("log-")
        os.chmod(logdir, 0o777)     # a program may run as another user
        log_path = os.path.join(logdir, "pqtls.jsonl")
    env = build_env(home, env_extra, preload=preload, lib=lib, mode=mode, log_path=log_path)
    if env_extra and "PQTLS_LOG" in env_extra:
        given = env.get("PQTLS_LOG")
        log_path = given if given and given not in ("stderr", "syslog") and "%" not in given \
            else None
    if isinstance(stdin, str):
        stdin = stdin.encode()
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd or os.fspath(home),
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        pytest.fail("cannot run %r: %s" % (argv, e), pytrace=False)
    timed_out = False
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    if timed_out:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
        pytest.fail("timed out after %ss: %r\n---- stdout ----\n%s\n---- stderr ----\n%s"
                    % (timeout, argv, out.decode("utf-8", "replace"),
                       err.decode("utf-8", "replace")), pytrace=False)
    duration = time.monotonic() - t0
    records, log_text = [], ""
    if log_path and os.path.isfile(log_path):
        records, log_text = parse_records(log_path)
    result = RunResult(argv, env, proc.returncode, out.decode("utf-8", "replace"),
                       err.decode("utf-8", "replace"), records, log_path, log_text, duration)
    if check_secrets and find_secrets(log_text):
        pytest.fail("a password from SECRETS appears in the records\n" + result.describe(),
                    pytrace=False)
    return result


def run_plain(argv, env_extra=None, home=None, stdin=None, timeout=60, cwd=None):
    """run_preloaded without the interposer (no LD_PRELOAD, no PQTLS_* set), for
    comparisons: same clean environment otherwise."""
    return run_preloaded(argv, env_extra=env_extra, home=home, mode=None, stdin=stdin,
                         timeout=timeout, preload=False, cwd=cwd, check_secrets=False)
