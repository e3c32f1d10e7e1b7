"""`pqtls bundle`: the certificates of CA bundles and trust stores, with their flaws.

Runs on the real Amazon RDS bundles (tests/fixtures/rds) and on
certificates and trust stores made at test time with the openssl command line, keytool
(JKS and PKCS#12, as a JDBC application keeps them) and `openssl pkcs12`.
"""

import datetime
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess

import pytest

import harness

FIXTURES = harness.RDS_FIXTURES
G1 = os.path.join(FIXTURES, "global-bundle-2025-g1.pem")
B2023 = os.path.join(FIXTURES, "global-bundle-2023.pem")
US_EAST_1_RSA2048 = "CN=Amazon RDS us-east-1 Root CA RSA2048 G1"

needs_fixtures = pytest.mark.skipif(
    not (os.path.isfile(G1) and os.path.isfile(B2023)),
    reason="RDS bundles not found in %s" % FIXTURES)
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None,
                                   reason="keytool (a JDK) is not installed")


# ---------------------------------------------------------------- helpers

def bundle(cli, *args, stdin=None):
    return subprocess.run([cli, "bundle", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


def bundle_json(cli, *args, rc=0):
    r = bundle(cli, "--format", "json", *args)
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert doc["exit"] == rc
    return doc


def pem_blocks(path):
    with open(path) as f:
        return re.findall(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----",
                          f.read(), re.S)


def pem_ders(path):
    return [ssl.PEM_cert_to_DER_cert(b + "\n") for b in pem_blocks(path)]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def write_pems(path, *sources):
    """A PEM bundle of the given PEM blocks (str) or certificate files (paths)."""
    parts = []
    for s in sources:
        if s.startswith("-----BEGIN"):
            parts.append(s.strip() + "\n")
        else:
            with open(s) as f:
                parts.append(f.read().strip() + "\n")
    return write(path, "".join(parts))


def g1_root(region="us-east-1", kind="RSA2048"):
    """The PEM block of one G1 root of the 2025 bundle."""
    want = "Amazon RDS %s Root CA %s G1" % (region, kind)
    for block in pem_blocks(G1):
        der = ssl.PEM_cert_to_DER_cert(block + "\n")
        if want.encode() in der:
            return block
    raise AssertionError("%s not in %s" % (want, G1))


def run_ok(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=120, **kw)
    assert r.returncode == 0, "%s failed (%d): %s%s" % (" ".join(cmd), r.returncode,
                                                        r.stdout, r.stderr)
    return r


def asn1_time(delta):
    t = datetime.datetime.now(datetime.timezone.utc) + delta
    return t.strftime("%Y%m%d%H%M%SZ")


class Certs:
    """Certificates made with `openssl ca` in a scratch directory (validity of any start)."""

    def __init__(self, d):
        self.d = d
        self.n = 0

    def key(self):
        self.n += 1
        path = os.path.join(self.d, "k%d.key" % self.n)
        run_ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", path])
        return path

    def make(self, cn, ca=True, issuer=None, key=None, start=None, end=None):
        """A certificate (path of its PEM); issuer is (cert, key) or None for self-signed.
        Returns (cert, key)."""
        self.n += 1
        key = key or self.key()
        work = os.path.join(self.d, "ca%d" % self.n)
        os.makedirs(work)
        ext = ["basicConstraints = critical,CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign"] \
            if ca else ["basicConstraints = critical,CA:FALSE",
                        "keyUsage = critical,digitalSignature",
                        "extendedKeyUsage = serverAuth"]
        cnf = write(os.path.join(work, "openssl.cnf"),
                    "[ ca ]\ndefault_ca = d\n"
                    "[ d ]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = pol\nunique_subject = no\n"
                    "[ pol ]\ncommonName = supplied\n"
                    "[ req ]\ndistinguished_name = dn\n[ dn ]\n"
                    "[ v3 ]\nsubjectKeyIdentifier = hash\n%s\n"
                    % (work, work, work, "\n".join(ext)))
        write(os.path.join(work, "index.txt"), "")
        write(os.path.join(work, "serial"), "%04X\n" % (0x1000 + self.n))
        csr = os.path.join(work, "req.csr")
        crt = os.path.join(self.d, "c%d.pem" % self.n)
        run_ok(["openssl", "req", "-new", "-config", cnf, "-key", key, "-subj", "/CN=" + cn,
                "-out", csr])
        cmd = ["openssl", "ca", "-config", cnf, "-batch", "-notext", "-extensions", "v3",
               "-in", csr, "-out", crt,
               "-startdate", start or asn1_time(datetime.timedelta(hours=-1)),
               "-enddate", end or asn1_time(datetime.timedelta(days=365))]
        cmd += ["-selfsign", "-keyfile", key] if issuer is None else \
            ["-cert", issuer[0], "-keyfile", issuer[1]]
        run_ok(cmd)
        return crt, key


@pytest.fixture
def certs(tmpdir_path):
    return Certs(tmpdir_path)


def by_subject(doc, i=0):
    return {c["subject"]: c for c in doc["files"][i]["certificates"]}


def keytool(*args):
    return run_ok(["keytool", *args])


# ---------------------------------------------------------------- the RDS bundles

@needs_fixtures
def test_g1_bundle_lists_its_102_roots(cli):
    doc = bundle_json(cli, G1)
    f = doc["files"][0]
    assert f["format"] == "PEM" and f["count"] == 102 and f["error"] is None
    assert len(f["certificates"]) == 102
    assert [c["index"] for c in f["certificates"]] == list(range(1, 103))
    subjects = [c["subject"] for c in f["certificates"]]
    assert any(US_EAST_1_RSA2048 + ", L=Seattle" in s for s in subjects)
    assert all(" G1, L=Seattle" in s for s in subjects)
    for c in f["certificates"]:
        assert c["flags"] == [], c
        assert c["is_ca"] and c["self_signed"] and c["issuer"] == c["subject"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["not_after"])
        if "RSA2048 G1" in c["subject"]:
            assert c["key"] == "RSA 2048" and c["not_after"].startswith("206"), c
        elif "RSA4096 G1" in c["subject"]:
            assert c["key"] == "RSA 4096" and c["not_after"] >= "2121", c
        else:
            assert "ECC384 G1" in c["subject"]
            assert c["key"] == "EC P-384" and c["not_after"] >= "2121", c
    assert f["summary"] == {"expired": 0, "not_yet_valid": 0, "not_a_ca": 0, "duplicate": 0,
                            "same_subject_and_key": 0, "unreadable": 0}


@needs_fixtures
def test_g1_bundle_as_text(cli):
    r = bundle(cli, G1)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "%s: PEM, 102 certificates" % G1
    assert "    subject     C=US, O=Amazon Web Services\\, Inc., OU=Amazon RDS, ST=WA, " \
           "%s, L=Seattle" % US_EAST_1_RSA2048 in lines
    assert sum(1 for l in lines if re.fullmatch(r"  #\d+", l)) == 102
    for label in ("subject", "issuer", "not before", "not after", "key", "sha256"):
        assert sum(1 for l in lines if l.startswith("    %-12s" % label)) == 102, label
    assert "  flaws         none" in lines
    assert "flags" not in r.stdout


@needs_fixtures
@pytest.mark.parametrize("path", [G1, B2023], ids=["2025-g1", "2023"])
def test_sha256_is_that_of_the_der(cli, path):
    doc = bundle_json(cli, path)
    got = [c["sha256"] for c in doc["files"][0]["certificates"]]
    assert got == [hashlib.sha256(d).hexdigest() for d in pem_ders(path)]
    # And what the openssl command line says of the first one.
    first = pem_blocks(path)[0] + "\n"
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=first.encode(),
                         capture_output=True, check=True).stdout
    assert hashlib.sha256(der).hexdigest() == got[0]


@needs_fixtures
def test_2023_bundle_flags_the_expired_2019_cas(cli):
    doc = bundle_json(cli, B2023)
    f = doc["files"][0]
    assert f["count"] == 115
    certs = f["certificates"]
    cas2019 = [c for c in certs if "2019 CA" in c["subject"]]
    assert len(cas2019) >= 20
    for c in cas2019:
        assert "expired" in c["flags"], c
        assert c["not_after"] < "2024-08-23", c
    us_east_1 = [c for c in certs if "CN=Amazon RDS us-east-1 2019 CA" in c["subject"]]
    assert len(us_east_1) == 1
    assert us_east_1[0]["not_after"].startswith("2024-08-22T")
    assert us_east_1[0]["is_ca"] and not us_east_1[0]["self_signed"]
    assert "CN=Amazon RDS Root 2019 CA" in us_east_1[0]["issuer"]
    g1 = [c for c in certs if " G1" in c["subject"]]
    assert len(g1) == 87    # and 28 certificates of the older hierarchies
    assert all(c["flags"] == [] for c in g1)
    expired = [c for c in certs if "expired" in c["flags"]]
    assert f["summary"]["expired"] == len(expired) == len(certs) - len(g1)

    r = bundle(cli, B2023)
    assert r.returncode == 0
    assert "    flags       expired 2024-08-22T17:08:50Z" in r.stdout.splitlines()
    assert "  flaws         %d expired" % len(expired) in r.stdout.splitlines()


# ---------------------------------------------------------------- flags

@needs_fixtures
def test_duplicate_and_same_subject_and_key(cli, certs, tmpdir_path):
    a, b = g1_root("us-east-1"), g1_root("eu-west-1")
    path = write_pems(os.path.join(tmpdir_path, "dup.pem"), a, b, a)
    doc = bundle_json(cli, path)
    c = doc["files"][0]["certificates"]
    assert [x["flags"] for x in c] == [[], [], ["duplicate"]]
    assert c[2]["duplicate_of"] == 1 and c[2]["sha256"] == c[0]["sha256"]
    assert doc["files"][0]["summary"]["duplicate"] == 1
    r = bundle(cli, path)
    assert "    flags       duplicate of #1" in r.stdout.splitlines()
    assert "1 duplicate" in r.stdout

    # The same CA issued twice (same subject, same key, another serial): not the same
    # DER, but the same CA for every TLS client.
    ca1, key = certs.make("pqtls reissued CA")
    ca2, _ = certs.make("pqtls reissued CA", key=key,
                        end=asn1_time(datetime.timedelta(days=700)))
    path = write_pems(os.path.join(tmpdir_path, "reissued.pem"), ca1, ca2)
    c = bundle_json(cli, path)["files"][0]["certificates"]
    assert c[0]["flags"] == [] and c[1]["flags"] == ["same-subject-and-key"]
    assert c[1]["same_subject_and_key_as"] == 1 and c[1]["duplicate_of"] is None
    assert "same-subject-and-key as #1" in bundle(cli, path).stdout


def test_not_a_ca_on_a_leaf(cli, certs, tmpdir_path):
    ca = certs.make("pqtls test CA")
    leaf, _ = certs.make("db.example.com", ca=False, issuer=ca)
    path = write_pems(os.path.join(tmpdir_path, "chain.pem"), leaf, ca[0])
    doc = bundle_json(cli, path)
    c = doc["files"][0]["certificates"]
    assert c[0]["subject"] == "CN=db.example.com" and c[0]["issuer"] == "CN=pqtls test CA"
    assert c[0]["flags"] == ["not-a-ca"] and c[0]["is_ca"] is False
    assert c[0]["self_signed"] is False
    assert c[1]["flags"] == [] and c[1]["is_ca"] and c[1]["self_signed"]
    assert doc["files"][0]["summary"]["not_a_ca"] == 1
    out = bundle(cli, path).stdout.splitlines()
    assert "    flags       not-a-ca" in out
    assert "    kind        end-entity certificate, not a CA" in out
    assert "    kind        root CA (self-signed)" in out


def test_not_yet_valid_and_expired(cli, certs, tmpdir_path):
    future, _ = certs.make("pqtls future CA", start=asn1_time(datetime.timedelta(days=30)),
                           end=asn1_time(datetime.timedelta(days=400)))
    past, _ = certs.make("pqtls past CA", start=asn1_time(datetime.timedelta(days=-400)),
                         end=asn1_time(datetime.timedelta(days=-30)))
    path = write_pems(os.path.join(tmpdir_path, "times.pem"), future, past)
    doc = bundle_json(cli, path)
    c = doc["files"][0]["certificates"]
    assert c[0]["flags"] == ["not-yet-valid"]
    assert c[1]["flags"] == ["expired"]
    assert doc["files"][0]["summary"]["not_yet_valid"] == 1
    out = bundle(cli, path).stdout
    assert re.search(r"^    flags       not-yet-valid until \d{4}-\d\d-\d\dT", out, re.M)


# ---------------------------------------------------------------- --new-ca

@needs_fixtures
def test_new_ca_held(cli, tmpdir_path):
    new = write_pems(os.path.join(tmpdir_path, "new-ca.pem"), g1_root("us-east-1"))
    r = bundle(cli, "--new-ca", new, G1, B2023)
    assert r.returncode == 0, (r.stdout, r.stderr)
    subject = "C=US, O=Amazon Web Services\\, Inc., OU=Amazon RDS, ST=WA, %s, L=Seattle" \
        % US_EAST_1_RSA2048
    verdicts = [l for l in r.stdout.splitlines() if l.startswith("  new CA ")]
    assert len(verdicts) == 2
    assert all("holds the new CA: " + subject in v for v in verdicts)

    doc = bundle_json(cli, "--new-ca", new, G1)
    assert doc["new_ca"][0]["subject"] == subject
    f = doc["files"][0]
    assert f["new_ca"]["holds"] is True and f["new_ca"]["missing"] == []
    held = f["new_ca"]["held"][0]
    assert f["certificates"][held["index"] - 1]["subject"] == subject


@needs_fixtures
def test_new_ca_missing(cli, certs, tmpdir_path):
    other, _ = certs.make("pqtls unrelated CA")
    r = bundle(cli, "--new-ca", other, G1)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "does NOT hold any of the new CAs (CN=pqtls unrelated CA)" in r.stdout
    doc = bundle_json(cli, "--new-ca", other, G1, rc=1)
    assert doc["files"][0]["new_ca"] == {
        "holds": False, "held": [],
        "missing": [{"subject": "CN=pqtls unrelated CA",
                     "sha256": hashlib.sha256(pem_ders(other)[0]).hexdigest()}]}

    # One file holds it and one does not: 1.
    assert bundle(cli, "--new-ca", other, other, G1).returncode == 1
    assert bundle(cli, "--new-ca", other, other).returncode == 0


def test_new_ca_is_subject_and_key(cli, certs, tmpdir_path):
    """Holding means the same subject and the same public key, as for a TLS client:
    a re-issued copy of the CA counts, another CA under the same name does not."""
    new, key = certs.make("pqtls new CA")
    reissued, _ = certs.make("pqtls new CA", key=key,
                             start=asn1_time(datetime.timedelta(days=-10)))
    impostor, _ = certs.make("pqtls new CA")
    assert bundle(cli, "--new-ca", new, reissued).returncode == 0
    r = bundle(cli, "--new-ca", new, impostor)
    assert r.returncode == 1 and "does NOT hold" in r.stdout
    # Several new CAs: holding one is enough.
    both = write_pems(os.path.join(tmpdir_path, "both.pem"), impostor, new)
    r = bundle(cli, "--new-ca", both, reissued)
    assert r.returncode == 0 and "holds the new CA: CN=pqtls new CA (#1; 1 of the 2 new CAs)" \
        in r.stdout


def test_new_ca_unreadable_is_an_error(cli, certs, tmpdir_path):
    ca, _ = certs.make("pqtls CA")
    r = bundle(cli, "--new-ca", os.path.join(tmpdir_path, "missing.pem"), ca)
    assert r.returncode == 2 and "missing.pem" in r.stderr
    r = bundle(cli, "--new-ca", write(os.path.join(tmpdir_path, "junk"), "junk\n"), ca)
    assert r.returncode == 2 and "not a certificate store" in r.stderr


# ---------------------------------------------------------------- other formats

def test_der_file(cli, certs, tmpdir_path):
    ca, _ = certs.make("pqtls DER CA")
    der = os.path.join(tmpdir_path, "ca.der")
    run_ok(["openssl", "x509", "-in", ca, "-outform", "DER", "-out", der])
    doc = bundle_json(cli, der)
    f = doc["files"][0]
    assert f["format"] == "DER" and f["count"] == 1
    with open(der, "rb") as fh:
        assert f["certificates"][0]["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    assert f["certificates"][0]["subject"] == "CN=pqtls DER CA"
    # A DER file is listed, and flagged: libpq reads its root file as PEM only.
    assert f["libpq"]["usable"] is False and "DER" in f["libpq"]["problem"]
    r = bundle(cli, "--new-ca", ca, der)
    assert r.returncode == 1 and "held, but of no use: libpq cannot load this file" in r.stdout
    assert bundle(cli, "--new-ca", der, ca).returncode == 0


def test_standard_input(cli, certs):
    ca, _ = certs.make("pqtls stdin CA")
    with open(ca) as f:
        r = bundle(cli, "-", stdin=f.read())
    assert r.returncode == 0 and r.stdout.startswith("-: PEM, 1 certificate\n")


@needs_fixtures
@needs_keytool
def test_jks_trust_store_read_without_password(cli, tmpdir_path):
    jks = os.path.join(tmpdir_path, "truststore.jks")
    roots = {"rds-us-east-1": g1_root("us-east-1"), "rds-eu-west-1": g1_root("eu-west-1", "ECC384")}
    for alias, pem in roots.items():
        src = write(os.path.join(tmpdir_path, alias + ".pem"), pem + "\n")
        keytool("-importcert", "-noprompt", "-storetype", "JKS", "-keystore", jks,
                "-storepass", "changeit", "-alias", alias, "-file", src)
    with open(jks, "rb") as f:
        assert f.read(4) == b"\xfe\xed\xfe\xed"

    doc = bundle_json(cli, jks)
    f = doc["files"][0]
    assert f["format"] == "JKS" and f["version"] == 2 and f["count"] == 2
    assert f["entries"] == 2 and f["integrity"] == "unchecked"
    got = {c["alias"]: c for c in f["certificates"]}
    assert set(got) == set(roots)
    for alias, pem in roots.items():
        assert got[alias]["sha256"] == hashlib.sha256(
            ssl.PEM_cert_to_DER_cert(pem + "\n")).hexdigest()
        assert got[alias]["flags"] == [] and got[alias]["key_entry"] is False
    assert US_EAST_1_RSA2048 in got["rds-us-east-1"]["subject"]

    out = bundle(cli, jks)
    assert out.returncode == 0
    assert out.stdout.startswith("%s: JKS version 2, 2 certificates in 2 entries "
                                 "(integrity not checked: no password given)" % jks)
    assert "    alias       rds-us-east-1" in out.stdout.splitlines()

    # The password, when given, checks the store's integrity.
    assert bundle_json(cli, "--password", "changeit", jks)["files"][0]["integrity"] == "verified"
    r = bundle(cli, "--password", "not-the-pw", jks)
    assert r.returncode == 2 and "integrity" in r.stderr and "not-the-pw" not in r.stderr
    pwfile = write(os.path.join(tmpdir_path, "pw"), "changeit\n")
    assert bundle(cli, "--password-file", pwfile, jks).returncode == 0

    # Does the JDBC application's trust store hold the new CA?
    new = write_pems(os.path.join(tmpdir_path, "new.pem"), g1_root("us-east-1"))
    r = bundle(cli, "--new-ca", new, jks)
    assert r.returncode == 0 and "holds the new CA: " in r.stdout
    other = write_pems(os.path.join(tmpdir_path, "other.pem"), g1_root("ap-south-1"))
    r = bundle(cli, "--new-ca", other, jks)
    assert r.returncode == 1 and "does NOT hold any of the new CAs" in r.stdout


@needs_keytool
def test_jks_with_a_private_key_entry(cli, tmpdir_path):
    jks = os.path.join(tmpdir_path, "keystore.jks")
    keytool("-genkeypair", "-storetype", "JKS", "-keystore", jks, "-storepass", "kspass1",
            "-keypass", "kspass1", "-alias", "client", "-keyalg", "EC", "-dname", "CN=jdbc client")
    doc = bundle_json(cli, jks)
    f = doc["files"][0]
    assert f["count"] == 1 and f["key_entries"] == 1
    c = f["certificates"][0]
    assert c["alias"] == "client" and c["key_entry"] and c["subject"] == "CN=jdbc client"
    assert "not-a-ca" in c["flags"]
    assert "private key entry, certificate 1 of its chain of 1" in bundle(cli, jks).stdout


@needs_fixtures
@needs_keytool
def test_pkcs12_trust_store_made_by_keytool(cli, tmpdir_path):
    p12 = os.path.join(tmpdir_path, "truststore.p12")
    for alias, region in (("one", "us-east-1"), ("two", "us-west-2")):
        src = write(os.path.join(tmpdir_path, alias + ".pem"), g1_root(region) + "\n")
        keytool("-importcert", "-noprompt", "-storetype", "PKCS12", "-keystore", p12,
                "-storepass", "changeit", "-alias", alias, "-file", src)
    doc = bundle_json(cli, p12)
    f = doc["files"][0]
    assert f["format"] == "PKCS#12" and f["count"] == 2
    assert f["integrity"] == "verified-default-password"
    assert sorted(c["alias"] for c in f["certificates"]) == ["one", "two"]
    assert any(US_EAST_1_RSA2048 in c["subject"] for c in f["certificates"])
    new = write_pems(os.path.join(tmpdir_path, "new.pem"), g1_root("us-west-2"))
    assert bundle(cli, "--new-ca", new, p12).returncode == 0


@needs_fixtures
def test_pkcs12_made_by_openssl(cli, tmpdir_path):
    p12 = os.path.join(tmpdir_path, "bundle.p12")
    run_ok(["openssl", "pkcs12", "-export", "-nokeys", "-in", G1, "-out", p12,
            "-passout", "pass:changeit"])
    doc = bundle_json(cli, p12)
    f = doc["files"][0]
    assert f["format"] == "PKCS#12" and f["count"] == 102
    assert sorted(c["sha256"] for c in f["certificates"]) == \
        sorted(hashlib.sha256(d).hexdigest() for d in pem_ders(G1))

    # A password other than the defaults must be given.
    secret = os.path.join(tmpdir_path, "secret.p12")
    run_ok(["openssl", "pkcs12", "-export", "-nokeys", "-in", G1, "-out", secret,
            "-passout", "pass:Str0ng-pw-9"])
    r = bundle(cli, secret)
    assert r.returncode == 2 and "--password" in r.stderr
    r = bundle(cli, "--password", "Str0ng-pw-9", secret)
    assert r.returncode == 0 and "PKCS#12, 102 certificates" in r.stdout
    assert "Str0ng-pw-9" not in r.stdout + r.stderr
    r = bundle(cli, "--password", "Wr0ng-pw-8", secret)
    assert r.returncode == 2 and "Wr0ng-pw-8" not in r.stdout + r.stderr


def test_pkcs12_legacy_algorithms(cli, certs, tmpdir_path):
    """Stores from older tools (RC2-40 certificates, as OpenSSL 1.1 and Java 8 wrote them)."""
    ca, _ = certs.make("pqtls legacy CA")
    p12 = os.path.join(tmpdir_path, "legacy.p12")
    r = subprocess.run(["openssl", "pkcs12", "-export", "-legacy", "-nokeys", "-in", ca,
                        "-out", p12, "-passout", "pass:changeit"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("this openssl cannot write legacy PKCS#12: %s" % r.stderr[-200:])
    assert bundle_json(cli, p12)["files"][0]["count"] == 1


# ---------------------------------------------------------------- errors and usage

def test_unreadable_files_exit_2(cli, certs, tmpdir_path):
    ca, _ = certs.make("pqtls good CA")
    missing = os.path.join(tmpdir_path, "missing.pem")
    r = bundle(cli, missing)
    assert r.returncode == 2 and "cannot read %s" % missing in r.stderr
    garbage = write(os.path.join(tmpdir_path, "garbage.bin"), "this is no certificate\n")
    r = bundle(cli, garbage)
    assert r.returncode == 2 and "not a certificate store" in r.stderr
    empty = write(os.path.join(tmpdir_path, "empty.pem"), "")
    assert bundle(cli, empty).returncode == 2
    key_only = os.path.join(tmpdir_path, "key.pem")
    shutil.copyfile(certs.key(), key_only)
    r = bundle(cli, key_only)
    assert r.returncode == 2 and "no certificate" in r.stderr
    truncated = os.path.join(tmpdir_path, "truncated.pem")
    with open(ca) as f:
        write(truncated, f.read()[:300])
    assert bundle(cli, truncated).returncode == 2
    assert bundle(cli, tmpdir_path).returncode == 2

    # The readable files are still listed; the status says something could not be read.
    r = bundle(cli, ca, missing)
    assert r.returncode == 2 and "CN=pqtls good CA" in r.stdout
    doc = json.loads(bundle(cli, "--format", "json", ca, garbage).stdout)
    assert doc["exit"] == 2
    assert doc["files"][0]["count"] == 1 and doc["files"][0]["error"] is None
    assert doc["files"][1]["path"] == garbage and "not a certificate store" in \
        doc["files"][1]["error"]


def test_help_version_and_usage_errors(cli, certs):
    r = bundle(cli, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: pqtls bundle")
    assert "--new-ca" in r.stdout and "JKS" in r.stdout and "PKCS#12" in r.stdout
    r = bundle(cli, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pqtls ")
    ca, _ = certs.make("pqtls CA")
    for args in (["--bogus", ca], [], ["--format", "xml", ca], ["--format"], [ca, "--new-ca"],
                 ["--password"], ["-x", ca]):
        r = bundle(cli, *args)
        assert r.returncode == 2, args
        assert r.stderr.startswith("pqtls bundle: ") and "--help" in r.stderr, args
        assert len(r.stderr.strip().splitlines()) == 1, args
    # After "--", names that look like options are files.
    r = bundle(cli, "--", ca)
    assert r.returncode == 0
    assert bundle(cli, "--format=json", ca).returncode == 0


# ---------------------------------------------------------------- as libpq loads it

def _trust_file_kinds(pg, d):
    """Files holding the test server's CA, in the forms found on real machines; the value
    says whether libpq's OpenSSL loads it as a root file."""
    with open(pg.ca_file) as f:
        ca = f.read().strip() + "\n"
    with open(pg.wrong_ca_file) as f:
        other = f.read().strip() + "\n"
    lines = other.splitlines(True)
    kinds = {
        "plain": (write(os.path.join(d, "plain.pem"), ca + other), True),
        "damaged block": (write(os.path.join(d, "damaged.pem"),
                                ca + "".join(lines[:3] + lines[6:])), False),
        "text and CRLF": (os.path.join(d, "crlf.pem"), True),
        "no certificate": (write(os.path.join(d, "text.pem"), "see the wiki\n"), False),
        "DER": (os.path.join(d, "ca.der"), False),
    }
    with open(kinds["text and CRLF"][0], "w", newline="") as f:
        f.write(("# the CA\n" + ca + "subject=another\n" + other).replace("\n", "\r\n"))
    with open(kinds["DER"][0], "wb") as f:
        f.write(ssl.PEM_cert_to_DER_cert(ca))
    return kinds


def test_flags_the_files_libpq_refuses(cli, pg, tmpdir_path):
    """`pqtls bundle` says of each file what libpq then does with it: psql with the file
    as sslrootcert (verify-ca) connects exactly when the file is not flagged, and the
    flag carries OpenSSL's own reason, the one psql prints."""
    for kind, (path, loads) in _trust_file_kinds(pg, tmpdir_path).items():
        r = harness.run_plain([pg.bin("psql"), "-X", "-A", "-t", "-c", "select 1", "-d",
                               pg.conninfo(sslmode="verify-ca", sslrootcert=path)])
        psql_ok = r.returncode == 0 and r.stdout.strip() == "1"
        assert psql_ok == loads, (kind, r.stdout, r.stderr)
        out = bundle(cli, path)
        if kind == "no certificate":
            # Not a certificate store at all: an error of the command (exit 2).
            assert out.returncode == 2 and "not a certificate store" in out.stderr
            continue
        assert out.returncode == 0, (kind, out.stdout, out.stderr)
        flagged = [l for l in out.stdout.splitlines() if l.startswith("  libpq ")]
        doc = bundle_json(cli, path)["files"][0]["libpq"]
        assert doc["usable"] == loads, (kind, doc)
        if loads:
            assert flagged == [] and doc["problem"] is None, (kind, out.stdout)
            continue
        assert len(flagged) == 1 and "CANNOT USE this file" in flagged[0], (kind, out.stdout)
        # psql: could not read root certificate file "...": <OpenSSL's reason>
        reason = r.stderr.strip().rsplit(": ", 1)[-1]
        assert "SSL_CTX_load_verify_locations): " + reason in doc["problem"], \
            (kind, reason, doc["problem"])
        assert doc["problem"] in flagged[0]
