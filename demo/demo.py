"""The pqtls demo: a CA rotation, rehearsed before it happens, on a throwaway server.

Run by `make demo` (demo/run.sh). It needs nothing but the built tree and Debian's
packages; it starts its own PostgreSQL server on 127.0.0.1 and removes everything at
the end.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))

import pgserver  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("PQTLS_BUILD", "build"))
PQTLS = os.path.join(BUILD, "pqtls")
LEGACY = os.path.join(BUILD, "demo", "legacy")
JVM_AGENT = os.path.join(BUILD, "libpqtls-jvm.so")
JAVA_CLASSES = os.path.join(BUILD, "demo", "java")
JARS = ["/usr/share/java/postgresql.jar", "/usr/share/java/HikariCP.jar",
        "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar"]
JAVA = "Java billing service"
CLUSTER = "db.cluster-demo.us-east-1.rds.pqtls.test"

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() and \
    not os.environ.get("NO_COLOR") else ("", "", "")


def step(n, title, text=""):
    print("\n%s== %d. %s%s" % (BOLD, n, title, RESET))
    if text:
        print(text)


def show(argv, env_shown=None):
    words = ["%s=%s" % (k, shlex.quote(v)) for k, v in (env_shown or {}).items()]
    words += [shlex.quote(a) if a != PQTLS else "pqtls" for a in argv]
    print("%s$ %s%s" % (DIM, " ".join(words).replace(REPO + "/", ""), RESET))


def run(argv, env, env_shown=None, check=None):
    show(argv, env_shown)
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    for line in (r.stdout + r.stderr).splitlines():
        print("   " + line)
    if check is not None and r.returncode != check:
        raise SystemExit("demo: unexpected exit status %d from %s" % (r.returncode, argv[0]))
    return r


class Demo:
    def __init__(self):
        self.pg = pgserver.PgServer(key_type="ec")
        self.work = tempfile.mkdtemp(prefix="pqtls-demo-")
        os.chmod(self.work, 0o755)
        self.home = os.path.join(self.work, "home")
        os.makedirs(os.path.join(self.home, ".postgresql"))
        self.app_home = os.path.join(self.work, "app-home")
        os.makedirs(self.app_home)
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)

    def pki(self):
        pg = self.pg
        self.old_root = pg.make_ca("Demo RDS ca-2019 Root", name="old-root")
        self.new_root = pg.make_ca("Demo RDS Root CA RSA2048 G1", name="new-root")
        self.new_sub = pg.make_ca("Demo RDS Subordinate CA RSA2048 G1.A.1", issuer=self.new_root,
                                  name="new-sub")
        sans = ["DNS:" + CLUSTER, "DNS:*.cluster-demo.us-east-1.rds.pqtls.test"]
        self.old_leaf = pg.make_cert(CLUSTER, sans=sans, issuer=self.old_root, name="old-leaf")
        self.new_leaf = pg.make_cert(CLUSTER, sans=sans, issuer=self.new_sub, name="new-leaf")
        self.new_chain = os.path.join(self.work, "new-chain.pem")
        with open(self.new_chain, "w") as f:
            f.write(self.new_leaf.pem + self.new_sub.pem)
        self.old_bundle = pg.bundle(self.old_root, name="old-bundle")
        # What the provider publishes for the rotation: old and new roots together.
        self.both_bundle = pg.bundle(self.old_root, self.new_root, name="global-bundle")
        shutil.copyfile(os.fspath(self.old_root), os.path.join(self.home, ".postgresql",
                                                               "root.crt"))
        # The Java service's JVM trust store, made as the AWS guide's import script makes
        # it, from the bundle its team downloaded before the rotation: the old CA only.
        self.truststore = os.path.join(self.work, "rds-truststore.jks")
        self.keytool_import(self.old_root)
        self.hosts = os.path.join(self.work, "hosts")      # the JVM resolves the endpoint
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 %s\n" % CLUSTER)

    def keytool_import(self, cert):
        """keytool -import of one CA into the Java service's trust store (alias: its CN)."""
        argv = ["keytool", "-import", "-noprompt", "-trustcacerts", "-alias", cert.subject[4:],
                "-file", os.fspath(cert), "-keystore", self.truststore, "-storetype", "JKS",
                "-storepass", "changeit"]
        return run(argv, self.env(), check=0)

    def java_service(self):
        """The Java service's command line (the JVM's trust store: rds-truststore.jks)."""
        return ["java", "-Djavax.net.ssl.trustStore=" + self.truststore,
                "-Djavax.net.ssl.trustStorePassword=changeit",
                "-Djdk.net.hosts.file=" + self.hosts,
                "-cp", ":".join([JAVA_CLASSES] + JARS), "BillingService",
                "jdbc:postgresql://%s:%d/%s?user=%s" % (CLUSTER, self.pg.port, self.pg.dbname,
                                                        self.pg.user)]

    def env(self, **extra):
        e = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8",
             "PGPASSWORD": self.pg.password}
        e.update(extra)
        return e

    def conninfo(self, **kw):
        return self.pg.conninfo(host=CLUSTER, hostaddr="127.0.0.1", password=None, **kw)

    def clients(self):
        """The four programs of the story, each as (name, argv, env, env shown)."""
        pg = self.pg
        return [
            ("psql (reporting)", [pg.bin("psql"), "-X", "-A", "-t", "-c",
                                  "select 'psql: report ran'",
                                  self.conninfo(sslmode="verify-full",
                                                sslrootcert=self.old_bundle)], {}, {}),
            ("psycopg2 app", ["/usr/bin/python3", os.path.join(HERE, "app.py"),
                              self.conninfo(sslmode="require")],
             {"HOME": self.app_home}, {"HOME": "(no .postgresql)"}),
            ("pgbench", [pg.bin("pgbench"), "-n", "-c", "2", "-t", "5", "-S",
                         self.conninfo()],
             {"PGSSLMODE": "verify-ca", "PGSSLROOTCERT": os.fspath(self.both_bundle)},
             {"PGSSLMODE": "verify-ca", "PGSSLROOTCERT": "global-bundle.pem"}),
            ("legacy C", [LEGACY, CLUSTER, str(pg.port), pg.dbname, pg.user],
             {"PGHOSTADDR": "127.0.0.1"}, {"PGHOSTADDR": "127.0.0.1"}),
            (JAVA, self.java_service(), {}, {}),
        ]

    def run_all(self, pqtls_args=None, expect_fail=()):
        for name, argv, extra, shown in self.clients():
            cmd = [PQTLS, "run"] + pqtls_args + ["--"] + argv if pqtls_args is not None else argv
            r = run(cmd, self.env(**extra), shown)
            if name in expect_fail:
                said = "as predicted" if name != JAVA or os.path.isfile(JVM_AGENT) else \
                    "unseen by pqtls without the JVM agent"
                print("   %s(%s failed, %s)%s" % (DIM, name, said, RESET))
            elif r.returncode != 0 and "pgbench" not in name:
                raise SystemExit("demo: %s failed unexpectedly" % name)

    def main(self):
        pg = self.pg
        print("%spqtls demo: rehearse a CA rotation before it happens%s" % (BOLD, RESET))
        step(1, "A throwaway PostgreSQL server with TLS, as on RDS",
             "Old CA 'ca-2019' signs the server certificate today; the new CA 'RSA2048 G1'\n"
             "(root + subordinate) will sign it after the rotation. Endpoint: %s" % CLUSTER)
        pg.start()
        self.pki()
        pg.set_server_cert(self.old_leaf)
        subprocess.run(["cc", "-o", LEGACY, os.path.join(HERE, "legacy.c"), "-I",
                        subprocess.run(["pg_config", "--includedir"], capture_output=True,
                                       text=True).stdout.strip(), "-lpq"], check=True)
        subprocess.run([pg.bin("pgbench"), "-i", "-q", "-s", "1", self.pg.conninfo()],
                       capture_output=True, check=True)
        subprocess.run(["javac", "-d", JAVA_CLASSES, "-cp", ":".join(JARS),
                        os.path.join(HERE, "BillingService.java")], check=True)

        step(2, "Five unmodified programs, as they run today",
             "psql verifies against a bundle with the old CA only; the psycopg2 app uses\n"
             "require (encrypts, verifies nothing); pgbench verifies against old+new; the\n"
             "legacy C program uses libpq's default prefer with ~/.postgresql/root.crt = old CA;\n"
             "the Java billing service (pgjdbc on a HikariCP pool) follows the AWS guide:\n"
             "verify-full against its JVM trust store, rds-truststore.jks, made with keytool\n"
             "when only the old CA existed.")
        self.run_all()
        if not os.path.isfile(JVM_AGENT):
            print("   %s(%s is not built: pqtls runs the Java service unchanged but sees "
                  "none of its connections)%s" % (DIM, os.path.relpath(JVM_AGENT, REPO), RESET))

        step(3, "Observe: which of them verify, against which file?",
             "`pqtls run` puts libpqtls.so in front of each program and summarises.")
        self.run_all(["--mode", "observe"])

        log = os.path.join(self.logs, "%e-%p.jsonl")
        step(4, "Dry-run: judge each connection against the provider's global bundle",
             "PQTLS_BUNDLE is the bundle clients should trust (old and new roots, as RDS\n"
             "publishes it); PQTLS_NEW_CA is the root servers will chain to. Nothing changes\n"
             "for the programs: each record gets a verdict and after_rotation says what\n"
             "happens to it when its server moves to the new CA.")
        self.run_all(["--mode", "dry-run", "--bundle", os.fspath(self.both_bundle),
                      "--new-ca", os.fspath(self.new_root), "--log", log])

        step(5, "The report: who breaks, who silently loses TLS",
             "It groups the records of every process, worst first; exit status 1 means\n"
             "something would break.")
        logs = sorted(os.path.join(self.logs, f) for f in os.listdir(self.logs))
        r = run([PQTLS, "report"] + logs, self.env(NO_COLOR="1"))
        print("   %s(pqtls report exited %d)%s" % (DIM, r.returncode, RESET))
        keep = os.environ.get("PQTLS_DEMO_RECORDS")
        if keep:
            # The dry-run records, kept for `pqtls report --format html` (doc/report.png).
            os.makedirs(keep, exist_ok=True)
            for p in logs:
                shutil.copy(p, keep)

        step(6, "The rotation happens: the server now presents the new chain",
             "SELECT pg_reload_conf() with the new certificate and its subordinate CA.\n"
             "The same programs, unchanged:")
        pg.set_server_cert(self.new_chain, key=self.new_leaf.key)
        self.run_all(["--mode", "observe"], expect_fail=("psql (reporting)", JAVA))
        print("\nAs step 5 predicted: psql broke (its bundle lacks the new CA), the legacy job\n"
              "silently fell back to plaintext (prefer with a stale root.crt), pgbench was\n"
              "ready, and the psycopg2 app never verified anything. The Java service broke:\n"
              "its trust store lacks the new CA, and pgjdbc never falls back to plaintext%s."
              % ("" if os.path.isfile(JVM_AGENT) else
                 "\n(a break pqtls can predict only with the JVM agent, which is not built)"))

        step(7, "Enforce: the fix, rehearsed on staging",
             "Every program forced to sslmode=verify-full sslrootcert=global-bundle.pem:\n"
             "all of them connect, verified, to the rotated server.")
        agent = os.path.isfile(JVM_AGENT)
        self.run_all(["--mode", "enforce", "--bundle", os.fspath(self.both_bundle)],
                     expect_fail=() if agent else (JAVA,))
        if not agent:
            print("   %s(without the JVM agent, enforce cannot reach the Java service)%s"
                  % (DIM, RESET))

        step(8, "The fix for the Java service: import the new CA into its trust store",
             "As the AWS guide says for JDBC: keytool -import of the new root into the JVM's\n"
             "trust store. The service starts again against the rotated server, and pqtls\n"
             "now says it is ready for the rotation.")
        self.keytool_import(self.new_root)
        name, argv, extra, shown = [c for c in self.clients() if c[0] == JAVA][0]
        run([PQTLS, "run", "--mode", "dry-run", "--bundle", os.fspath(self.both_bundle),
             "--new-ca", os.fspath(self.new_root), "--"] + argv, self.env(**extra), shown,
            check=0)
        if not os.path.isfile(JVM_AGENT):
            print("   %s(the JVM agent is not built: pqtls has no verdict on the Java "
                  "service)%s" % (DIM, RESET))

    def cleanup(self):
        self.pg.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    demo = Demo()
    try:
        demo.main()
    finally:
        demo.cleanup()
    print("\n%sdemo finished; server stopped and files removed.%s" % (BOLD, RESET))


if __name__ == "__main__":
    main()
