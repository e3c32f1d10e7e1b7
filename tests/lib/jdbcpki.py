"""jdbcpki: the RDS-like PKI and the trust sources of the JVM tests (pytest fixtures).

    java     module: the Java test programs compiled (tests/lib/jdbc.py), or the test fails
             naming what the machine lacks
    pki      module: an old root that issues the old server certificate, a new root whose
             subordinate CA issues the new one (the server then sends leaf and
             intermediate), as Amazon RDS's rotation from rds-ca-2019 to rds-ca-rsa2048-g1;
             sslrootcert files, user.home directories, trust stores made with keytool as
             the AWS guide's import script makes them, and the JVM's hosts file that makes
             the cluster's DNS names resolve to 127.0.0.1

A test module imports both names from here so pytest finds them.
"""

import dataclasses
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
import jdbc

CLUSTER = "cluster-pqtls.us-east-1.rds.test"
HOST_MATCH = "db1." + CLUSTER            # matches *.cluster-pqtls...
HOST_OTHER = "other.rds.test"            # matches nothing the certificates name
HOST_APEX = CLUSTER                      # named by a SAN of its own
HOST_DEEP = "a." + HOST_MATCH            # two labels under the wildcard: no match
HOSTS = (HOST_MATCH, HOST_OTHER, HOST_APEX, HOST_DEEP)
OLD_ROOT_CN = "pqtls-rds-ca-2019"
NEW_ROOT_CN = "pqtls-rds-ca-rsa2048-g1"
NEW_SUB_CN = "pqtls Subordinate CA RSA2048 G1.A.1"

PKIX_FAILED = ("SSL error: PKIX path building failed: "
               "sun.security.provider.certpath.SunCertPathBuilderException: "
               "unable to find valid certification path to requested target")


@dataclasses.dataclass
class Pki:
    old_root: object
    new_root: object
    old_server: object
    new_server: object
    new_chain: str
    files: dict          # sslrootcert values: old, new, both, missing; and for the rules
                         # of reading a file: garbage, empty, der-old, both-text
    homes: dict          # user.home values: "old" (.postgresql/root.crt = old root), "empty"
    stores: dict         # trust store name -> path (keytool), "missing" -> a path that is not
    hosts_file: str      # -Djdk.net.hosts.file
    dir: str
    bundles: dict        # PQTLS_BUNDLE values: "new+old", "new"
    new_ca: str          # PQTLS_NEW_CA: the new root


@pytest.fixture(scope="module")
def java():
    missing = jdbc.missing_parts()
    if missing:
        pytest.fail("the JDBC tests need: %s" % "; ".join(missing), pytrace=False)
    jdbc.compile()
    return jdbc


@pytest.fixture(scope="module")
def pki(pg, java):
    """The PKI, trust files, homes, trust stores and hosts file (EC keys: fast)."""
    d = harness.scratch_dir("jdbc-rehearsal-")
    with ThreadPoolExecutor(2) as ex:
        f_old = ex.submit(pg.make_ca, OLD_ROOT_CN, key_type="ec", name="jdbc-rds-ca-2019")
        f_new = ex.submit(pg.make_ca, NEW_ROOT_CN, key_type="ec", name="jdbc-rds-ca-g1")
        old_root, new_root = f_old.result(), f_new.result()
    new_sub = pg.make_ca(NEW_SUB_CN, issuer=new_root, key_type="ec", name="jdbc-rds-sub")
    sans = ["DNS:*." + CLUSTER, "DNS:" + CLUSTER]
    old_server = pg.make_cert("pqtls." + CLUSTER, sans=sans, issuer=old_root, key_type="ec",
                              name="jdbc-server-2019")
    new_server = pg.make_cert("pqtls." + CLUSTER, sans=sans, issuer=new_sub, key_type="ec",
                              name="jdbc-server-g1")
    files = {
        "old": pg.bundle(old_root, name="jdbc-trust-old"),
        "new": pg.bundle(new_root, name="jdbc-trust-new"),
        "both": pg.bundle(old_root, new_root, name="jdbc-trust-both"),
        "missing": os.path.join(d, "no-such-dir", "root.crt"),
        "garbage": os.path.join(d, "garbage.crt"),
        "empty": os.path.join(d, "empty.crt"),
        "der-old": os.path.join(d, "old-root.der"),
        "both-text": os.path.join(d, "both-with-text.crt"),
    }
    with open(files["garbage"], "w") as f:          # what a download gone wrong leaves
        f.write("<html><head><title>404 Not Found</title></head></html>\n")
    open(files["empty"], "w").close()
    with open(files["both-text"], "w") as f:        # words around and between the blocks
        f.write("# the old root\n%s\nand the new one:\n%s\nend\n"
                % (old_root.pem, new_root.pem))
    subprocess.run(["openssl", "x509", "-in", old_root.cert, "-outform", "DER", "-out",
                    files["der-old"]], check=True, capture_output=True)
    for f in files.values():
        if os.path.exists(f):
            os.chmod(f, 0o644)
    homes = {"old": os.path.join(d, "home-old"), "empty": os.path.join(d, "home-empty")}
    os.makedirs(os.path.join(homes["old"], ".postgresql"))
    os.makedirs(homes["empty"])
    shutil.copyfile(old_root.cert, os.path.join(homes["old"], ".postgresql", "root.crt"))
    jobs = {"jks-old": ("JKS", [old_root.cert]),
            "jks-both": ("JKS", [old_root.cert, new_root.cert]),
            "p12-old": ("PKCS12", [old_root.cert]),
            "p12-both": ("PKCS12", [old_root.cert, new_root.cert])}
    ext = {"JKS": ".jks", "PKCS12": ".p12"}
    with ThreadPoolExecutor(2) as ex:
        futs = {name: ex.submit(java.keytool_truststore,
                                os.path.join(d, "rds-truststore-" + name + ext[t]), pems, t)
                for name, (t, pems) in jobs.items()}
        stores = {name: f.result() for name, f in futs.items()}
    stores["missing"] = os.path.join(d, "no-such-truststore.jks")
    for p in [d] + list(homes.values()) + [os.path.join(homes["old"], ".postgresql")]:
        os.chmod(p, 0o755)
    return Pki(old_root, new_root, old_server, new_server,
               pg.bundle(new_server, new_sub, name="jdbc-server-g1-chain"), files, homes,
               stores, java.hosts_file(os.path.join(d, "hosts"), HOSTS), d,
               {"new+old": pg.bundle(new_root, old_root, name="jdbc-bundle-new-old"),
                "new": pg.bundle(new_root, name="jdbc-bundle-new")}, new_root.cert)
