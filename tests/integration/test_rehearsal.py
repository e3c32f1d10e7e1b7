"""The rotation rehearsal (issue 3): every prediction pqtls makes about a CA rotation
is checked against what libpq then really does, on the real server.

A PKI made at test time mirrors Amazon RDS: an old root ("rds-ca-2019") that issues the
old server certificate directly, and a new root ("rds-ca-rsa2048-g1") whose subordinate
CA ("G1.A.1") issues the new one; after the rotation the server sends leaf and
intermediate. Both certificates name the cluster endpoint with a wildcard SAN.

Every client configuration (six sslmodes x eight root file options x a host name that
matches and one that does not, all with hostaddr=127.0.0.1; plus a sample set through
PGSSLMODE/PGSSLROOTCERT and a service file; six sslmodes x the trust-file kinds of issue 10
as root file: one damaged block, DER, CRLF with text between blocks, intermediate only,
empty; 24 with sslrootcert=system, the OpenSSL default store (libpq 16+; a missing file
called "system" before) made a file (one of them with a damaged block) or a hashed
directory with SSL_CERT_FILE/SSL_CERT_DIR; under libpq 17 and later, 47 more with
sslnegotiation=direct) runs with the server on the OLD certificate (phase 1), then again
after the server rotates to the NEW chain (phase 2), each time:

    plain      pqcall without pqtls                          (reality)
    observe    pqcall under pqtls, PQTLS_MODE=observe
    dry-run    pqcall, PQTLS_MODE=dry-run, for each bundle (new+old, new only; for 16
               configurations also new+old with a damaged block, new in DER, new+old
               with CRLF and text)
    enforce    pqcall, PQTLS_MODE=enforce, for each bundle   (reality of verify-full)
    psql       psql without pqtls, the same settings plus sslmode=verify-full
               sslrootcert=<bundle> appended last            (reference; libpq 15)
    reference  under any other libpq: the plain pqcall with sslmode=verify-full
               sslrootcert=<bundle> appended last            (reference)

all with PQTLS_NEW_CA=<new root>.

The whole rehearsal runs once per libpq of the version matrix (tests/lib/embedded.py:
Debian's 15, and 13, 14, 16, 17, 18 from their npm packages, each with its own OpenSSL),
with pqcall built against that libpq, against the same server. Libpq 15 always runs
every configuration; another version runs a sample of them unless every version is
selected (make test-matrix) or PQTLS_REHEARSAL_FULL=1; the output says which. The comparisons, for every configuration:

- observe and dry-run behave exactly like plain (exit status and output);
- dry_run.result (pass/fail) == enforce's real outcome == psql's real outcome, for each
  bundle, in both phases;
- after_rotation, read in phase 1, says what phase 2 then really shows: `breaks` exactly
  when the plain connection fails after the rotation, `downgrades` exactly when it then
  succeeds without TLS although it used TLS before, `ready` or `unaffected` otherwise.

The figure "rotation rehearsal, libpq N: agree/total predictions agree" is printed for each
version; any disagreement fails the test with the whole list (configuration, phase, bundle,
predicted, actual, detail).
"""

import dataclasses
import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Tuple

import pytest

import embedded
import harness
from harness import HELPERS_DIR, run_plain, run_preloaded, scratch_dir
from pgserver import conninfo_quote

PQCALL = os.path.join(HELPERS_DIR, "pqcall")         # Debian's libpq (15)
WORKERS = 8
# Another libpq than Debian's runs one configuration in SAMPLE_EVERY unless all are asked
# for (make test-matrix, PQTLS_REHEARSAL_FULL=1): which ones depends on the version, so
# the sampled versions of one run cover different configurations.
SAMPLE_EVERY = 3

# ----------------------------------------------------------------------------- the PKI

CLUSTER = "cluster-pqtls.us-east-1.rds.test"
HOST_MATCH = "db1." + CLUSTER            # matches *.cluster-pqtls...
HOST_OTHER = "other.rds.test"            # matches nothing the certificates name

OLD_ROOT_CN = "pqtls-rds-ca-2019"
NEW_ROOT_CN = "pqtls-rds-ca-rsa2048-g1"
NEW_SUB_CN = "pqtls Subordinate CA RSA2048 G1.A.1"
UNRELATED_CN = "pqtls unrelated root CA"


