"""The host-name judge (src/common/hostname.c) against libpq itself: the arbiter.

The certificates are those of PostgreSQL's own src/test/ssl suite (conf/server-*.config,
t/001_ssltests.pl as of PostgreSQL 15, where iPAddress SANs arrived), issued here from one
test CA with the same subjects and SANs. For each, the server presents it and psql (no
preload) connects with

    host=<name> hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=<test CA>

for every host name of the suite and a few more that probe libpq's edges (inet_aton forms,
trailing dots, the wildcard's corners, the empty host). libpq compares the host string,
never the address it connected to, so IPv6 host names work over 127.0.0.1. The same pair
then goes to build/tests/hostcheck (hostname_check() on the same PEM), and the two must
agree: on the outcome, on the kind of failure (a mismatch, or an error such as an embedded
NUL or a missing host) and, for a mismatch, on the first name libpq names and on how many
names it examined.

The pairs of the 001_ssltests.pl suite also carry the outcome that suite expects, which
libpq must reproduce: a check that the server and the harness test what we think they do.
"""

import ipaddress
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
import pgserver
from harness import HELPERS_DIR, run_plain

HOSTCHECK = os.path.join(HELPERS_DIR, "hostcheck")
REPO = harness.REPO
# What build/tests/hostcheck is made of: the Makefile's helper rule only knows hostcheck.c.
HOSTCHECK_SOURCES = ["tests/helpers/hostcheck.c", "src/common/hostname.c", "src/common/x509.c",
                     "src/common/pem.c", "src/common/json.c", "include/pqtls/hostname.h",
                     "include/pqtls/x509.h", "include/pqtls/pem.h", "include/pqtls/json.h"]

OU = "/OU=PostgreSQL test suite"
DNS1, DNS2 = "dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"
CN_NAME = "common-name.pg-ssltest.test"

# name -> (subject, sans, [(host, expected by 001_ssltests.pl: True connects)]),
# in the order of 001_ssltests.pl.
SUITE = {
    "server-cn-only": ("/CN=%s%s" % (CN_NAME, OU), None, [
        (CN_NAME, True),
        ("wronghost.test", False)]),
    "server-ip-cn-only": ("/CN=192.0.2.1" + OU, None, [
        ("192.0.2.1", True),
        ("192.000.002.001", False)]),
    "server-ip-in-dnsname": (OU, ["DNS:192.0.2.1"], [
        ("192.0.2.1", True)]),
    "server-multiple-alt-names": (OU, ["DNS:" + DNS1, "DNS:" + DNS2,
                                       "DNS:*.wildcard.pg-ssltest.test"], [
        (DNS1, True),
        (DNS2, True),
        ("foo.wildcard.pg-ssltest.test", True),
        ("wronghost.alt-name.pg-ssltest.test", False),
        ("deep.subdomain.wildcard.pg-ssltest.test", False)]),
    "server-single-alt-name": (OU, ["DNS:single.alt-name.pg-ssltest.test"], [
        ("single.alt-name.pg-ssltest.test", True),
        ("wronghost.alt-name.pg-ssltest.test", False),
        ("deep.subdomain.wildcard.pg-ssltest.test", False)]),
    "server-ip-alt-names": (OU, ["IP:192.0.2.1", "IP:2001:DB8::1"], [
        ("192.0.2.1", True),
        ("192.000.002.001", True),
        ("192.0.2.2", False),
        ("192.0.2.1/32", False),
        ("2001:DB8::1", True),
        ("2001:db8:0:0:0:0:0:1", True),
        ("2001:db8::0.0.0.1", True),
        ("::1", False),
        ("2001:DB8::1/128", False)]),
    "server-cn-and-alt-names": ("/CN=%s%s" % (CN_NAME, OU), ["DNS:" + DNS1, "DNS:" + DNS2], [
        (DNS1, True),
        (DNS2, True),
        (CN_NAME, False)]),
    "server-cn-and-ip-alt-names": ("/CN=%s%s" % (CN_NAME, OU), ["IP:192.0.2.1",
                                                                "IP:2001:DB8::1"], [
        (CN_NAME, True),
        ("192.0.2.1", True),
        ("2001:db8::1", True)]),
    "server-ip-cn-and-alt-names": ("/CN=192.0.2.1" + OU, ["IP:192.0.2.2", "IP:2001:DB8::1"], [
        ("192.0.2.2", True),
        ("2001:db8::1", True),
        ("192.0.2.1", False)]),
    "server-ip-cn-and-dns-alt-names": ("/CN=192.0.2.1" + OU, ["DNS:" + DNS1, "DNS:" + DNS2], [
        ("192.0.2.1", True),
        (DNS1, True),
        (DNS2, True)]),
    "server-no-names": (OU, None, [
        (CN_NAME, False)]),
}

