"""The JVM agent (libpqtls-jvm.so): records of pgjdbc connections, checked against
what pgjdbc itself did.

Every Java program is compiled here with javac (tests/jvm/JvmClient.java) and runs
Debian's pgjdbc 42.5.5 (and HikariCP) against the test server; the agent is attached
through JAVA_TOOL_OPTIONS as a service would attach it (tests/lib/jvmagent.py). The
truth each field is compared with is what the same program printed, with and without
the agent, and the certificates the test made.
"""

import hashlib
import json
import os
import subprocess
import threading
import zipfile

import pytest

import harness
import jvmagent
from pgserver import USER_PASSWORD

JARS = ["/usr/share/java/postgresql.jar", "/usr/share/java/HikariCP.jar",
        "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar"]
SRC = os.path.join(harness.REPO, "tests", "jvm")
OUT = os.path.join(harness.HELPERS_DIR, "jvm")
# Cheaper start-up for short test JVMs; nothing here changes what pgjdbc or JSSE does.
QUICK = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
_lock = threading.Lock()


@pytest.fixture(scope="module")
def classes():
    missing = [j for j in JARS if not os.path.isfile(j)]
    if missing or not os.path.isfile(jvmagent.AGENT_PATH):
        pytest.fail("missing %s: run `make deps` and `make`" % (missing or jvmagent.AGENT_PATH),
                    pytrace=False)
    with _lock:
        os.makedirs(OUT, exist_ok=True)
        r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", OUT, "-cp", ":".join(JARS),
                            os.path.join(SRC, "JvmClient.java")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return OUT