def rds_subject(cn):
    """A subject shaped like Amazon's (G1 subjects put L after CN)."""
    return "/C=US/O=pqtls test PKI/OU=Amazon RDS mirror/ST=WA/CN=%s/L=Seattle" % cn


# The root file options a client can have: a file given as sslrootcert, HOME's
# ~/.postgresql/root.crt holding the old root ("home-old"), or nothing at all ("none").
ROOT_FILES = ("old", "new", "both", "unrelated", "garbage", "missing")
ROOTS = ROOT_FILES + ("home-old", "none")
# Trust files as they are found on real machines (issue 10), which libpq's OpenSSL loads
# (usable) or refuses whole (every connection that reads it fails):
#   both+damaged   both roots and one damaged CERTIFICATE block (lines lost)   refused
#   new-der        the new root in DER                                         refused
#   both-crlf      both roots, CRLF line ends and text between the blocks      usable
#   sub-only       the new subordinate CA alone (an intermediate-only file)    usable
#   empty          an empty file                                               refused
KIND_FILES = ("both+damaged", "new-der", "both-crlf", "sub-only", "empty")
# sslrootcert=system (libpq 16+: the OpenSSL default store; before 16 a file called
# "system", which does not exist): the store is SSL_CERT_FILE naming one of ROOT_FILES
# ("system-old": the old root), or ("system-dir-new") SSL_CERT_DIR, a hashed directory
# holding the new root, with SSL_CERT_FILE naming no file.
#
# "system-both+damaged": SSL_CERT_FILE holds both roots and a damaged block; libpq loads
# the store with SSL_CTX_set_default_verify_paths, which never fails: such a file trusts
# nothing.
SYSTEM_ROOTS = ("system-old", "system-new", "system-both", "system-dir-new",
                "system-both+damaged")
# The bundles the rehearsal judges against (PQTLS_BUNDLE), and the trust-file kinds as
# bundles, which a sample of configurations (KIND_BUNDLE_CONFIGS) is also judged against.
BUNDLES = ("new+old", "new")
KIND_BUNDLES = ("new+old+damaged", "new-der", "new+old-crlf")


def damaged(path, out):
    """The PEM file at path with three base64 lines of its body lost (a bad copy)."""
    with open(path) as f:
        lines = f.read().splitlines(True)
    assert len(lines) > 8
    with open(out, "w") as f:
        f.write("".join(lines[:3] + lines[6:]))
    return out


def as_der(path, out):
    """The first certificate of a PEM file, as DER."""
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    with open(out, "wb") as f:
        f.write(der)
    return out


def crlf_with_text(path, out):
    """The PEM file with CRLF line ends and text before, between and after the blocks."""
    with open(path) as f:
        text = f.read()
    text = text.replace("-----END CERTIFICATE-----\n",
                        "-----END CERTIFICATE-----\n\nsubject=the next one\n# a comment\n")
    with open(out, "w", newline="") as f:
        f.write("# the CAs of the rehearsal\r\n" + text.replace("\n", "\r\n"))
    return out


@dataclasses.dataclass
class Pki:
    old_root: object                 # pgserver.Cert
    new_root: object
    new_sub: object
    old_server: object               # issued by old_root
    new_server: object               # issued by new_sub
    new_chain: str                   # new_server + new_sub, what the server sends after
    files: dict                      # ROOT_FILES name -> path (sslrootcert values)
    bundles: dict                    # BUNDLES name -> path (PQTLS_BUNDLE values)
    new_ca: str                      # PQTLS_NEW_CA
    home_empty: str                  # a HOME without ~/.postgresql
    home_old: str                    # a HOME whose ~/.postgresql/root.crt is the old root
    service_file: str                # PGSERVICEFILE, one section per service config
    store_dir_new: str = ""          # a hashed directory holding the new root (SSL_CERT_DIR)
    store_dir_empty: str = ""        # an empty directory (SSL_CERT_DIR for file stores)


