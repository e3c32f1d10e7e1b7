"""jdbcmatrix: the configurations of the JDBC rotation rehearsal, pgjdbc's rules as code,
and running them (tests/integration/test_jdbc_rehearsal.py; doc/jdbc-rules.md).

    CONFIGS                     every Config (ssl settings x trust source x host x way)
    pgjdbc_rule(c, phase, pki)  what pgjdbc 42.5.5 does: an Expect
    run_phase(pg, pki, configs) run them all for real: {Config: jdbc.Result}
"""

import dataclasses
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import jdbc
from jdbcpki import HOST_MATCH, HOST_OTHER, PKIX_FAILED
from pgserver import USER_PASSWORD

# ----------------------------------------------------------------------------- configurations

SSL_SETTINGS = {
    "unset": (),
    "disable": (("sslmode", "disable"),),
    "allow": (("sslmode", "allow"),),
    "prefer": (("sslmode", "prefer"),),
    "require": (("sslmode", "require"),),
    "verify-ca": (("sslmode", "verify-ca"),),
    "verify-full": (("sslmode", "verify-full"),),
    "ssl=true": (("ssl", "true"),),
    "ssl=true+require": (("ssl", "true"), ("sslmode", "require")),
    "ssl=false": (("ssl", "false"),),
}

LIBPQ = "org.postgresql.ssl.LibPQFactory"
JAVA = "org.postgresql.ssl.DefaultJavaSSLFactory"
NONVALIDATING = "org.postgresql.ssl.NonValidatingFactory"


@dataclasses.dataclass(frozen=True)
class Trust:
    """A trust source: pgjdbc's sslfactory and what it reads.

    factory     the sslfactory class set, or None (pgjdbc's default, LibPQFactory)
    rootcert    sslrootcert (a key of Pki.files), or None
    home        the JVM's user.home (and HOME): "old" or "empty"
    store       javax.net.ssl.trustStore (a key of Pki.stores), or None
    store_type  javax.net.ssl.trustStoreType, or None (the JDK's default, PKCS12, which
                reads JKS files too)
    """
    factory: Optional[str]
    rootcert: Optional[str] = None
    home: str = "empty"
    store: Optional[str] = None
    store_type: Optional[str] = None

    @property
    def jvm(self):
        """What has to be fixed per JVM (the JDK reads its trust store once)."""
        return (self.home, self.store, self.store_type)


TRUSTS = {
    "rootcert-old": Trust(None, "old"),
    "rootcert-new": Trust(None, "new"),
    "rootcert-both": Trust(None, "both"),
    "rootcert-missing": Trust(None, "missing"),
    "libpqfactory-both": Trust(LIBPQ, "both"),
    "home-old": Trust(None, home="old"),
    "home-none": Trust(None),
    "home-none+truststore": Trust(None, store="jks-both", store_type="JKS"),
    "truststore-jks-old": Trust(JAVA, store="jks-old", store_type="JKS"),
    "truststore-jks-both": Trust(JAVA, store="jks-both"),
    "truststore-p12-old": Trust(JAVA, store="p12-old", store_type="PKCS12"),
    "truststore-p12-both": Trust(JAVA, store="p12-both"),
    "truststore-jdk-cacerts": Trust(JAVA),
    "truststore-missing": Trust(JAVA, store="missing", store_type="JKS"),
    "nonvalidating": Trust(NONVALIDATING),
}

WAYS = ("driver-url", "driver-props", "datasource", "hikari")
HOSTS = (HOST_MATCH, HOST_OTHER)


@dataclasses.dataclass(frozen=True)
class Config:
    ssl: str             # a key of SSL_SETTINGS
    trust: str           # a key of TRUSTS
    host: str
    way: str

    @property
    def name(self):
        return "%s/%s/%s/%s" % (self.ssl, self.trust, self.host, self.way)

    def settings(self, pki):
        t = TRUSTS[self.trust]
        s = list(SSL_SETTINGS[self.ssl])
        if t.factory:
            s.append(("sslfactory", t.factory))
        if t.rootcert:
            s.append(("sslrootcert", pki.files[t.rootcert]))
        return tuple(s)


# Every ssl setting with DriverManager and the URL; the other ways (where the settings
# travel otherwise: Properties, a data source's setters, a pool) with the settings that
# decide between the rules: every trust source and host name each way.
WAY_SSL = ("unset", "prefer", "verify-ca", "verify-full", "ssl=true")
CONFIGS = [Config(s, t, h, w) for w in WAYS for s in SSL_SETTINGS for t in TRUSTS
           for h in HOSTS if w == "driver-url" or s in WAY_SSL]


def jvm_props(trust, pki):
    """The system properties of the JVM a trust source needs."""
    props = {"user.home": pki.homes[trust.home], "jdk.net.hosts.file": pki.hosts_file}
    if trust.store:
        props["javax.net.ssl.trustStore"] = pki.stores[trust.store]
        props["javax.net.ssl.trustStorePassword"] = jdbc.STOREPASS
    if trust.store_type:
        props["javax.net.ssl.trustStoreType"] = trust.store_type
    return props


# ----------------------------------------------------------------------------- pgjdbc's rules

def effective_sslmode(settings):
    """pgjdbc's SslMode.of: sslmode when set (whatever ssl says); else verify-full when
    ssl is true (or empty), prefer otherwise (ssl=false included)."""
    d = dict(settings)
    if "sslmode" in d:
        return d["sslmode"]
    return "verify-full" if d.get("ssl") in ("true", "") else "prefer"


