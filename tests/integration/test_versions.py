"""Every libpq version's own rules (issue 10; doc/versions.md): what pqtls says of a
connection is what the libpq that served it then does.

Runs once per libpq of the version matrix ($PQTLS_LIBPQ_VERSIONS; `make test-matrix`: 13
to 18), with tests/helpers/pqcall built against that libpq, against a server of the same
major (17 and 18 speak direct TLS). Nothing is expected by hand: each case runs the real
libpq and compares.

- The record names the serving libpq (`libpq`, from PQlibVersion()) and carries
  sslnegotiation, sslcertmode, ssl_min_protocol_version, ssl_max_protocol_version and
  sslsni exactly where that libpq has them, with the values its own PQconninfo() gives
  (asked through ctypes in a separate process).
- For every case of CASES (sslrootcert=system with each sslmode and with the store in a
  file or a hashed directory, sslnegotiation, sslcertmode, the protocol range, sslsni, an
  unknown sslmode), with PQTLS_NEW_CA and PQTLS_BUNDLE both naming the CA the server
  already uses, so the "rotation" changes nothing:
    after_rotation is `breaks` exactly when the plain connection fails (a connection
        that libpq refuses can never be `unaffected`, `ready` or `downgrades`);
    dry_run.result is `pass` exactly when the same connection under enforce succeeds.
  The figure "versions, libpq N: agree/total" is printed; any disagreement fails the
  test with the list.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import pytest

from harness import PYTHON, run_plain, run_preloaded, scratch_dir

VERSIONED = ("sslnegotiation", "sslcertmode", "ssl_min_protocol_version",
             "ssl_max_protocol_version", "sslsni")

# PQconninfo() of a libpq copy, asked in a process of its own (ctypes): the keywords
# that libpq has and the values it gives them for a connection string.
ASK_LIBPQ = r"""
import ctypes, json, sys

class Opt(ctypes.Structure):
    _fields_ = [(n, ctypes.c_char_p) for n in
                ("keyword", "envvar", "compiled", "val", "label", "dispchar")] + \
               [("dispsize", ctypes.c_int)]

pq = ctypes.CDLL(sys.argv[1])
pq.PQconnectStart.restype = ctypes.c_void_p
pq.PQconnectStart.argtypes = [ctypes.c_char_p]
pq.PQconninfo.restype = ctypes.POINTER(Opt)
pq.PQconninfo.argtypes = [ctypes.c_void_p]
pq.PQlibVersion.restype = ctypes.c_int
conn = pq.PQconnectStart(sys.argv[2].encode())
opts = pq.PQconninfo(conn)
out, i = {}, 0
while opts and opts[i].keyword:
    out[opts[i].keyword.decode()] = opts[i].val.decode() if opts[i].val is not None else None
    i += 1