# Host names beyond the suite's, tried against every certificate too.
EXTRA_HOSTS = [
    "",                                     # only hostaddr: "host name must be specified"
    "COMMON-NAME.PG-SSLTEST.TEST",          # ASCII case
    CN_NAME + ".",                          # no trailing-dot normalisation
    DNS1.upper(),
    DNS1 + ".",
    "FOO.Wildcard.PG-SSLTEST.test",
    "wildcard.pg-ssltest.test",             # the wildcard needs a label
    ".wildcard.pg-ssltest.test",
    "foo.wildcard.pg-ssltest.test.",
    "foo..wildcard.pg-ssltest.test",        # libpq's quirk: "*" may take "foo."
    "..wildcard.pg-ssltest.test",
    "*.wildcard.pg-ssltest.test",           # the pattern itself, as a string
    "3221225985",                           # inet_aton: 192.0.2.1 as one number
    "0300.0.2.1",                           # octal
    "0xc0.0.2.1",                           # hex
    "192.0.513",                            # three parts
    "192.0.2.1 trailing",                   # glibc's inet_aton stops at white space
    "::ffff:192.0.2.1",                     # 16 bytes: never a 4-byte SAN
    "2001:db8::2",
    "localhost",
]


def all_hosts():
    seen, out = set(), []
    for _, _, pairs in SUITE.values():
        for host, _ in pairs:
            if host not in seen:
                seen.add(host)
                out.append(host)
    for host in EXTRA_HOSTS:
        if host not in seen:
            seen.add(host)
            out.append(host)
    return out


# --------------------------------------------------------------------------- libpq

MISMATCH_RE = re.compile(r'server certificate for "(.*)" (?:\(and (\d+) other names?\) )?'
                         r'does not match host name "(.*)"')
NO_NAMES = "could not get server's host name from server certificate"
ERRORS = ("host name must be specified", "SSL certificate's name contains embedded null",
          "certificate contains IP address with invalid length")


def libpq_verdict(pg, home, ca, host):
    """What libpq 15 does: ("match"|"mismatch"|"error"|"other", first_name, count, text)."""
    conninfo = pg.conninfo(host=host, hostaddr="127.0.0.1", sslmode="verify-full",
                           sslrootcert=ca)
    r = run_plain([pg.bin("psql"), "-X", "-w", "-A", "-t", "-c", "SELECT 1", conninfo], home=home)
    text = r.stderr.strip()
    if r.returncode == 0 and r.stdout.strip() == "1":
        return ("match", None, None, text)
    m = MISMATCH_RE.search(text)
    if m:
        return ("mismatch", m.group(1), 1 + int(m.group(2) or 0), text)
    if NO_NAMES in text:
        return ("mismatch", None, 0, text)
    if any(e in text for e in ERRORS):
        return ("error", None, None, text)
    return ("other", None, None, "exit %d: %s%s" % (r.returncode, r.stdout, text))


# --------------------------------------------------------------------------- pqtls

def check_hostcheck_fresh():
    if not os.access(HOSTCHECK, os.X_OK):
        pytest.fail("%s is missing: run `make tests`" % HOSTCHECK, pytrace=False)
    built = os.path.getmtime(HOSTCHECK)
    stale = [s for s in HOSTCHECK_SOURCES if os.path.getmtime(os.path.join(REPO, s)) > built]
    if stale:
        pytest.fail("%s is older than %s; the Makefile rebuilds it only when hostcheck.c "
                    "changes: run `touch tests/helpers/hostcheck.c && make tests`"
                    % (HOSTCHECK, ", ".join(stale)), pytrace=False)