@dataclasses.dataclass(frozen=True)
class Expect:
    outcome: str                 # ok / failed
    transport: Optional[str] = None
    error: Optional[str] = None  # a regular expression pgjdbc's "class: message" matches
    rule: str = ""               # which rule decided, in words


def pgjdbc_rule(c, phase, pki):
    """What pgjdbc 42.5.5 does with configuration c, phase 1 (server on the old
    certificate) or 2 (after the rotation: the new chain)."""
    t = TRUSTS[c.trust]
    mode = effective_sslmode(SSL_SETTINGS[c.ssl])
    if mode in ("disable", "allow"):
        # allow starts without TLS and only retries with it on an authentication error
        return Expect("ok", "plain", rule="%s: no TLS" % mode)
    serving = "old" if phase == 1 else "new"
    factory = t.factory or LIBPQ
    if factory == LIBPQ:
        if mode in ("verify-ca", "verify-full"):
            path = pki.files[t.rootcert] if t.rootcert else os.path.join(
                pki.homes[t.home], ".postgresql", "root.crt")
            if not os.path.exists(path):
                return Expect("failed", error=re.escape(
                    "org.postgresql.util.PSQLException: Could not open SSL root certificate "
                    "file %s." % path), rule="LibPQFactory %s: root file missing" % mode)
            holds = {"old": {"old"}, "new": {"new"}, "both": {"old", "new"}}[
                t.rootcert or ("old" if t.home == "old" else None)]
            if serving not in holds:
                return Expect("failed", error=re.escape(
                    "org.postgresql.util.PSQLException: " + PKIX_FAILED),
                    rule="LibPQFactory %s: root file lacks the CA" % mode)
        # prefer and require: LibPQFactory's NonValidatingTM, whatever root file exists
    elif factory == JAVA:
        # the JVM's trust manager checks the chain whatever the sslmode (prefer included)
        holds = {"jks-old": {"old"}, "p12-old": {"old"}, "jks-both": {"old", "new"},
                 "p12-both": {"old", "new"}}.get(t.store, set())
        if serving not in holds:
            return Expect("failed", error=re.escape(
                "org.postgresql.util.PSQLException: " + PKIX_FAILED),
                rule="DefaultJavaSSLFactory %s: trust store lacks the CA" % mode)
    if mode == "verify-full" and c.host != HOST_MATCH:
        return Expect("failed", error=re.escape(
            "org.postgresql.util.PSQLException: The hostname %s could not be verified by "
            "hostnameverifier PgjdbcHostnameVerifier." % c.host),
            rule="verify-full: host name checked (%s)" % factory)
    return Expect("ok", "tls", rule="%s %s" % (factory.rsplit(".", 1)[1], mode))


def pgjdbc_verify(c):
    """What configuration c checks of the server by pgjdbc's rules, as the record's
    `verify` says it: a tuple of the values allowed. NonValidatingFactory under
    verify-full checks the host name and no chain: "full" or "none" are both defensible."""
    t = TRUSTS[c.trust]
    mode = effective_sslmode(SSL_SETTINGS[c.ssl])
    factory = t.factory or LIBPQ
    if mode in ("disable", "allow"):
        return ("none",)
    if factory == NONVALIDATING:
        return ("none", "full") if mode == "verify-full" else ("none",)
    if mode == "verify-full":
        return ("full",)
    if factory == JAVA or mode == "verify-ca":
        return ("ca",)
    return ("none",)


def checks_chain(c):
    """Whether c's connection depends on the server's CA (what a rotation can break)."""
    t = TRUSTS[c.trust]
    mode = effective_sslmode(SSL_SETTINGS[c.ssl])
    factory = t.factory or LIBPQ
    if mode in ("disable", "allow") or factory == NONVALIDATING:
        return False
    return factory == JAVA or mode in ("verify-ca", "verify-full")


OUTER = {"hikari": "com.zaxxer.hikari.pool.HikariPool$PoolInitializationException"}


def matches(expect, result, way):
    if result is None or result.outcome != expect.outcome:
        return False
    if expect.outcome == "ok":
        return result.transport == expect.transport
    return (result.outer == OUTER.get(way, "org.postgresql.util.PSQLException")
            and re.fullmatch(expect.error, result.error or "") is not None)


# ----------------------------------------------------------------------------- running

WORKERS = 2          # JVMs at a time (the machine has two cores)


def run_phase(pg, pki, configs, runner=None, env_extra=None):
    """Every configuration, one JVM per trust-source JVM setting (two at a time):
    {Config: jdbc.Result or None}, and the JVM runs (harness.RunResult, with
    .configs set to the configurations it ran, in order: its records follow them)."""
    groups = {}
    for c in configs:
        groups.setdefault(TRUSTS[c.trust].jvm, []).append(c)

    def one(cs):
        t = TRUSTS[cs[0].trust]
        entries = [jdbc.PlanEntry("c%d" % i, c.way, c.host, pg.port, pg.dbname, pg.user,
                                  c.settings(pki)) for i, c in enumerate(cs)]
        r, results = jdbc.run_plan(entries, jvm_props(t, pki), pki.homes[t.home],
                                   os.path.join(pki.dir, "plans"), USER_PASSWORD,
                                   env_extra=env_extra, runner=runner)
        r.configs = cs
        return r, {c: results.get("c%d" % i) for i, c in enumerate(cs)}

    out, runs = {}, []
    with ThreadPoolExecutor(WORKERS) as ex:
        for r, res in ex.map(one, groups.values()):
            runs.append(r)
            out.update(res)
    return out, runs
