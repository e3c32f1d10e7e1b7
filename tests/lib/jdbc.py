"""jdbc: Java programs of the test suite (tests/java) and the JVM trust stores they use.

    jdbc.compile()                      javac tests/java/*.java into $BUILD/tests/java (once)
    jdbc.keytool_truststore(path, pem_paths, "JKS")   a trust store made as the AWS guide's
                                        import script makes it (one keytool -import per
                                        certificate, alias = its CN, storepass changeit)
    jdbc.java_argv(main, args, props)   the java command line with the test class path
    jdbc.run_plan(entries, props, home) JdbcPlan over a list of PlanEntry: {id: Result}

Debian's pgjdbc (libpostgresql-jdbc-java, /usr/share/java/postgresql.jar) and HikariCP
(libhikaricp-java) with slf4j-api and slf4j-nop (libslf4j-java, so HikariCP logs nothing)
are the class path; the JDK is default-jdk-headless. Nothing here is a mock: every
result is what pgjdbc did against the test server.
"""

import dataclasses
import os
import re
import subprocess
import tempfile
import threading
from typing import Optional, Tuple

import harness

JAVA_SRC = os.path.join(harness.REPO, "tests", "java")
JAVA_BUILD = os.path.join(harness.HELPERS_DIR, "java")
JARS = ["/usr/share/java/postgresql.jar", "/usr/share/java/HikariCP.jar",
        "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar"]
STOREPASS = "changeit"          # the AWS guide's script; not a secret of the suite
# Options that make a short-lived test JVM cheaper on a small machine; none changes
# what pgjdbc or the JDK's TLS does.
JVM_QUICK = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k"]

_compile_lock = threading.Lock()


def class_path():
    return ":".join([JAVA_BUILD] + JARS)


def missing_parts():
    """What the Java tests need and this machine lacks (a list of sentences)."""
    out = []
    for tool in ("java", "javac", "keytool"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in ("/usr/bin", "/bin")):
            out.append("%s not found (default-jdk-headless)" % tool)
    out += ["%s is missing (make deps)" % j for j in JARS if not os.path.isfile(j)]
    return out


def compile():
    """Compile tests/java/*.java into JAVA_BUILD unless every class is newer than every
    source. Raises RuntimeError with javac's output on failure."""
    with _compile_lock:
        sources = sorted(os.path.join(JAVA_SRC, f) for f in os.listdir(JAVA_SRC)
                         if f.endswith(".java"))
        stamp = os.path.join(JAVA_BUILD, ".compiled")
        if os.path.isfile(stamp) and all(os.path.getmtime(s) <= os.path.getmtime(stamp)
                                         for s in sources):
            return JAVA_BUILD
        os.makedirs(JAVA_BUILD, exist_ok=True)
        r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", JAVA_BUILD,
                            "-cp", ":".join(JARS)] + sources,
                           capture_output=True, text=True, env=_env())
        if r.returncode != 0:
            raise RuntimeError("javac failed:\n%s%s" % (r.stdout, r.stderr))
        with open(stamp, "w"):
            pass
        return JAVA_BUILD


def _env(extra=None):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


def cn_of(pem_path):
    """The CN of a certificate, as the AWS guide's script reads it (openssl x509)."""
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline",
                        "-in", pem_path], capture_output=True, text=True, check=True)
    m = re.search(r"commonName\s*=\s*(.+)", r.stdout)
    return m.group(1).strip() if m else os.path.basename(pem_path)


def keytool_truststore(path, pem_paths, storetype):
    """A trust store at path holding each certificate of pem_paths (a PEM file each),
    imported one by one with keytool -import -noprompt under its CN, as the AWS guide's
    import script does; storetype JKS or PKCS12."""
    for pem in pem_paths:
        r = subprocess.run(["keytool", "-import", "-noprompt", "-file", pem,
                            "-alias", cn_of(pem), "-storepass", STOREPASS,
                            "-keystore", path, "-storetype", storetype],
                           capture_output=True, text=True, env=_env())
        if r.returncode != 0:
            raise RuntimeError("keytool -import failed: %s%s" % (r.stdout, r.stderr))
    os.chmod(path, 0o644)
    return path


def hosts_file(path, names, address="127.0.0.1"):
    """A hosts file for the JVM (-Djdk.net.hosts.file): every name at address. The
    JDK then resolves exactly these names, so the tests can use real-looking DNS names."""
    with open(path, "w") as f:
        f.write("%s %s\n" % (address, " ".join(names)))
    return path


def java_argv(main, args=(), props=None, jvm_options=()):
    """java [quick options] [-Dk=v ...] -cp <class path> main args..."""
    argv = ["java"] + JVM_QUICK + list(jvm_options)
    argv += ["-D%s=%s" % (k, v) for k, v in (props or {}).items()]
    return argv + ["-cp", class_path(), main] + list(args)


@dataclasses.dataclass(frozen=True)
class PlanEntry:
    """One connection of a JdbcPlan run."""
    id: str
    way: str                                  # driver-url, driver-props, datasource, hikari
    host: str
    port: int
    dbname: str
    user: str
    settings: Tuple[Tuple[str, str], ...]     # pgjdbc settings, in order

    def line(self):
        fields = [self.id, self.way, self.host, str(self.port), self.dbname, self.user]
        fields += ["%s=%s" % kv for kv in self.settings]
        for f in fields:
            assert "\t" not in f and "\n" not in f, f
        return "\t".join(fields)


@dataclasses.dataclass(frozen=True)
class Result:
    """What pgjdbc did with one connection."""
    outcome: str                    # "ok" or "failed"
    transport: Optional[str]        # ok: "tls" or "plain"
    outer: Optional[str]            # failed: the exception the program caught (class)
    error: Optional[str]            # failed: pgjdbc's exception, "class: message"
    root: Optional[str]             # failed: the root cause, when another exception

    @property
    def said(self):
        if self.outcome == "ok":
            return "ok (%s)" % self.transport
        return "failed: %s%s" % (self.error, " <- " + self.root if self.root else "")


def parse_plan_output(text):
    """{id: Result} from JdbcPlan's output lines."""
    out = {}
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) >= 3 and f[1] == "ok":
            out[f[0]] = Result("ok", f[2], None, None, None)
        elif len(f) >= 4 and f[1] == "failed":
            out[f[0]] = Result("failed", None, f[2], f[3], f[4] if len(f) > 4 else None)
    return out


def run_plan(entries, props, home, plan_dir, password, env_extra=None, jvm_options=(),
             timeout=600, runner=None):
    """Run JdbcPlan over entries in one JVM with system properties props and HOME home.
    Returns (RunResult, {id: Result}). runner: harness.run_plain (default) or a function
    with the same signature (to run under the agent)."""
    os.makedirs(plan_dir, exist_ok=True)
    fd, plan = tempfile.mkstemp(prefix="plan-", suffix=".tsv", dir=plan_dir)
    os.chmod(plan, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write("".join(e.line() + "\n" for e in entries))
    env = dict(env_extra or {}, PQTLS_TEST_PASSWORD=password)
    argv = java_argv("JdbcPlan", [plan], props, jvm_options)
    r = (runner or harness.run_plain)(argv, env_extra=env, home=home, timeout=timeout)
    return r, parse_plan_output(r.stdout)
