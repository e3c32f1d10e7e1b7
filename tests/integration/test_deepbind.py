"""libpqtls.so exports dlopen (src/lib/deepbind.c): a RTLD_DEEPBIND load of a path is
opened from pqtls and the new objects' GOT entries for the hooked names are pointed at
the hooks; every other dlopen must reach the C library's as a tail call, because glibc
picks the DT_RPATH/DT_RUNPATH and $ORIGIN used to search a bare name from its caller's
return address.

The programs and libraries are built here, at test time, with cc, in a scratch directory:

    main            dlopen(NAME, MODE) from the program itself; calls NAME's function
    libcaller.so    the same dlopen, made from inside a shared library
    plugins/        libplugin.so (found only through $ORIGIN/plugins), libneedsdep.so
    deps/           libdep.so, needed by libneedsdep.so
    libpqclient.so  links -lpq: PQconnectdb + PQfinish, loaded the way PHP loads pgsql.so
    libdlsymclient.so  no -lpq: dlopen()s libpq itself and dlsym()s PQconnectdb
"""

import os
import shutil
import subprocess

import pytest

import harness
from harness import run_plain, run_preloaded

PG_INCLUDE = None

MAIN_C = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int caller_open(const char *name, int mode, const char *fn, const char *arg);

static int
mode_of(const char *s)
{
    int mode = 0;
    if (strstr(s, "lazy")) mode |= RTLD_LAZY;
    if (strstr(s, "now")) mode |= RTLD_NOW;
    if (strstr(s, "global")) mode |= RTLD_GLOBAL;
    if (strstr(s, "deepbind")) mode |= RTLD_DEEPBIND;
    return mode;
}

/* main FROM NAME MODES FUNCTION [ARG]: FROM is "main" or "lib" (libcaller.so). */
int
main(int argc, char **argv)
{
    const char *name = strcmp(argv[2], "NULL") == 0 ? NULL : argv[2];
    int mode = mode_of(argv[3]);
    const char *arg = argc > 5 ? argv[5] : "";
    void *h;
    int (*fn) (const char *);

    if (argc < 5)
        return 2;
    if (strcmp(argv[1], "lib") == 0)
        return caller_open(name, mode, argv[4], arg);
    h = dlopen(name, mode);
    if (h == NULL) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    if (strcmp(argv[4], "-") == 0) {
        printf("dlopen ok\n");
        return 0;
    }
    fn = (int (*) (const char *)) dlsym(h, argv[4]);
    if (fn == NULL) {
        printf("dlsym failed: %s\n", dlerror());
        return 1;
    }
    return fn(arg);
}
"""

CALLER_C = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int caller_open(const char *name, int mode, const char *fn, const char *arg);

int
caller_open(const char *name, int mode, const char *fn, const char *arg)
{
    void *h = dlopen(name, mode);
    int (*f) (const char *);

    if (h == NULL) {
        printf("dlopen from library failed: %s\n", dlerror());
        return 1;
    }
    f = (int (*) (const char *)) dlsym(h, fn);
    if (f == NULL) {
        printf("dlsym failed: %s\n", dlerror());
        return 1;
    }
    return f(arg);
}
"""

PLUGIN_C = r"""
#include <stdio.h>
int
plugin_answer(const char *arg)
{
    printf("plugin answers 42 %s\n", arg);
    return 0;
}
"""

DEP_C = r"""
int dep_value(void);
int dep_value(void) { return 7; }
"""

NEEDS_DEP_C = r"""
#include <stdio.h>
int dep_value(void);
int needs_dep(const char *arg);
int
needs_dep(const char *arg)
{
    printf("dependency answers %d %s\n", dep_value(), arg);
    return 0;
}
"""

UNDEFINED_C = r"""
int no_such_function_anywhere(void);
int calls_missing(const char *arg);
int calls_missing(const char *arg) { (void) arg; return no_such_function_anywhere(); }
"""