@pytest.fixture(scope="module")
def pki(pg):
    """The RDS-like PKI, trust files, bundles, HOMEs and service file (EC keys: fast)."""
    with ThreadPoolExecutor(3) as ex:
        f_old = ex.submit(pg.make_ca, OLD_ROOT_CN, subject=rds_subject(OLD_ROOT_CN),
                          key_type="ec", name="rds-ca-2019")
        f_new = ex.submit(pg.make_ca, NEW_ROOT_CN, subject=rds_subject(NEW_ROOT_CN),
                          key_type="ec", name="rds-ca-rsa2048-g1")
        f_unrel = ex.submit(pg.make_ca, UNRELATED_CN, key_type="ec", name="unrelated-root")
        old_root, new_root, unrelated = f_old.result(), f_new.result(), f_unrel.result()
    new_sub = pg.make_ca(NEW_SUB_CN, issuer=new_root, subject=rds_subject(NEW_SUB_CN),
                         key_type="ec", name="rds-sub-g1-a1")
    sans = ["DNS:*." + CLUSTER, "DNS:" + CLUSTER]
    old_server = pg.make_cert("pqtls." + CLUSTER, sans=sans, issuer=old_root, key_type="ec",
                              name="rds-server-2019")
    new_server = pg.make_cert("pqtls." + CLUSTER, sans=sans, issuer=new_sub, key_type="ec",
                              name="rds-server-g1")
    new_chain = pg.bundle(new_server, new_sub, name="rds-server-g1-chain")

    d = scratch_dir("rehearsal-")
    garbage = os.path.join(d, "garbage.crt")
    with open(garbage, "w") as f:       # what a download gone wrong leaves behind
        f.write("<html><head><title>404 Not Found</title></head>\n"
                "<body><h1>Not Found</h1></body></html>\n")
    files = {
        "old": pg.bundle(old_root, name="trust-old"),
        "new": pg.bundle(new_root, name="trust-new"),
        "both": pg.bundle(old_root, new_root, name="trust-both"),
        "unrelated": pg.bundle(unrelated, name="trust-unrelated"),
        "garbage": garbage,
        "missing": os.path.join(d, "no-such-dir", "root.crt"),
    }
    bad_block = damaged(unrelated.cert, os.path.join(d, "damaged-block.pem"))
    files.update({
        "both+damaged": pg.bundle(old_root, new_root, bad_block, name="trust-both-damaged"),
        "new-der": as_der(new_root.cert, os.path.join(d, "trust-new.der")),
        "both-crlf": crlf_with_text(files["both"], os.path.join(d, "trust-both-crlf.pem")),
        "sub-only": pg.bundle(new_sub, name="trust-sub-only"),
        "empty": os.path.join(d, "trust-empty.pem"),
    })
    open(files["empty"], "w").close()
    bundles = {
        "new+old": pg.bundle(new_root, old_root, name="bundle-new-old"),
        "new": pg.bundle(new_root, name="bundle-new"),
        "new+old+damaged": pg.bundle(new_root, old_root, bad_block, name="bundle-damaged"),
        "new-der": as_der(new_root.cert, os.path.join(d, "bundle-new.der")),
    }
    bundles["new+old-crlf"] = crlf_with_text(bundles["new+old"],
                                             os.path.join(d, "bundle-new-old-crlf.pem"))
    home_empty = os.path.join(d, "home-empty")
    home_old = os.path.join(d, "home-old")
    os.makedirs(home_empty)
    os.makedirs(os.path.join(home_old, ".postgresql"))
    shutil.copyfile(old_root.cert, os.path.join(home_old, ".postgresql", "root.crt"))
    for h in (d, home_empty, home_old, os.path.join(home_old, ".postgresql")):
        os.chmod(h, 0o755)
    for f in list(files.values()) + list(bundles.values()):
        if os.path.exists(f):
            os.chmod(f, 0o644)

    p = Pki(old_root, new_root, new_sub, old_server, new_server, new_chain, files, bundles,
            new_root.cert, home_empty, home_old, os.path.join(d, "pg_service.conf"),
            os.path.join(d, "store-dir-new"), os.path.join(d, "store-dir-empty"))
    os.makedirs(p.store_dir_new)
    os.makedirs(p.store_dir_empty)
    name_hash = subprocess.run(["openssl", "x509", "-noout", "-hash", "-in", new_root.cert],
                               capture_output=True, text=True, check=True).stdout.strip()
    shutil.copyfile(new_root.cert, os.path.join(p.store_dir_new, name_hash + ".0"))
    for h in (p.store_dir_new, p.store_dir_empty):
        os.chmod(h, 0o755)
    with open(p.service_file, "w") as f:
        f.write("# services of the rotation rehearsal\n")
        for c in CONFIGS:
            if c.source in ("service", "pgservice"):
                f.write("\n[%s]\n" % c.service_name)
                for k, v in c.settings(p).items():
                    f.write("%s=%s\n" % (k, v))
    return p