def judge_verdict(cert, host):
    """What pqtls says: ("match"|"mismatch"|"error", names listed in the detail, detail)."""
    r = subprocess.run([HOSTCHECK, host, os.fspath(cert)], capture_output=True, text=True,
                       timeout=30)
    word, _, detail = r.stdout.strip().partition(": ")
    expected_rc = {"match": 0, "mismatch": 1, "error": 2}.get(word)
    if expected_rc is None or r.returncode != expected_rc:
        pytest.fail("hostcheck %r %s: exit %d\n%s%s" % (host, cert, r.returncode, r.stdout,
                                                       r.stderr), pytrace=False)
    names = None
    if word == "mismatch":
        m = re.search(r"is not among the certificate's names \((.*?)\)(?:;|$)", detail)
        assert m, "unexpected mismatch detail: %r" % detail
        inner = m.group(1)
        if inner.startswith("it has none"):
            names = []
        else:
            more = re.search(r", and (\d+) more$", inner)
            names = re.sub(r", and \d+ more$", "", inner).split(", ")
            if more:
                names += ["?"] * int(more.group(1))
    return word, names, detail


def same_name(libpq_name, listed):
    """libpq's first name ("192.0.2.1", "dns1...") against one of ours ("IP:192.0.2.1")."""
    value = re.sub(r"^(DNS:|IP:|CN=)", "", listed)
    if listed.startswith("IP:"):
        try:
            return ipaddress.ip_address(libpq_name) == ipaddress.ip_address(value)
        except ValueError:
            return False
    return libpq_name == value


def disagreement(lib, ours):
    """None when pqtls's verdict is libpq's, else why not."""
    kind, first, count, text = lib
    word, names, detail = ours
    if kind == "other":
        return "libpq failed for another reason than the host name: %s" % text
    if word != kind:
        return "libpq: %s (%s); pqtls: %s (%s)" % (kind, text or "connected", word, detail)
    if kind == "mismatch":
        if len(names) != count:
            return "libpq examined %d names, pqtls lists %d: %s / %s" % (count, len(names),
                                                                        text, detail)
        if count and not same_name(first, names[0]):
            return "libpq names %r first, pqtls %r: %s / %s" % (first, names[0], text, detail)
    return None


# --------------------------------------------------------------------------- the test

def judge_certificate(pg, home, ca, cert, hosts, workers=8):
    """Serve cert; [(host, libpq verdict, pqtls verdict)] for every host."""
    pg.set_server_cert(cert)

    def one(host):
        return host, libpq_verdict(pg, home, ca, host), judge_verdict(cert, host)

    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, hosts))


@pytest.fixture(scope="module")
def judge_ca(pg):
    return pg.make_ca("pqtls hostname judge CA", name="hostname-judge-ca")


def test_hostname_judge_agrees_with_libpq(pg, home, judge_ca, capsys):
    check_hostcheck_fresh()
    hosts = all_hosts()
    certs = {name: pg.make_cert(name, sans=sans, subject=subject, issuer=judge_ca, name=name,
                                key_type="ec")
             for name, (subject, sans, _) in SUITE.items()}

    total, agree, problems, suite_pairs = 0, 0, [], 0
    for name, (subject, sans, pairs) in SUITE.items():
        expected = dict(pairs)
        for host, lib, ours in judge_certificate(pg, home, judge_ca, certs[name], hosts):
            total += 1
            why = disagreement(lib, ours)
            if why is None:
                agree += 1
            else:
                problems.append("%s, host %r: %s" % (name, host, why))
            if host in expected:
                suite_pairs += 1
                if (lib[0] == "match") != expected[host]:
                    problems.append("%s, host %r: 001_ssltests.pl expects %s, libpq: %s"
                                    % (name, host, "success" if expected[host] else "failure",
                                       lib[3] or lib[0]))

    with capsys.disabled():
        print("\nhostname judge: %d/%d agree with libpq (%d certificates x %d host names; "
              "%d pairs from 001_ssltests.pl)" % (agree, total, len(certs), len(hosts),
                                                  suite_pairs))
    assert suite_pairs == sum(len(p) for _, _, p in SUITE.values())
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- beyond make_cert