print(json.dumps({"version": pq.PQlibVersion(), "options": out}))
"""


def ask_libpq(libpqs, libpq, conninfo, home):
    """{"version": PQlibVersion(), "options": {keyword: value}} from that libpq itself."""
    path = os.path.join(libpqs.dir(libpq), "libpq.so.5")
    r = subprocess.run([PYTHON, "-c", ASK_LIBPQ, path, conninfo], capture_output=True,
                       text=True, env={"PATH": "/usr/bin:/bin", "HOME": home}, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def version_text(n):
    return "%d.%d" % (n // 10000, n % 10000)


# ----------------------------------------------------------------------------- the record

@pytest.mark.parametrize("explicit", [False, True], ids=["defaults", "set"])
def test_record_names_the_libpq_and_its_settings(libpq, libpqs, home, explicit):
    """`libpq` is PQlibVersion() of the libpq that served the call; each versioned
    setting is in the record exactly when that libpq's PQconninfo() has the keyword, with
    the value it gives (its defaults, or the values the connection string set)."""
    server = libpqs.server(libpq)
    ci = server.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="verify-full",
                         sslrootcert=server.ca_file)
    known = ask_libpq(libpqs, libpq, ci, home)["options"]
    if explicit:
        chosen = {"sslnegotiation": "direct", "sslcertmode": "disable",
                  "ssl_min_protocol_version": "TLSv1.3",
                  "ssl_max_protocol_version": "TLSv1.3", "sslsni": "0"}
        ci += "".join(" %s=%s" % (k, v) for k, v in chosen.items() if k in known)
    libpq_says = ask_libpq(libpqs, libpq, ci, home)
    r = run_preloaded([libpqs.helper(libpq), "PQconnectdb", ci], home=home)
    assert r.returncode == 0 and r.stdout.startswith("status=ok ssl=1"), r.describe()
    rec = r.record
    assert rec["libpq"] == version_text(libpq_says["version"]), r.describe()
    assert rec["libpq"].split(".")[0] == str(libpq)
    for k in VERSIONED:
        if k in libpq_says["options"]:
            assert k in rec, (k, r.describe())
            assert rec[k] == libpq_says["options"][k], (k, r.describe())
        else:
            assert k not in rec, (k, r.describe())


# ----------------------------------------------------------------------------- the rules

@dataclasses.dataclass(frozen=True)
class Case:
    """One client configuration: settings appended to the connection string (sslmode None:
    set nowhere), where the OpenSSL default store is ("file": SSL_CERT_FILE names the
    server's CA; "dir": SSL_CERT_DIR is a hashed directory holding it; "wrong": the file
    holds an unrelated CA), and the oldest libpq that knows every keyword."""
    settings: tuple
    store: str = "file"
    since: int = 13
    # False: after_rotation is not judged, the failure being the server's doing and no
    # rule of libpq's (a TLS version range the server does not offer)
    rotation: bool = True

    @property
    def name(self):
        return " ".join("%s=%s" % kv for kv in self.settings) + " [store: %s]" % self.store


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _with_mode(mode, *rest):
    return ((("sslmode", mode),) if mode else ()) + tuple(rest)


CASES = (
    # sslrootcert=system: 16+ the OpenSSL default store, verify-full only (an unset sslmode
    # becomes verify-full); before 16 a file called "system" (none here)
    [Case(_with_mode(m, ("sslrootcert", "system"))) for m in (None,) + SSLMODES] +
    [Case(_with_mode(m, ("sslrootcert", "system")), store="dir") for m in (None, "verify-full")] +
    [Case(_with_mode(m, ("sslrootcert", "system")), store="wrong") for m in (None, "require")] +
    # sslnegotiation (17+): direct only with require or stronger
    [Case(_with_mode(m, ("sslrootcert", "{ca}"), ("sslnegotiation", "direct")), since=17)
     for m in SSLMODES] +
    [Case(_with_mode(None, ("sslnegotiation", "direct")), since=17),
     Case(_with_mode("prefer", ("sslnegotiation", "postgres")), since=17),
     Case(_with_mode("require", ("sslnegotiation", "tls")), since=17),
     Case(_with_mode("verify-full", ("sslrootcert", "system"), ("sslnegotiation", "direct")),
          since=17)] +
    # sslcertmode (16+): require needs TLS and a client certificate to send
    [Case(_with_mode(m, ("sslcertmode", c)), since=16)
     for m, c in (("require", "disable"), ("prefer", "allow"), ("require", "require"),
                  ("disable", "require"), ("prefer", "require"), ("require", "always"))] +
    # the TLS version range (13+)
    [Case(_with_mode("require", *r)) for r in (
        (("ssl_min_protocol_version", "TLSv1.2"), ("ssl_max_protocol_version", "TLSv1")),
        (("ssl_min_protocol_version", "tlsv1.3"), ("ssl_max_protocol_version", "TLSV1.3")),
        (("ssl_min_protocol_version", "TLSv1.4"),),
        (("ssl_max_protocol_version", "TLSv1.1"),),
        (("ssl_min_protocol_version", "TLSv1"), ("ssl_max_protocol_version", "TLSv1.3")),
        (("ssl_min_protocol_version", ""), ("ssl_max_protocol_version", "TLSv1.2")))] +
    [Case(_with_mode("disable", ("ssl_min_protocol_version", "TLSv1.3"),
                     ("ssl_max_protocol_version", "TLSv1.2")))] +
    # a range the server (TLSv1.2 at least) does not offer: libpq's handshake fails, and
    # so must the side probe of dry-run, with the same bounds
    [Case(_with_mode("require", *r), rotation=False) for r in (
        (("ssl_min_protocol_version", "TLSv1"), ("ssl_max_protocol_version", "TLSv1.1")),
        (("ssl_min_protocol_version", ""), ("ssl_max_protocol_version", "TLSv1.1")))] +
    # sslsni (14+)
    [Case(_with_mode("verify-full", ("sslrootcert", "{ca}"), ("sslsni", "0")), since=14)] +
    # an sslmode no version knows
    [Case(_with_mode("verify-fully", ("sslrootcert", "{ca}")))]
)


@dataclasses.dataclass
class Stores:
    ca_file: str
    ca_dir: str
    wrong_file: str
    empty_dir: str

    def env(self, store):
        if store == "dir":
            return {"SSL_CERT_FILE": os.path.join(self.empty_dir, "none.pem"),
                    "SSL_CERT_DIR": self.ca_dir}
        return {"SSL_CERT_FILE": self.wrong_file if store == "wrong" else self.ca_file,
                "SSL_CERT_DIR": self.empty_dir}


def make_stores(server):
    """OpenSSL default stores made of the server's CA (a file, a hashed directory) and of
    an unrelated CA."""
    d = scratch_dir("stores-")
    ca_dir, empty = os.path.join(d, "certs"), os.path.join(d, "empty")
    os.makedirs(ca_dir)
    os.makedirs(empty)
    h = subprocess.run(["openssl", "x509", "-noout", "-hash", "-in", server.ca_file],
                       capture_output=True, text=True, check=True).stdout.strip()
    shutil.copyfile(server.ca_file, os.path.join(ca_dir, h + ".0"))
    for p in (d, ca_dir, empty):
        os.chmod(p, 0o755)
    return Stores(server.ca_file, ca_dir, server.wrong_ca_file, empty)


def case_conninfo(server, case):
    ci = server.conninfo(host="localhost", hostaddr="127.0.0.1")
    for k, v in case.settings:
        ci += " %s='%s'" % (k, v.replace("{ca}", server.ca_file))
    return ci


def ok(r):
    return r.returncode == 0 and r.stdout.startswith("status=ok")


def first_line(text):
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def judge_case(case, server, stores, pqcall, home):
    """[(what, agrees, explanation)] for one case."""
    ci = case_conninfo(server, case)
    env = dict(stores.env(case.store), PQTLS_NEW_CA=server.ca_file,
               PQTLS_BUNDLE=server.ca_file, PQTLS_PROBE_TIMEOUT_MS="20000")
    plain = run_plain([pqcall, "PQconnectdb", ci], env_extra=stores.env(case.store), home=home)
    observe = run_preloaded([pqcall, "PQconnectdb", ci], env_extra=env, home=home)
    dry = run_preloaded([pqcall, "PQconnectdb", ci], env_extra=env, home=home, mode="dry-run")
    enforce = run_preloaded([pqcall, "PQconnectdb", ci], env_extra=env, home=home,
                            mode="enforce")
    out = []
    rec = observe.records[0] if len(observe.records) == 1 else {}
    predicted = rec.get("after_rotation")
    out.append(("after_rotation", not case.rotation or
                (predicted == "breaks") == (not ok(plain)) and
                predicted in ("breaks", "ready", "unaffected"),
                "after_rotation %r (%s); libpq: %s" % (
                    predicted, rec.get("after_rotation_detail"), first_line(plain.stdout))))
    out.append(("observe is transparent", (observe.returncode, observe.stdout) ==
                (plain.returncode, plain.stdout), first_line(observe.stderr)))
    drec = dry.records[0] if len(dry.records) == 1 else {}
    dr = drec.get("dry_run") or {}
    out.append(("dry_run == enforce", dr.get("result") == ("pass" if ok(enforce) else "fail"),
                "dry_run %s/%s: %s; enforce: %s" % (dr.get("result"), dr.get("reason"),
                                                   dr.get("detail"),
                                                   first_line(enforce.stdout))))
    return out


def test_each_version_rules_agree_with_libpq(libpq, libpqs, capsys):
    """Every case of CASES that this libpq knows: pqtls's prediction equals what the
    real libpq of this version did."""
    server = libpqs.server(libpq)
    pqcall = libpqs.helper(libpq)
    stores = make_stores(server)
    home = scratch_dir("home-")
    os.chmod(home, 0o755)
    cases = [c for c in CASES if c.since <= libpq]
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda c: (c, judge_case(c, server, stores, pqcall, home)),
                              cases))
    checks = [(c, what, agrees, why) for c, res in results for what, agrees, why in res]
    bad = [ch for ch in checks if not ch[2]]
    text = "versions, libpq %d: %d/%d agree (%d cases)" % (
        libpq, len(checks) - len(bad), len(checks), len(cases))
    if bad:
        text += "\n" + "\n".join("  %s | %s: %s" % (c.name, what, why) for c, what, _, why in bad)
    with capsys.disabled():
        sys.stdout.write("\n" + text + "\n")
    assert not bad, text


# ----------------------------------------------------------------------------- the system store

# Two connections in one process, through that libpq (ctypes): the OpenSSL default store
# file is rewritten between them.
TWO_CONNECTIONS = r"""
import ctypes, shutil, sys
pq = ctypes.CDLL(sys.argv[1])
pq.PQconnectdb.restype = ctypes.c_void_p
pq.PQconnectdb.argtypes = [ctypes.c_char_p]
pq.PQstatus.argtypes = [ctypes.c_void_p]
pq.PQfinish.argtypes = [ctypes.c_void_p]
for source in sys.argv[4:]:
    shutil.copyfile(source, sys.argv[3])
    conn = pq.PQconnectdb(sys.argv[2].encode())
    print("status=%d" % pq.PQstatus(conn))
    pq.PQfinish(conn)