# ----------------------------------------------------------------------------- configurations

@dataclasses.dataclass(frozen=True)
class Config:
    """One client configuration.

    sslmode   one of the six, or None: set nowhere (libpq's default, prefer)
    root      one of ROOTS
    host      the host name the client uses (hostaddr=127.0.0.1 carries the address)
    source    where sslmode and sslrootcert are set: "conninfo", "env" (PGSSLMODE,
              PGSSLROOTCERT), "service" (service=... in the conninfo, PGSERVICEFILE) or
              "pgservice" (PGSERVICE and PGSERVICEFILE)
    negotiation  sslnegotiation, set where sslmode is ("direct": TLS from the first byte,
              libpq 17 and later against a server of 17 or later); None: not set
    """
    sslmode: Optional[str]
    root: str
    host: str
    source: str = "conninfo"
    negotiation: Optional[str] = None

    @property
    def name(self):
        return "%s/sslmode=%s/root=%s/host=%s%s" % (
            self.source, self.sslmode or "(unset)", self.root, self.host,
            "/sslnegotiation=" + self.negotiation if self.negotiation else "")

    @property
    def service_name(self):
        return "rds-%s-%s-%s%s" % (self.sslmode or "default", self.root,
                                   "match" if self.host == HOST_MATCH else "other",
                                   "-" + self.negotiation if self.negotiation else "")

    @property
    def min_libpq(self):
        """The oldest libpq that knows every setting of this configuration."""
        return 17 if self.negotiation else 13

    def settings(self, pki):
        """sslmode, sslnegotiation and sslrootcert as this configuration sets them
        (wherever)."""
        s = {}
        if self.sslmode is not None:
            s["sslmode"] = self.sslmode
        if self.negotiation is not None:
            s["sslnegotiation"] = self.negotiation
        if self.root in ROOT_FILES + KIND_FILES:
            s["sslrootcert"] = pki.files[self.root]
        elif self.root in SYSTEM_ROOTS:
            s["sslrootcert"] = "system"
        return s

    def store_env(self, pki):
        """The OpenSSL default store of a SYSTEM_ROOTS configuration."""
        if self.root == "system-dir-new":
            return {"SSL_CERT_FILE": os.path.join(pki.store_dir_empty, "none.pem"),
                    "SSL_CERT_DIR": pki.store_dir_new}
        if self.root in SYSTEM_ROOTS:
            return {"SSL_CERT_FILE": pki.files[self.root[len("system-"):]],
                    "SSL_CERT_DIR": pki.store_dir_empty}
        return {}

    def bundles(self):
        """The PQTLS_BUNDLE values this configuration is judged against."""
        return BUNDLES + (KIND_BUNDLES if self in KIND_BUNDLE_CONFIGS else ())

    def home(self, pki):
        return pki.home_old if self.root == "home-old" else pki.home_empty

    def conninfo(self, pg, pki, **last):
        """The key=value string; `last` are appended at the end (so they win)."""
        ci = pg.conninfo(host=self.host, hostaddr="127.0.0.1")
        if self.source == "conninfo":
            for k, v in self.settings(pki).items():
                ci += " %s=%s" % (k, conninfo_quote(v))
        elif self.source == "service":
            ci += " service=" + self.service_name
        for k, v in last.items():
            ci += " %s=%s" % (k, conninfo_quote(os.fspath(v)))
        return ci

    def env(self, pki):
        """The environment this configuration needs (beyond HOME)."""
        return dict(self.source_env(pki), **self.store_env(pki))

    def source_env(self, pki):
        if self.source == "env":
            names = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                     "sslnegotiation": "PGSSLNEGOTIATION"}
            return {names[k]: v for k, v in self.settings(pki).items()}
        if self.source == "service":
            return {"PGSERVICEFILE": pki.service_file}
        if self.source == "pgservice":
            return {"PGSERVICEFILE": pki.service_file, "PGSERVICE": self.service_name}
        return {}


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
M, O = HOST_MATCH, HOST_OTHER