def pgjdbc_version():
    with zipfile.ZipFile(JARS[0]) as z:
        for line in z.read("META-INF/MANIFEST.MF").decode().splitlines():
            if line.startswith("Implementation-Version:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("no version in the pgjdbc jar")


def argv(classes, way, count, url, *settings, jvm=()):
    return (["java"] + QUICK + list(jvm) + ["-cp", ":".join([classes] + JARS), "JvmClient",
            way, str(count), url] + ["user=pqtls_user"] + list(settings))


def url(pg, host="localhost", query=""):
    return "jdbc:postgresql://%s:%d/pqtls_db%s" % (host, pg.port, query)


ENV = {"PQTLS_TEST_PASSWORD": USER_PASSWORD}


def agent(cmd, home, mode="observe", **env):
    r = jvmagent.run_agent(cmd, env_extra=dict(ENV, **env), home=home, mode=mode)
    assert r.returncode == 0, r.describe()
    return r


def plain(cmd, home, **env):
    r = harness.run_plain(cmd, env_extra=dict(ENV, **env), home=home, timeout=120)
    assert r.returncode == 0, r.describe()
    return r


def lines(r):
    return sorted(r.stdout.splitlines())


# ---------------------------------------------------------------- observe

def test_driver_manager_record(pg, classes, home):
    """DriverManager with sslmode in the URL: one record whose fields are what pgjdbc
    used, the TLS session the server gave, and the program's output unchanged."""
    cmd = argv(classes, "driver", 1, url(pg, query="?sslmode=require"))
    r = agent(cmd, home)
    assert lines(r) == ["ok tls"] == lines(plain(cmd, home))
    rec = r.record
    assert rec["api"] == "jdbc" and rec["mode"] == "observe"
    assert rec["driver"] == "pgjdbc " + pgjdbc_version()
    assert (rec["host"], rec["port"], rec["dbname"], rec["user"]) == \
        ("localhost", str(pg.port), "pqtls_db", "pqtls_user")
    assert (rec["sslmode"], rec["sslmode_source"]) == ("require", "url")
    assert (rec["sslfactory"], rec["sslfactory_source"]) == \
        ("org.postgresql.ssl.LibPQFactory", "default")
    assert rec["verify"] == "none"          # LibPQFactory's require checks nothing
    assert rec["outcome"] == "ok" and rec["error"] is None
    assert rec["tls"]["protocol"].startswith("TLSv1.")
    assert rec["tls"]["peer"]["sha256"] == hashlib.sha256(pg.probe_peer_der()).hexdigest()
    assert rec["exe"].endswith("/java") and rec["pid"] > 0


def test_failure_is_pgjdbc_message(pg, classes, home):
    """A verify-full connection against the wrong CA: the record's error is the very
    message the program got, and the exception is the same with and without the agent."""
    cmd = argv(classes, "driver", 1, url(pg), "sslmode=verify-full",
               "sslrootcert=%s" % pg.wrong_ca_file)
    r = agent(cmd, home)
    said = lines(r)
    assert said == lines(plain(cmd, home))
    assert said[0].startswith("failed org.postgresql.util.PSQLException: SSL error: PKIX")
    rec = r.record
    assert rec["outcome"] == "failed" and rec["tls"] is None
    assert said[0].startswith("failed %s: %s" % (rec["error_class"], rec["error"]))
    assert (rec["sslmode"], rec["sslmode_source"], rec["verify"]) == \
        ("verify-full", "properties", "full")
    assert (rec["sslrootcert"], rec["sslrootcert_source"], rec["rootcert_file"],
            rec["rootcert_exists"]) == (str(pg.wrong_ca_file), "properties",
                                        str(pg.wrong_ca_file), True)


@pytest.mark.parametrize("settings,query,want", [
    ((), "", ("prefer", "default", "none")),
    (("ssl=true",), "", ("verify-full", "default", "full")),
    ((), "?ssl=true&sslmode=disable", ("disable", "url", "none")),
    (("sslmode=VERIFY-CA",), "?sslmode=require", ("require", "url", "none")),
    (("sslmode=verify-ca",), "", ("verify-ca", "properties", "ca")),
    (("sslfactory=org.postgresql.ssl.DefaultJavaSSLFactory",), "", ("prefer", "default", "ca")),
    (("sslfactory=org.postgresql.ssl.NonValidatingFactory", "sslmode=verify-full"), "",
     ("verify-full", "properties", "none")),
])
def test_settings_as_pgjdbc_resolves_them(pg, classes, home, settings, query, want):
    """sslmode and its source, and verify, by pgjdbc's rules (URL over Properties,
    ssl=true means verify-full, a case-insensitive sslmode, each factory's checks):
    the connection's real result agrees with what `verify` claims."""
    harness.install_root_crt(home, pg.ca_file)
    cmd = argv(classes, "driver", 1, url(pg, query=query), *settings,
               jvm=["-Duser.home=%s" % home, "-Djavax.net.ssl.trustStore=%s" % os.devnull])
    r = agent(cmd, home)
    rec = r.record
    assert (rec["sslmode"], rec["sslmode_source"], rec["verify"]) == want
    said = lines(r)
    assert said == lines(plain(cmd, home))
    # DefaultJavaSSLFactory against an empty trust store: pgjdbc checks the chain and
    # refuses it, as verify=ca says, even under prefer.
    if "DefaultJavaSSLFactory" in " ".join(settings):
        assert rec["outcome"] == "failed" and "PKIX" in rec["error"]
        assert rec["truststore"]["path"] == os.devnull
    else:
        assert rec["outcome"] == "ok", said
        assert (rec["tls"] is not None) == (said == ["ok tls"])


@pytest.mark.parametrize("way,count", [("datasource", 1), ("hikari", 3), ("threads", 12)])
def test_every_way_one_record_each(pg, classes, home, way, count):
    """PGSimpleDataSource, a HikariCP pool and many threads at once: one record per
    connection pgjdbc opened, each with the settings and the session of that one."""
    cmd = argv(classes, way, count, url(pg, query="?sslmode=require"),
               "ApplicationName=jvm-%s" % way)
    r = agent(cmd, home)
    assert lines(r) == ["ok tls"] * count
    assert len(r.records) == count, r.describe()
    for rec in r.records:
        assert rec["outcome"] == "ok" and rec["sslmode"] == "require"
        assert rec["tls"]["peer"]["sha256"] == hashlib.sha256(pg.probe_peer_der()).hexdigest()


def test_hikari_start_failure(pg, classes, home):
    """A pool whose first connection fails (fail-fast start): the program sees
    HikariCP's exception, the record pgjdbc's own message inside it."""
    cmd = argv(classes, "hikari", 2, url(pg), "sslmode=verify-ca",
               "sslrootcert=%s" % pg.wrong_ca_file)
    r = agent(cmd, home)
    said = lines(r)
    assert said == lines(plain(cmd, home))
    assert said[0].startswith("failed com.zaxxer.hikari.pool.HikariPool$PoolInitializationException")
    assert len(r.records) == 1, r.describe()
    rec = r.record
    assert rec["outcome"] == "failed" and rec["verify"] == "ca"
    assert said[0].endswith("<- %s: %s" % (rec["error_class"], rec["error"]))


def test_no_password_in_records(pg, classes, home):
    """The password in the URL and in the Properties never reaches a record, not even
    through a message that quotes the URL."""
    cmd = argv(classes, "driver", 1, url(pg, query="?password=%s&sslmode=bogus" % USER_PASSWORD))
    r = agent(cmd, home)
    assert "Invalid sslmode value: bogus" in r.stdout
    assert USER_PASSWORD not in r.log_text and r.record["outcome"] == "failed"
    assert r.record["sslmode"] == "bogus"


def test_jvm_without_pgjdbc_writes_nothing(classes, home):
    """A JVM that never loads pgjdbc: no record, no message, same output."""
    cmd = ["java"] + QUICK + ["-version"]
    r = jvmagent.run_agent(cmd, home=home)
    assert r.returncode == 0 and r.records == []
    said = [l for l in r.stderr.splitlines() if not l.startswith("Picked up JAVA_TOOL_OPTIONS")]
    assert said == plain(cmd, home).stderr.splitlines()


# ---------------------------------------------------------------- dry-run and enforce

def hosts_jvm_option(tmpdir, name):
    """The JVM resolves `name` to 127.0.0.1 (jdk.net.hosts.file): a host name that is
    not among the server certificate's names, without touching /etc/hosts."""
    path = os.path.join(tmpdir, "hosts")
    with open(path, "w") as f:
        f.write("127.0.0.1 %s localhost\n" % name)
    return "-Djdk.net.hosts.file=%s" % path


def truth(r):
    """What pgjdbc said, as a dry_run reason."""
    said = lines(r)[0]
    if said.startswith("ok"):
        return "ok"
    if "PKIX" in said:
        return "untrusted-ca"
    if "could not be verified by hostnameverifier" in said:
        return "hostname-mismatch"
    return said


@pytest.mark.parametrize("asked", ["sslmode=require", "sslmode=disable"])
@pytest.mark.parametrize("host", ["localhost", "db.other.example"])
@pytest.mark.parametrize("which", ["ca", "wrong"])
def test_dry_run_is_pgjdbc_verify_full(pg, classes, home, tmpdir_path, asked, host, which):
    """dry-run judges the chain the program's handshake received (or, without TLS, a
    side handshake's) as pgjdbc would with verify-full and the bundle; the truth is the
    same program run without the agent with exactly those settings."""
    bundle = pg.ca_file if which == "ca" else pg.wrong_ca_file
    jvm = [hosts_jvm_option(tmpdir_path, "db.other.example")]
    r = agent(argv(classes, "driver", 1, url(pg, host), asked, jvm=jvm), home,
              mode="dry-run", PQTLS_BUNDLE=bundle)
    assert lines(r) == ["ok %s" % ("tls" if asked == "sslmode=require" else "plain")]
    real = plain(argv(classes, "driver", 1, url(pg, host), "sslmode=verify-full",
                      "sslrootcert=%s" % bundle, jvm=jvm), home)
    v = r.record["dry_run"]
    assert v["bundle"] == str(bundle)
    assert v["method"] == ("chain" if asked == "sslmode=require" else "probe")
    assert v["reason"] == truth(real), (v, real.stdout)
    assert (v["result"] == "pass") == (truth(real) == "ok")


@pytest.mark.parametrize("which", ["ca", "wrong"])
def test_enforce_connects_as_verify_full(pg, classes, home, which):
    """enforce: a program that asked for no TLS at all connects with verify-full, the
    bundle and LibPQFactory, and gets what pgjdbc gives with those settings."""
    bundle = pg.ca_file if which == "ca" else pg.wrong_ca_file
    r = agent(argv(classes, "driver", 1, url(pg), "sslmode=disable",
                   "sslfactory=org.postgresql.ssl.NonValidatingFactory"), home,
              mode="enforce", PQTLS_BUNDLE=bundle)
    real = plain(argv(classes, "driver", 1, url(pg), "sslmode=verify-full",
                      "sslrootcert=%s" % bundle), home)
    assert lines(r) == lines(real)
    rec = r.record
    assert rec["forced"] == {
        "from": {"sslmode": "disable", "sslrootcert": None,
                 "sslfactory": "org.postgresql.ssl.NonValidatingFactory"},
        "to": {"sslmode": "verify-full", "sslrootcert": str(bundle),
               "sslfactory": "org.postgresql.ssl.LibPQFactory"}}
    assert (rec["sslmode"], rec["verify"], rec["rootcert_file"]) == \
        ("verify-full", "full", str(bundle))
    assert rec["outcome"] == ("ok" if which == "ca" else "failed")
    if which == "ca":
        assert lines(r) == ["ok tls"] and rec["tls"] is not None


# ---------------------------------------------------------------- after_rotation

def keytool_store(path, certs, storetype):
    """A trust store made as the AWS guide's import script makes it: one keytool -import
    per certificate, storepass changeit."""
    for i, cert in enumerate(certs):
        subprocess.run(["keytool", "-import", "-noprompt", "-file", os.fspath(cert),
                        "-alias", "ca%d" % i, "-storepass", "changeit", "-keystore", path,
                        "-storetype", storetype], check=True, capture_output=True)
    return path


def test_after_rotation_against_a_real_rotation(pg, classes, home, tmpdir_path):
    """after_rotation from each program's own trust source (a PEM root file under
    LibPQFactory; JKS and PKCS#12 trust stores under DefaultJavaSSLFactory), then the
    real rotation: exactly the connections called ready still connect."""
    new_ca = pg.make_ca("pqtls jvm new root CA")
    new_leaf = pg.make_cert("localhost", sans=["DNS:localhost", "IP:127.0.0.1"], issuer=new_ca)
    both = pg.bundle(pg.ca, new_ca)
    stores = {t: {k: keytool_store(os.path.join(tmpdir_path, "%s-%s" % (k, t)), c, t)
                  for k, c in (("old", [pg.ca]), ("both", [pg.ca, new_ca]))}
              for t in ("JKS", "PKCS12")}
    java_factory = "sslfactory=org.postgresql.ssl.DefaultJavaSSLFactory"
    other = hosts_jvm_option(tmpdir_path, "db.other.example")
    cases = {
        "root-old": ([], ["sslmode=verify-full", "sslrootcert=%s" % pg.ca_file], "breaks"),
        "root-both": ([], ["sslmode=verify-ca", "sslrootcert=%s" % both], "ready"),
        "require": ([], ["sslmode=require"], "unaffected"),
        "ssl-true-home": (["-Duser.home=%s" % home], ["ssl=true"], "breaks"),
        # verify-full whose name the certificate lacks fails before and after
        "root-both-other-name": ([other, "-Dpqtls.test.host=db.other.example"],
                                 ["sslmode=verify-full", "sslrootcert=%s" % both], "breaks"),
        "nonvalidating-other-name": ([other, "-Dpqtls.test.host=db.other.example"],
                                     ["sslmode=verify-full",
                                      "sslfactory=org.postgresql.ssl.NonValidatingFactory"],
                                     "breaks"),
        "nonvalidating": ([], ["sslmode=verify-full",
                               "sslfactory=org.postgresql.ssl.NonValidatingFactory"],
                          "unaffected"),
    }

    def host_of(jvm):
        return "db.other.example" if "-Dpqtls.test.host=db.other.example" in jvm else "localhost"

    for t in ("JKS", "PKCS12"):
        for k, want in (("old", "breaks"), ("both", "ready")):
            cases["%s-%s" % (t, k)] = (
                ["-Djavax.net.ssl.trustStore=%s" % stores[t][k],
                 "-Djavax.net.ssl.trustStorePassword=changeit",
                 "-Djavax.net.ssl.trustStoreType=%s" % t],
                ["sslmode=prefer", java_factory], want)
    harness.install_root_crt(home, pg.ca_file)
    before = {}
    for name, (jvm, settings, want) in cases.items():
        r = agent(argv(classes, "driver", 1, url(pg, host_of(jvm)), *settings, jvm=jvm), home,
                  PQTLS_NEW_CA=new_ca.cert)
        assert lines(r) == (["ok tls"] if "other-name" not in name else
                            lines(plain(argv(classes, "driver", 1, url(pg, host_of(jvm)),
                                             *settings, jvm=jvm), home))), (name, r.stdout)
        assert "changeit" not in r.log_text
        before[name] = r.record["after_rotation"]
        assert before[name] == want, (name, r.record)
    pg.set_server_cert(new_leaf)
    for name, (jvm, settings, want) in cases.items():
        after = plain(argv(classes, "driver", 1, url(pg, host_of(jvm)), *settings, jvm=jvm), home)
        assert (lines(after) == ["ok tls"]) == (before[name] != "breaks"), (name, after.stdout)


# ---------------------------------------------------------------- pqtls run

def test_pqtls_run_attaches_the_agent(pg, classes, home, cli, tmpdir_path):
    """`pqtls run -- java ...` attaches the agent through JAVA_TOOL_OPTIONS, after what
    the variable already held (here -Duser.home, which moves pgjdbc's root.crt: the
    record's root file proves the JVM still got it), and exits as the program did."""
    harness.install_root_crt(home, pg.ca_file)
    log = os.path.join(tmpdir_path, "records.jsonl")
    cmd = [cli, "run", "--log", log, "--quiet", "--"] + \
        argv(classes, "driver", 2, url(pg, query="?sslmode=verify-full"))
    r = harness.run_plain(cmd, env_extra=dict(ENV, JAVA_TOOL_OPTIONS="-Duser.home=%s" % home,
                                              LD_PRELOAD=harness.sanitizer_preload()),
                          home=tmpdir_path, timeout=120)
    assert r.returncode == 0 and lines(r) == ["ok tls", "ok tls"], r.describe()
    assert "Picked up JAVA_TOOL_OPTIONS: -Duser.home=%s -agentpath:" % home in r.stderr
    recs, _ = harness.parse_records(log)
    assert len(recs) == 2
    for rec in recs:
        assert rec["api"] == "jdbc" and rec["verify"] == "full"
        assert rec["rootcert_file"] == os.path.join(home, ".postgresql", "root.crt")
    missing = ["java"] + QUICK + ["NoSuchMainClass"]
    bad = harness.run_plain([cli, "run", "--quiet", "--"] + missing, home=tmpdir_path,
                            env_extra={"LD_PRELOAD": harness.sanitizer_preload()},
                            timeout=120)
    assert bad.returncode == harness.run_plain(missing, home=tmpdir_path).returncode == 1


def test_report_shows_java_beside_libpq(pg, classes, home, cli, tmpdir_path):
    """pqtls report groups a Java program by its main class (every JVM's exe is
    `java`) beside a libpq program, with the JVM trust store as its trust file."""
    store = keytool_store(os.path.join(tmpdir_path, "old.jks"), [pg.ca], "JKS")
    java = agent(argv(classes, "driver", 1, url(pg), "sslmode=verify-full",
                      "sslfactory=org.postgresql.ssl.DefaultJavaSSLFactory",
                      jvm=["-Djavax.net.ssl.trustStore=%s" % store,
                           "-Djavax.net.ssl.trustStorePassword=changeit"]), home,
                 PQTLS_NEW_CA=pg.wrong_ca_file)
    assert lines(java) == ["ok tls"] and java.record["program"] == "java JvmClient"
    psql = harness.run_preloaded([pg.bin("psql"), "-X", "-A", "-t", "-c", "select 1",
                                  pg.conninfo(sslmode="require")], home=home,
                                 env_extra={"PQTLS_NEW_CA": pg.wrong_ca_file})
    assert psql.returncode == 0, psql.describe()
    r = subprocess.run([cli, "report", "--format", "json", java.log_path, psql.log_path],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr         # the Java service would break
    groups = {g["exe"]: g for g in json.loads(r.stdout)["groups"]}
    assert set(groups) == {"java JvmClient", pg.bin("psql")}
    g = groups["java JvmClient"]
    assert (g["rootcert_file"], g["verify"], g["after_rotation"]["result"]) == \
        (store, "full", "breaks")
    assert groups[pg.bin("psql")]["after_rotation"]["result"] == "unaffected"