def issue_with_raw_san(pg, ca, name, subject, san_der):
    """A leaf for ca whose subjectAltName extension value is san_der, as it is (make_cert
    cannot express a name holding a NUL byte, nor a malformed address)."""
    work = harness.scratch_dir("raw-san-")
    key, csr, crt = (os.path.join(work, name + ext) for ext in (".key", ".csr", ".crt"))
    ext = os.path.join(work, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[v3]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = DER:%s\n" % san_der.hex())
    for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
                 "-set_serial", "0x%x" % (abs(hash(name)) | 1), "-days", "30", "-sha256",
                 "-extfile", ext, "-extensions", "v3", "-out", crt]):
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, "%s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr)
    os.chmod(key, 0o600)
    return pgserver.Cert(name, crt, key, subject, False, ca)


def der_tlv(tag, value):
    n = len(value)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + value


def general_names(*names):
    """GeneralNames DER from (kind, bytes): "DNS" [2] IA5String, "IP" [7] OCTET STRING."""
    return der_tlv(0x30, b"".join(der_tlv(0x82 if k == "DNS" else 0x87, v) for k, v in names))


NUL_NAME = b"good.pg-ssltest.test\x00.evil.test"


def test_hostname_judge_embedded_nul(pg, home, judge_ca, capsys):
    """A dNSName holding a NUL byte: libpq refuses it where it examines it (an error), and
    never reaches it after a match."""
    check_hostcheck_fresh()
    certs = {
        "nul-only": issue_with_raw_san(pg, judge_ca, "nul-only", "/CN=good.pg-ssltest.test",
                                       general_names(("DNS", NUL_NAME))),
        "nul-after-match": issue_with_raw_san(
            pg, judge_ca, "nul-after-match", OU,
            general_names(("DNS", b"good.pg-ssltest.test"), ("DNS", NUL_NAME))),
    }
    expect = {
        ("nul-only", "good.pg-ssltest.test"): "error",
        ("nul-only", "192.0.2.1"): "error",
        ("nul-after-match", "good.pg-ssltest.test"): "match",
        ("nul-after-match", "other.pg-ssltest.test"): "error",
        ("nul-after-match", ""): "error",
    }
    total, agree, problems = 0, 0, []
    for name, cert in certs.items():
        hosts = [h for (n, h) in expect if n == name]
        for host, lib, ours in judge_certificate(pg, home, judge_ca, cert, hosts):
            total += 1
            why = disagreement(lib, ours)
            if why is None:
                agree += 1
            else:
                problems.append("%s, host %r: %s" % (name, host, why))
            if lib[0] != expect[(name, host)]:
                problems.append("%s, host %r: expected libpq to give %s, it gave %s (%s)"
                                % (name, host, expect[(name, host)], lib[0], lib[3]))
    with capsys.disabled():
        print("\nhostname judge (embedded NUL): %d/%d agree with libpq" % (agree, total))
    assert not problems, "\n".join(problems)


def test_hostname_judge_ip_san_of_invalid_length(pg, home, judge_ca):
    """libpq fails on an iPAddress of another length than 4 or 16 wherever it meets one;
    x509_parse() keeps such entries so hostname_check() fails the same way."""
    check_hostcheck_fresh()
    cert = issue_with_raw_san(pg, judge_ca, "ip-five-bytes", OU,
                              general_names(("IP", bytes([192, 0, 2, 1, 0])),
                                            ("IP", bytes([192, 0, 2, 1]))))
    problems = []
    for host, lib, ours in judge_certificate(pg, home, judge_ca, cert, ["192.0.2.1"]):
        if lib[0] != "error" or "invalid length 5" not in lib[3]:
            # Not the expected failure: pytest.fail is not an AssertionError, so not xfail.
            pytest.fail("libpq did not fail on the 5-byte address: %r" % (lib,), pytrace=False)
        why = disagreement(lib, ours)
        if why:
            problems.append("host %r: %s" % (host, why))
    assert not problems, "\n".join(problems)