CONFIGS = [Config(mode, root, host) for mode in SSLMODES for root in ROOTS
           for host in (M, O)] + [
    # libpq's default sslmode (prefer): set nowhere
    Config(None, "home-old", M), Config(None, "unrelated", M),
    # through the environment (PGSSLMODE, PGSSLROOTCERT)
    Config("verify-full", "old", M, "env"), Config("verify-full", "both", O, "env"),
    Config("verify-ca", "new", M, "env"), Config("require", "home-old", M, "env"),
    Config("prefer", "old", M, "env"), Config("allow", "old", M, "env"),
    # through a service file (service=... in the conninfo, or PGSERVICE)
    Config("verify-full", "both", M, "service"), Config("prefer", "old", M, "service"),
    Config("require", "missing", M, "service"), Config("verify-ca", "old", M, "pgservice"),
] + [
    # direct TLS (libpq 17+, against the server of the same major): every sslmode, the
    # weak ones being refused by libpq, with the root files that decide a verdict
    Config(mode, root, host, negotiation="direct") for mode in SSLMODES
    for root in ("old", "new", "both", "home-old", "none") for host in (M, O)
    if host == M or root in ("both", "new")] + [
    Config("verify-full", "both", M, "env", "direct"), Config("require", "old", M, "env", "direct"),
    Config("verify-ca", "new", M, "service", "direct"),
] + [
    # sslrootcert=system: verify-full, set or (16+) by default, against each store; the
    # weaker sslmodes that libpq 16+ refuses with it; and with direct TLS
    Config(mode, root, host) for mode in (None, "verify-full") for root in SYSTEM_ROOTS
    for host in (M, O)] + [
    Config(mode, "system-both", M) for mode in ("disable", "prefer", "require", "verify-ca")
] + [
    Config("verify-full", "system-new", M, negotiation="direct"),
    Config("require", "system-both", M, negotiation="direct"),
] + [
    # the trust-file kinds as root files: every sslmode, the matching host name
    Config(mode, root, M) for mode in SSLMODES for root in KIND_FILES] + [
    Config("verify-full", "both+damaged", M, "env"), Config("verify-ca", "new-der", M, "service"),
    Config("require", "both-crlf", O, "env"), Config(None, "empty", M),
]

# The configurations also judged against the trust-file kinds as PQTLS_BUNDLE: each
# sslmode with no root file and with the old one, and the system store.
KIND_BUNDLE_CONFIGS = frozenset(
    [Config(mode, root, M) for mode in SSLMODES for root in ("none", "old")] +
    [Config("verify-full", "both", O), Config("verify-full", "system-old", M)])


# ----------------------------------------------------------------------------- running

@dataclasses.dataclass(frozen=True)
class Run:
    config: Config
    kind: str                        # plain, observe, dry-run, enforce, psql, reference
    bundle: Optional[str] = None     # for dry-run, enforce, psql, reference


@dataclasses.dataclass(frozen=True)
class Client:
    """The libpq a rehearsal runs under: its major and pqcall built against it."""
    major: int
    pqcall: str

    @property
    def reference(self):
        """psql exists only with Debian's libpq; elsewhere the reference is pqcall."""
        return "psql" if self.major == embedded.SYSTEM_MAJOR else "reference"


def run_kinds(client, config):
    return [("plain", None), ("observe", None)] + \
        [(kind, b) for kind in ("dry-run", "enforce", client.reference)
         for b in config.bundles()]