# A constructor that dlopen()s with RTLD_DEEPBIND before main(), possibly before pqtls
# has done anything at all.
CTOR_C = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static void *early;
__attribute__((constructor)) static void
load_early(void)
{
    const char *path = getenv("EARLY_PLUGIN");
    early = path ? dlopen(path, RTLD_LAZY | RTLD_GLOBAL | RTLD_DEEPBIND) : NULL;
}
int ctor_report(void);
int
ctor_report(void)
{
    int (*fn) (const char *) = early ? (int (*) (const char *)) dlsym(early, "plugin_answer") : NULL;
    if (fn == NULL) { printf("constructor dlopen failed\n"); return 1; }
    return fn("from a constructor");
}
"""

CTOR_MAIN_C = r"""
int ctor_report(void);
int main(void) { return ctor_report(); }
"""

PQCLIENT_C = r"""
#include <stdio.h>
#include <libpq-fe.h>
int client_connect(const char *conninfo);
int
client_connect(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    int ok = PQstatus(conn) == CONNECTION_OK;

    if (ok)
        printf("status=ok ssl=%d\n", PQsslInUse(conn));
    else
        printf("status=bad: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return ok ? 0 : 1;
}
"""

# Loaded with RTLD_DEEPBIND, it loads libpq itself and looks its functions up: the way PHP's
# FFI or a plugin that only optionally uses libpq does.
DLSYMCLIENT_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int client_dlsym(const char *conninfo);
int
client_dlsym(const char *conninfo)
{
    void *pq = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    void *(*connectdb) (const char *);
    int (*status) (const void *);
    void (*finish) (void *);
    void *conn;
    int ok;

    if (pq == NULL) {
        printf("no libpq: %s\n", dlerror());
        return 1;
    }
    connectdb = (void *(*) (const char *)) dlsym(pq, "PQconnectdb");
    status = (int (*) (const void *)) dlsym(pq, "PQstatus");
    finish = (void (*) (void *)) dlsym(pq, "PQfinish");
    conn = connectdb(conninfo);
    ok = status(conn) == 0;     /* CONNECTION_OK */
    printf("status=%s\n", ok ? "ok" : "bad");
    finish(conn);
    return ok ? 0 : 1;
}
"""


# --------------------------------------------------------------------------- building

def pg_include():
    global PG_INCLUDE
    if PG_INCLUDE is None:
        try:
            PG_INCLUDE = subprocess.run(["pg_config", "--includedir"], capture_output=True,
                                        text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            PG_INCLUDE = "/usr/include/postgresql"
    return PG_INCLUDE


def cc(out, sources, *flags, cwd):
    """Compile sources (name -> text) into out with cc; fails the test on error."""
    paths = []
    for name, text in sources.items():
        p = os.path.join(cwd, name)
        with open(p, "w") as f:
            f.write(text)
        paths.append(p)
    argv = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", "-O1", "-o", out] + \
        paths + list(flags)
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, "cc failed: %r\n%s%s" % (argv, r.stdout, r.stderr)
    return out


def dynamic_tags(path):
    return subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def tree():
    """The programs and libraries, built once for this module."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    d = harness.scratch_dir("deepbind-")
    plugins = os.path.join(d, "plugins")
    lplugins = os.path.join(d, "lplugins")
    deps = os.path.join(d, "deps")
    for sub in (plugins, lplugins, deps):
        os.makedirs(sub)
    t = {"dir": d, "plugins": plugins}
    cc(os.path.join(plugins, "libplugin.so"), {"plugin.c": PLUGIN_C}, "-shared", "-fPIC",
       cwd=d)
    cc(os.path.join(lplugins, "liblplugin.so"), {"plugin.c": PLUGIN_C}, "-shared", "-fPIC",
       cwd=d)
    # libneedsdep.so needs libdep.so, which only rpath/main's DT_RPATH ($ORIGIN/deps) finds.
    cc(os.path.join(deps, "libdep.so"), {"dep.c": DEP_C}, "-shared", "-fPIC", cwd=d)
    t["needsdep"] = cc(os.path.join(plugins, "libneedsdep.so"), {"needsdep.c": NEEDS_DEP_C},
                       "-shared", "-fPIC", "-L" + deps, "-ldep", cwd=d)
    t["undefined"] = cc(os.path.join(plugins, "libundefined.so"),
                        {"undefined.c": UNDEFINED_C}, "-shared", "-fPIC", cwd=d)
    for tag, dtags in (("rpath", "--disable-new-dtags"), ("runpath", "--enable-new-dtags")):
        # TAG/main searches $ORIGIN/plugins (and finds libcaller.so in $ORIGIN);
        # TAG/libcaller.so searches $ORIGIN/lplugins, which the program does not (glibc
        # always searches the program's own DT_RPATH, whoever calls dlopen).
        sub = os.path.join(d, tag)
        os.makedirs(sub)
        for name, path in (("plugins", plugins), ("lplugins", lplugins), ("deps", deps)):
            os.symlink(path, os.path.join(sub, name))
        lib = cc(os.path.join(sub, "libcaller.so"), {"caller.c": CALLER_C}, "-shared",
                 "-fPIC", "-Wl," + dtags, "-Wl,-rpath,$ORIGIN/lplugins", cwd=d)
        exe = cc(os.path.join(sub, "main"), {"main.c": MAIN_C}, "-Wl," + dtags,
                 "-Wl,-rpath,$ORIGIN/plugins:$ORIGIN:$ORIGIN/deps", "-L" + sub, "-lcaller",
                 cwd=d)
        want = "RPATH" if tag == "rpath" else "RUNPATH"
        for path in (lib, exe):
            assert "(%s)" % want in dynamic_tags(path), dynamic_tags(path)
        t[tag] = exe
    cc(os.path.join(d, "libpqclient.so"), {"pqclient.c": PQCLIENT_C}, "-shared", "-fPIC",
       "-I" + pg_include(), "-lpq", cwd=d)
    t["pqclient"] = os.path.join(d, "libpqclient.so")
    t["dlsymclient"] = cc(os.path.join(d, "libdlsymclient.so"),
                          {"dlsymclient.c": DLSYMCLIENT_C}, "-shared", "-fPIC", cwd=d)
    ctor = cc(os.path.join(d, "libctor.so"), {"ctor.c": CTOR_C}, "-shared", "-fPIC", cwd=d)
    t["ctor_main"] = cc(os.path.join(d, "ctor_main"), {"ctor_main.c": CTOR_MAIN_C},
                        "-L" + d, "-Wl,-rpath," + d, "-lctor", cwd=d)
    assert ctor
    # The program that loads libpqclient.so must not link libpq itself: libpq and libssl
    # come in with the RTLD_DEEPBIND load, as with PHP.
    assert "libpq" not in subprocess.run(["ldd", t["rpath"]], capture_output=True,
                                         text=True).stdout
    return t


@pytest.fixture
def no_sanitizer(lib):
    """ASan and UBSan's runtime intercepts dlopen ahead of pqtls: it refuses RTLD_DEEPBIND
    outright ("incompatible with sanitizer runtime") and calls the real dlopen from its own
    frame, so neither guarantee can be observed under `make asan`."""
    if harness.sanitizer_runtimes(lib):
        pytest.skip("under `make asan` the sanitizer runtime's own dlopen interceptor stands in "
                    "front of pqtls and refuses RTLD_DEEPBIND outright (\"incompatible with "
                    "sanitizer runtime\"), so pqtls's dlopen is never reached")


def same_as_plain(argv, home, env_extra=None, cwd=None):
    plain = run_plain(argv, env_extra=env_extra, home=home, cwd=cwd)
    pre = run_preloaded(argv, env_extra=env_extra, home=home, cwd=cwd)
    both = "==== without pqtls ====\n%s\n==== with pqtls ====\n%s" % (plain.describe(),
                                                                     pre.describe())
    assert (pre.returncode, pre.stdout, pre.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr), both
    return plain, pre, both


# --------------------------------------------------------------------------- (a) RPATH

# Bare names are searched with the caller's DT_RPATH/DT_RUNPATH ($ORIGIN/plugins for main,
# $ORIGIN/lplugins for libcaller.so), and a '$ORIGIN' name is expanded with the caller's
# directory: these only work when the C library's dlopen sees the program's own return
# address. (A bare name from rpath/main would be found anyway: glibc searches the
# program's DT_RPATH whoever calls. Every other case fails if the tail call is lost.)
BARE = [
    ("now", "libplugin.so"),
    ("lazy-global", "libplugin.so"),
    ("lazy-global-deepbind", "libplugin.so"),
    ("now-deepbind", "$ORIGIN/plugins/libplugin.so"),
]


@pytest.mark.parametrize("dtag", ["rpath", "runpath"])
@pytest.mark.parametrize("caller", ["main", "lib"])
@pytest.mark.parametrize("mode,name", BARE, ids=["%s-%s" % (m, n.split("/")[0][:7])
                                                   for m, n in BARE])
def test_caller_search_path_is_kept(tree, home, lib, no_sanitizer, dtag, caller, mode, name):
    if caller == "lib":
        name = name.replace("plugin", "lplugin")
    argv = [tree[dtag], caller, name, mode, "plugin_answer", "%s-%s" % (caller, dtag)]
    plain, pre, both = same_as_plain(argv, home)
    assert plain.returncode == 0 and "plugin answers 42" in plain.stdout, both
    assert pre.records == []


def test_dlopen_is_a_tail_call(lib):
    """The common path ends in a jmp to the C library's dlopen, never a call."""
    if shutil.which("objdump") is None:
        pytest.skip("no objdump")
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", lib], capture_output=True,
                         text=True).stdout
    start = out.find("<dlopen>:\n")
    assert start >= 0, "dlopen is not in %s" % lib
    body = out[start:out.find("\n\n", start)]
    assert any("jmp" in line and "*%" in line for line in body.splitlines()), body


@pytest.mark.parametrize("dtag", ["rpath", "runpath"])
@pytest.mark.parametrize("caller", ["main", "lib"])
def test_deepbind_path_finds_dependencies_as_before(tree, home, lib, no_sanitizer, dtag,
                                                    caller):
    """A RTLD_DEEPBIND load of a path (opened by pqtls) whose dependency libdep.so is found
    only through the program's DT_RPATH, which glibc searches for every dependency; not
    through a DT_RUNPATH or the calling library's own path, which it does not."""
    argv = [tree[dtag], caller, tree["needsdep"], "lazy-global-deepbind", "needs_dep", "x"]
    plain, pre, both = same_as_plain(argv, home)
    if dtag == "rpath":
        assert plain.returncode == 0 and "dependency answers 7" in plain.stdout, both
    else:
        assert plain.returncode == 1 and "libdep.so" in plain.stdout, both


def test_deepbind_from_a_constructor(tree, home, lib, no_sanitizer):
    """dlopen with RTLD_DEEPBIND from a library constructor, before main()."""
    plugin = os.path.join(tree["plugins"], "libplugin.so")
    plain, pre, both = same_as_plain([tree["ctor_main"]], home,
                                     env_extra={"EARLY_PLUGIN": plugin})
    assert plain.returncode == 0 and "from a constructor" in plain.stdout, both


# --------------------------------------------------------------------------- (b) records

def connect_deepbind(tree, conninfo):
    return [tree["rpath"], "main", tree["pqclient"], "lazy-global-deepbind",
            "client_connect", conninfo]


def test_deepbind_connection_is_recorded(tree, pg, home, lib, no_sanitizer):
    plain, pre, both = same_as_plain(connect_deepbind(tree, pg.conninfo()), home)
    assert plain.returncode == 0 and plain.stdout.startswith("status=ok"), both
    rec = pre.record
    assert rec["api"] == "PQconnectdb", both
    assert rec["outcome"] == "ok", both
    assert rec["port"] == str(pg.port) and rec["dbname"] == pg.dbname, both
    assert rec["tls"]["peer"]["sha256"] == pg.server.sha256, both
    assert rec["exe"] == os.path.realpath(tree["rpath"])


def test_deepbind_failed_handshake_keeps_peer(tree, pg, home, lib, no_sanitizer):
    """libpq's SSL_connect reference is rebound too: the chain of a handshake that failed
    verification is captured."""
    conninfo = pg.conninfo(sslmode="verify-ca", sslrootcert=pg.wrong_ca_file)
    plain, pre, both = same_as_plain(connect_deepbind(tree, conninfo), home)
    assert plain.returncode == 1 and "certificate verify failed" in plain.stdout, both
    rec = pre.record
    assert rec["api"] == "PQconnectdb" and rec["outcome"] == "failed", both
    assert rec["verify"] == "ca" and rec["tls"] is None, both
    assert "certificate verify failed" in rec["error"], both
    assert rec.get("failed_peer", {}).get("sha256") == pg.server.sha256, both


def test_deepbind_twice_records_each(tree, pg, home, lib, no_sanitizer):
    """Loaded from inside a library too (libcaller.so), the load is patched the same."""
    argv = [tree["runpath"], "lib", tree["pqclient"], "lazy-global-deepbind",
            "client_connect", pg.conninfo()]
    plain, pre, both = same_as_plain(argv, home)
    assert plain.returncode == 0, both
    assert pre.record["api"] == "PQconnectdb" and pre.record["outcome"] == "ok", both


def test_deepbind_object_that_loads_libpq_itself(tree, pg, home, lib, no_sanitizer):
    """The dlopen and dlsym references of a RTLD_DEEPBIND object are rebound like the
    libpq ones: libpq loaded and looked up from inside it is seen (dlsym.c)."""
    argv = [tree["rpath"], "main", tree["dlsymclient"], "lazy-global-deepbind",
            "client_dlsym", pg.conninfo()]
    plain, pre, both = same_as_plain(argv, home)
    assert plain.returncode == 0 and plain.stdout == "status=ok\n", both
    assert pre.record["api"] == "PQconnectdb" and pre.record["outcome"] == "ok", both


# --------------------------------------------------------------------------- (c) errors

@pytest.mark.parametrize("name,mode", [
    ("/nonexistent/libnothere.so", "lazy-global-deepbind"),
    ("/nonexistent/libnothere.so", "now"),
    ("libnothere.so", "lazy-global-deepbind"),
    ("libnothere.so", "now"),
    ("$ORIGIN/libnothere.so", "now-deepbind"),
    ("UNDEFINED", "now-deepbind"),
    ("UNDEFINED", "now"),
    ("NULL", "lazy-deepbind"),
    ("NULL", "now"),
])
def test_errors_are_the_same(tree, home, lib, no_sanitizer, name, mode):
    """A failing dlopen returns NULL with the dlerror() text it has without pqtls; a
    RTLD_DEEPBIND load that fails in pqtls is retried from the caller, so the message is
    the C library's own."""
    if name == "UNDEFINED":
        name = tree["undefined"]
    plain, pre, both = same_as_plain([tree["rpath"], "main", name, mode, "-"], home)
    if name == "NULL":
        assert plain.returncode == 0 and plain.stdout == "dlopen ok\n", both
    else:
        assert plain.returncode == 1 and plain.stdout.startswith("dlopen failed: "), both
    if name == tree["undefined"]:
        assert "no_such_function_anywhere" in plain.stdout, both