"""


def test_system_store_answer_follows_its_file(libpq, libpqs, home):
    """sslrootcert=system (16+): pqtls keeps its answer from the OpenSSL default store
    (loading it costs OpenSSL milliseconds), but not past a change of the store's file:
    with the server's CA put in the file between two connections of one process, the
    first is `breaks` and fails, the second `ready` and connects."""
    if libpq < 16:
        pytest.skip("sslrootcert=system is libpq 16's")
    server = libpqs.server(libpq)
    store = os.path.join(scratch_dir("store-"), "cert.pem")
    ci = server.conninfo(host="localhost", hostaddr="127.0.0.1", sslrootcert="system")
    r = run_preloaded([PYTHON, "-c", TWO_CONNECTIONS, os.path.join(libpqs.dir(libpq),
                       "libpq.so.5"), ci, store, server.wrong_ca_file, server.ca_file],
                      env_extra={"SSL_CERT_FILE": store, "SSL_CERT_DIR": home,
                                 "PQTLS_NEW_CA": server.ca_file}, home=home)
    assert r.returncode == 0, r.describe()
    assert r.stdout.split() == ["status=1", "status=0"], r.describe()     # BAD, then OK
    assert [rec.get("after_rotation") for rec in r.records] == ["breaks", "ready"], \
        r.describe()
    assert all(rec["rootcert_file"] == store and rec["sslmode"] == "verify-full"
               for rec in r.records), r.describe()


# ----------------------------------------------------------------------------- host names

# Certificates whose host-name verdict changed in libpq 15 (iPAddress SANs; before, only
# dNSNames counted and the CN was consulted exactly when there was none):
# name -> (subject, SANs, hosts).
HOST_CERTS = {
    "dns-and-ip": ("/CN=localhost", ["DNS:localhost", "IP:127.0.0.1"], ["127.0.0.1", "localhost"]),
    "ip-only": ("/O=pqtls", ["IP:192.0.2.1"], ["192.0.2.1"]),
    "ip-cn-and-ip-san": ("/CN=192.0.2.1", ["IP:192.0.2.2"], ["192.0.2.1", "192.0.2.2"]),
    "ip-cn-and-dns-san": ("/CN=192.0.2.1", ["DNS:db.pqtls.test"], ["192.0.2.1", "db.pqtls.test"]),
}


def test_host_name_rules_of_each_version(libpq, libpqs, home, capsys):
    """verify-full's host-name check by the serving libpq's rules: for each certificate
    and host, dry_run.result is `pass` exactly when that libpq connects with verify-full,
    and after_rotation (the new CA being the one in use) is `breaks` exactly when it
    fails."""
    server = libpqs.server(libpq)
    pqcall = libpqs.helper(libpq)
    checks = []
    try:
        for name, (subject, sans, hosts) in HOST_CERTS.items():
            cert = server.make_cert(name, sans=sans, subject=subject, name="host-" + name,
                                    key_type="ec")
            server.set_server_cert(cert)
            for host in hosts:
                ci = server.conninfo(host=host, hostaddr="127.0.0.1", sslmode="verify-full",
                                     sslrootcert=server.ca_file)
                env = {"PQTLS_BUNDLE": server.ca_file, "PQTLS_NEW_CA": server.ca_file}
                plain = run_plain([pqcall, "PQconnectdb", ci], home=home)
                dry = run_preloaded([pqcall, "PQconnectdb", ci], env_extra=env, home=home,
                                    mode="dry-run")
                rec = dry.records[0] if len(dry.records) == 1 else {}
                dr = rec.get("dry_run") or {}
                checks.append(("%s host=%s" % (name, host), ok(plain),
                               dr.get("result") == ("pass" if ok(plain) else "fail") and
                               (rec.get("after_rotation") == "breaks") == (not ok(plain)),
                               "libpq: %s; dry_run %s (%s); after_rotation %s" % (
                                   first_line(plain.stdout), dr.get("result"),
                                   dr.get("detail"), rec.get("after_rotation"))))
    finally:
        server.restore_server_cert()
    bad = [c for c in checks if not c[2]]
    text = "host names, libpq %d: %d/%d agree (%d connect)" % (
        libpq, len(checks) - len(bad), len(checks), sum(c[1] for c in checks))
    text += "".join("\n  %s: %s" % (c[0], c[3]) for c in bad)
    with capsys.disabled():
        sys.stdout.write("\n" + text + "\n")
    assert not bad, text


# ----------------------------------------------------------------------------- enforce

@pytest.mark.parametrize("extra", [
    "ssl_min_protocol_version='' ssl_max_protocol_version=TLSv1",
    "ssl_min_protocol_version='' ssl_max_protocol_version=TLSv1.2",
    "sslsni='' ssl_max_protocol_version=TLSv1.2",
], ids=["no-floor-tls1", "no-floor-tls12", "no-sni"])
def test_enforce_keeps_empty_values(libpq, libpqs, home, extra):
    """enforce changes sslmode and sslrootcert and nothing else: a value the connection
    string sets empty (no TLS floor, no SNI; 13+ and 14+) stays empty instead of turning
    into libpq's default. What enforce does equals what this libpq does with the same
    string and the forced settings appended."""
    if "sslsni" in extra and libpq < 14:
        pytest.skip("sslsni is libpq 14's")
    server = libpqs.server(libpq)
    pqcall = libpqs.helper(libpq)
    ci = server.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="prefer") + " " + extra
    forced = ci + " sslmode=verify-full sslrootcert='%s' gssencmode=disable" % server.ca_file
    plain = run_plain([pqcall, "PQconnectdb", forced], home=home)
    enforce = run_preloaded([pqcall, "PQconnectdb", ci], home=home, mode="enforce",
                            env_extra={"PQTLS_BUNDLE": server.ca_file})
    assert (enforce.returncode, first_line(enforce.stdout)) == \
        (plain.returncode, first_line(plain.stdout)), enforce.describe()
    rec = enforce.record
    assert rec["sslmode"] == "verify-full" and rec["sslrootcert"] == server.ca_file, \
        enforce.describe()
    for k, v in (kv.split("=", 1) for kv in extra.split()):
        assert rec[k] == v.strip("'"), (k, enforce.describe())