def execute(run, pg, pki, client):
    """Run one case; returns the harness's RunResult."""
    c = run.config
    env = c.env(pki)
    home = c.home(pki)
    pqcall = client.pqcall
    if run.kind == "plain":
        return run_plain([pqcall, "PQconnectdb", c.conninfo(pg, pki)], env_extra=env,
                         home=home)
    if run.kind == "psql":
        ci = c.conninfo(pg, pki, sslmode="verify-full", sslrootcert=pki.bundles[run.bundle])
        return run_plain([pg.bin("psql"), "-X", "-A", "-t", "-c", "select 1", "-d", ci],
                         env_extra=env, home=home)
    if run.kind == "reference":
        ci = c.conninfo(pg, pki, sslmode="verify-full", sslrootcert=pki.bundles[run.bundle])
        return run_plain([pqcall, "PQconnectdb", ci], env_extra=env, home=home)
    # A generous probe bound: on a loaded machine a side handshake must not turn into a
    # `timeout` verdict (timeouts are not what this test is about).
    env = dict(env, PQTLS_NEW_CA=pki.new_ca, PQTLS_PROBE_TIMEOUT_MS="20000")
    if run.bundle is not None:
        env["PQTLS_BUNDLE"] = pki.bundles[run.bundle]
    return run_preloaded([pqcall, "PQconnectdb", c.conninfo(pg, pki)], env_extra=env,
                         home=home, mode=run.kind)


def run_phase(pg, pki, configs, client):
    """Every run of every configuration, WORKERS at a time: {Run: RunResult}."""
    runs = [Run(c, kind, b) for c in configs for kind, b in run_kinds(client, c)]
    with ThreadPoolExecutor(max_workers=WORKERS) as ex:
        return dict(zip(runs, ex.map(lambda r: execute(r, pg, pki, client), runs)))


def configs_for(major):
    """(configurations, how they were chosen) for one libpq major: those whose settings
    it knows, all of them or a sample."""
    known = [c for c in CONFIGS if c.min_libpq <= major]
    full = (major == embedded.SYSTEM_MAJOR or embedded.all_versions_selected()
            or os.environ.get("PQTLS_REHEARSAL_FULL") == "1")
    if full:
        return known, "all configurations"
    picked = [c for c in known
              if int(hashlib.sha256(("%d %s" % (major, c.name)).encode()).hexdigest(), 16)
              % SAMPLE_EVERY == 0]
    return picked, ("a sample of %d of %d configurations (all: make test-matrix or "
                    "PQTLS_REHEARSAL_FULL=1)" % (len(picked), len(known)))


def pqcall_outcome(r):
    """What a pqcall run really did: "tls" (connected with TLS), "plaintext"
    (connected without), or "failed"."""
    if r.returncode == 0 and r.stdout.startswith("status=ok ssl=1"):
        return "tls"
    if r.returncode == 0 and r.stdout.startswith("status=ok ssl=0"):
        return "plaintext"
    return "failed"


def psql_ok(r):
    return r.returncode == 0 and r.stdout.strip() == "1"


def reference_ok(kind, r):
    """Whether the reference run (psql, or pqcall with verify-full) connected."""
    return psql_ok(r) if kind == "psql" else pqcall_outcome(r) == "tls"


def reference_said(kind, r):
    if kind == "psql":
        return "psql verify-full: %s" % (
            "ok" if psql_ok(r) else first_line(r.stderr) or "exit %d" % r.returncode)
    return "pqcall verify-full: %s" % first_line(r.stdout)


def only_record(r):
    return r.records[0] if len(r.records) == 1 else None


def first_line(text):
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


# ----------------------------------------------------------------------------- comparisons

@dataclasses.dataclass
class Check:
    what: str                        # which prediction or property
    config: Config
    phase: int
    bundle: Optional[str]
    predicted: object                # what pqtls said (or did)
    expected: Tuple                  # the values reality allows
    actual: str                      # what really happened, in words
    detail: str = ""                 # the record's own explanation

    @property
    def ok(self):
        return self.predicted in self.expected

    def describe(self):
        return ("%s | phase %d | bundle %s | %s: predicted %r, reality allows %s (%s)%s"
                % (self.config.name, self.phase, self.bundle or "-", self.what, self.predicted,
                   " or ".join(repr(e) for e in self.expected), self.actual,
                   "\n      detail: " + self.detail if self.detail else ""))


def record_problem(r):
    """Why r's records are unusable (None when there is exactly one)."""
    if len(r.records) == 1:
        return None
    return "%d records; stderr: %s" % (len(r.records), first_line(r.stderr))


def phase_checks(phase, results, configs, pki, client):
    """Transparency, dry-run and enforce comparisons of one phase."""
    checks = []
    for c in configs:
        plain = results[Run(c, "plain")]
        reality = (plain.returncode, plain.stdout)
        for kind, b in (("observe", None),) + tuple(("dry-run", b) for b in c.bundles()):
            r = results[Run(c, kind, b)]
            checks.append(Check("%s behaves like plain (exit, stdout)" % kind, c, phase, b,
                                (r.returncode, r.stdout), (reality,), "plain run",
                                first_line(r.stderr)))
            checks.append(Check("%s writes one record" % kind, c, phase, b, len(r.records),
                                (1,), "one connection attempt", record_problem(r) or ""))
        obs = only_record(results[Run(c, "observe")]) or {}
        said = ("tls" if obs.get("tls") else "plaintext") if obs.get("outcome") == "ok" \
            else obs.get("outcome")
        checks.append(Check("observe record's outcome and tls", c, phase, None, said,
                            (pqcall_outcome(plain),), first_line(plain.stdout),
                            obs.get("error") or ""))
        for b in c.bundles():
            enforce = results[Run(c, "enforce", b)]
            ref = results[Run(c, client.reference, b)]
            enforced = "pass" if pqcall_outcome(enforce) == "tls" else "fail"
            referenced = "pass" if reference_ok(client.reference, ref) else "fail"
            how_enforce = "enforce: %s" % first_line(enforce.stdout)
            how_ref = reference_said(client.reference, ref)

            drec = only_record(results[Run(c, "dry-run", b)]) or {}
            dr = drec.get("dry_run") or {}
            detail = "%s/%s: %s" % (dr.get("reason"), dr.get("method"), dr.get("detail"))
            checks.append(Check("dry_run.result == enforce", c, phase, b, dr.get("result"),
                                (enforced,), how_enforce, detail))
            checks.append(Check("dry_run.result == %s" % client.reference, c, phase, b,
                                dr.get("result"), (referenced,), how_ref, detail))

            erec = only_record(enforce)
            edr = (erec or {}).get("dry_run") or {}
            checks.append(Check("enforce record's dry_run.result == enforce", c, phase, b,
                                edr.get("result"), (enforced,), how_enforce,
                                "%s/%s: %s" % (edr.get("reason"), edr.get("method"),
                                               edr.get("detail"))))
            forced_to = ((erec or {}).get("forced") or {}).get("to") or {}
            forced_from = ((erec or {}).get("forced") or {}).get("from") or {}
            checks.append(Check("enforce forced.to", c, phase, b,
                                (forced_to.get("sslmode"), forced_to.get("sslrootcert")),
                                (("verify-full", pki.bundles[b]),), "PQTLS_BUNDLE=" + b,
                                record_problem(enforce) or ""))
            checks.append(Check("enforce forced.from", c, phase, b,
                                (forced_from.get("sslmode"), forced_from.get("sslrootcert")),
                                ((obs.get("sslmode"), obs.get("sslrootcert")),),
                                "the observe record's sslmode and sslrootcert"))
    return checks


def rotation_checks(before, after, configs):
    """after_rotation of phase 1's records against what phase 2 really did."""
    checks = []
    for c in configs:
        was = pqcall_outcome(before[Run(c, "plain")])
        now_run = after[Run(c, "plain")]
        now = pqcall_outcome(now_run)
        if now == "failed":
            expected = ("breaks",)
        elif now == "plaintext" and was == "tls":
            expected = ("downgrades",)
        else:
            expected = ("ready", "unaffected")
        actual = "before: %s, after: %s%s" % (
            was, now, " (%s)" % first_line(now_run.stdout) if now == "failed" else "")
        rec = only_record(before[Run(c, "observe")]) or {}
        predicted = rec.get("after_rotation")
        checks.append(Check("after_rotation", c, 1, None, predicted, expected, actual,
                            "%s (sslmode=%s verify=%s rootcert_file=%s)" % (
                                rec.get("after_rotation_detail"), rec.get("sslmode"),
                                rec.get("verify"), rec.get("rootcert_file"))))
        for b in c.bundles():
            drec = only_record(before[Run(c, "dry-run", b)]) or {}
            checks.append(Check("after_rotation same in dry-run as in observe", c, 1, b,
                                drec.get("after_rotation"), (predicted,), "observe record",
                                drec.get("after_rotation_detail") or ""))
    return checks


def report(checks, seconds, client, configs, chosen, server_version):
    bad = [ch for ch in checks if not ch.ok]
    kinds = {}
    for ch in checks:
        n = kinds.setdefault(ch.what, [0, 0])
        n[0] += ch.ok
        n[1] += 1
    lines = ["rotation rehearsal, libpq %d: %d/%d predictions agree (%d configurations: "
             "%s; server %s; %.1fs)" % (client.major, len(checks) - len(bad), len(checks),
                                        len(configs), chosen, server_version, seconds)]
    lines += ["    %4d/%-4d %s" % (ok, n, what) for what, (ok, n) in kinds.items()]
    if bad:
        lines.append("disagreements (%d):" % len(bad))
        lines += ["  " + ch.describe() for ch in bad]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the tests

def test_rotation_rehearsal(pki, lib, libpq, libpqs, capsys):
    """The rehearsal under one libpq, against a server of the same major (Debian's
    for 15, the embedded package's otherwise: 17 and 18 speak direct TLS)."""
    client = Client(libpq, libpqs.helper(libpq, "pqcall"))
    configs, chosen = configs_for(libpq)
    server = libpqs.server(libpq)
    t0 = time.monotonic()
    try:
        server.set_server_cert(pki.old_server)
        before = run_phase(server, pki, configs, client)
        checks = phase_checks(1, before, configs, pki, client)

        server.set_server_cert(pki.new_chain, key=pki.new_server.key)      # the rotation
        after = run_phase(server, pki, configs, client)
        checks += phase_checks(2, after, configs, pki, client)
        checks += rotation_checks(before, after, configs)
    finally:
        server.restore_server_cert()

    text = report(checks, time.monotonic() - t0, client, configs, chosen, server.version)
    with capsys.disabled():
        sys.stdout.write("\n" + text + "\n")
    bad = [ch for ch in checks if not ch.ok]
    assert not bad, text


def rds_fixture(name):
    """A file of tests/fixtures/rds."""
    path = os.path.join(harness.RDS_FIXTURES, name)
    if not os.path.isfile(path):
        pytest.fail("%s is missing" % path, pytrace=False)
    return path


@pytest.mark.parametrize("bundle_name", ["global-bundle-2025-g1.pem", "global-bundle-2023.pem"])
def test_real_rds_bundles_judge_the_test_pki(pg, pki, lib, bundle_name):
    """The real Amazon RDS bundles load, and a server certificate of the test PKI is
    untrusted-ca against them, with a detail that names the issuer they lack."""
    bundle = rds_fixture(bundle_name)
    c = Config("require", "none", HOST_MATCH)
    for server, key, issuer_cn in ((pki.old_server.cert, pki.old_server.key, OLD_ROOT_CN),
                                   (pki.new_chain, pki.new_server.key, NEW_ROOT_CN)):
        pg.set_server_cert(server, key=key)
        r = run_preloaded([PQCALL, "PQconnectdb", c.conninfo(pg, pki)], home=pki.home_empty,
                          mode="dry-run", env_extra={"PQTLS_BUNDLE": bundle})
        assert pqcall_outcome(r) == "tls", r.describe()
        assert "PQTLS_BUNDLE" not in r.stderr, r.describe()
        dr = r.record["dry_run"]
        assert dr["bundle"] == bundle, r.describe()
        assert (dr["result"], dr["reason"], dr["method"]) == ("fail", "untrusted-ca", "chain"), \
            r.describe()
        assert "CN=" + issuer_cn in dr["detail"], r.describe()
        assert os.path.basename(bundle) in dr["detail"], r.describe()
