"""The JDBC rotation rehearsal (issue 11): pgjdbc's rules, found by running it.

Debian's pgjdbc (42.5.5) opens real connections to the test server, before and after a
real CA rotation, in 750 configurations (tests/lib/jdbcmatrix.py): every combination of
the ssl settings, trust sources and host names below through DriverManager with the URL,
and through each other way of opening with the settings that decide between the rules
(sslmode unset, prefer, verify-ca, verify-full, ssl=true):

    ssl settings  sslmode unset, disable, allow, prefer, require, verify-ca, verify-full,
                  ssl=true alone, ssl=true with sslmode=require, ssl=false alone
    trust source  LibPQFactory (pgjdbc's default) with sslrootcert = the old root, the new
                  root, both, a missing file; with no sslrootcert and user.home's
                  .postgresql/root.crt holding the old root, or no such file; the same
                  with a JVM trust store set (which LibPQFactory ignores);
                  DefaultJavaSSLFactory with javax.net.ssl.trustStore made by keytool as
                  the AWS guide's script makes it: JKS old, JKS old+new, PKCS#12 old,
                  PKCS#12 old+new (each with and without trustStoreType), the JDK's own
                  cacerts, a trust store file that does not exist; NonValidatingFactory
    host name     one the server certificates name (a wildcard SAN) and one they do not
    way of opening DriverManager with the URL, DriverManager with Properties,
                  PGSimpleDataSource, HikariCP

The PKI mirrors Amazon RDS as tests/integration/test_rehearsal.py does: the old root
issues the old server certificate; the new root's subordinate CA issues the new one, and
after the rotation the server sends leaf and intermediate. Host names resolve to
127.0.0.1 through the JVM's own hosts file (-Djdk.net.hosts.file).

test_pgjdbc_rules asserts that pgjdbc does exactly what jdbcmatrix.pgjdbc_rule says (class
and message of each failure included): the rules the JVM agent mirrors, found by running
pgjdbc and written down in doc/jdbc-rules.md. It fails if pgjdbc behaves otherwise.

test_jdbc_rotation_rehearsal runs them under the pqtls JVM agent (JAVA_TOOL_OPTIONS=
-agentpath:build/libpqtls-jvm.so, PQTLS_NEW_CA = the new root): dry-run and enforce with
the bundle new+old for all of them, dry-run with the bundle of the new root alone for
those of DriverManager with the URL, in both phases, and compares, connection by
connection:
- the program's result (class and message of a failure) with pgjdbc's alone;
- one record per connection, whose outcome, tls, api, sslfactory, sslmode (and its
  source) and verify say what pgjdbc did and what its rules check;
- dry_run.result with pgjdbc itself given sslmode=verify-full, sslrootcert=<bundle> and
  LibPQFactory (the reference); enforce's real outcome with the same reference, and the
  enforce record's forced.to and dry_run;
- after_rotation, read in phase 1, with what pgjdbc did in phase 2: breaks exactly when it
  failed then, ready when it connected and checks the chain, unaffected when it connected
  and checks none (as the libpq rehearsal: a verify-full connection whose host name the
  certificates do not name fails before and after, so it breaks).
It prints "JDBC rotation rehearsal: agree/total" and fails on any disagreement, with the
whole list; it is skipped, with the reason printed, while the agent is not built.
"""

import os
import sys
import time

import pytest

import harness
import jdbc
from jdbcagent import AGENT_NAME, Check, agent_path, agent_runner, records_by_config, summary
from jdbcmatrix import (CONFIGS, HOSTS, LIBPQ, SSL_SETTINGS, TRUSTS, WAYS, checks_chain,
                        effective_sslmode, matches, pgjdbc_rule, pgjdbc_verify, run_phase)
from jdbcpki import java, pki  # noqa: F401 (fixtures)
from pgserver import USER_PASSWORD

BUNDLES = ("new+old", "new")


def first_line(text):
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def rotate(pg, pki, phase):
    """Phase 1: the server on the old certificate; 2: on the new chain (the rotation)."""
    if phase == 1:
        pg.set_server_cert(pki.old_server)
    else:
        pg.set_server_cert(pki.new_chain, key=pki.new_server.key)


@pytest.fixture(scope="module")
def truth(pg, pki):
    """pgjdbc without pqtls, every configuration, before and after the rotation:
    {phase: {Config: jdbc.Result}}, and the JVM runs."""
    out, runs = {}, []
    t0 = time.monotonic()
    try:
        for phase in (1, 2):
            rotate(pg, pki, phase)
            out[phase], r = run_phase(pg, pki, CONFIGS)
            runs += r
    finally:
        pg.restore_server_cert()
    return out, runs, time.monotonic() - t0


def test_pgjdbc_rules(truth, pki, capsys):
    """pgjdbc does, in every configuration and on both sides of the rotation, what
    pgjdbc_rule says: the rules doc/jdbc-rules.md states and the agent mirrors."""
    results, runs, seconds = truth
    bad, rules = [], {}
    for phase in (1, 2):
        for c in CONFIGS:
            e = pgjdbc_rule(c, phase, pki)
            r = results[phase].get(c)
            ok = matches(e, r, c.way)
            n = rules.setdefault(e.rule, [0, 0])
            n[0] += ok
            n[1] += 1
            if not ok:
                bad.append("%s | phase %d | rule %r expects %s %s | pgjdbc: %s"
                           % (c.name, phase, e.rule, e.outcome, e.transport or e.error,
                              r.said if r else "no result"))
    total = 2 * len(CONFIGS)
    lines = ["pgjdbc rules: %d/%d connections as the rules say (%d configurations x 2 "
             "phases; %.1fs)" % (total - len(bad), total, len(CONFIGS), seconds)]
    lines += ["    %4d/%-4d %s" % (ok, n, rule) for rule, (ok, n) in sorted(rules.items())]
    if bad:
        lines.append("disagreements (%d):" % len(bad))
        lines += ["  " + b for b in bad[:200]]
        lines += ["  JVM stderr: " + first_line(r.stderr) for r in runs
                  if r.returncode != 0 or r.stderr.strip()]
    text = "\n".join(lines)
    with capsys.disabled():
        sys.stdout.write("\n" + text + "\n")
    assert not bad, text


# ----------------------------------------------------------------------------- the agent

def references(pg, pki, phase, bundle):
    """pgjdbc itself with sslmode=verify-full, sslrootcert=<bundle> and LibPQFactory, for
    each host and way: what dry_run.result must say ({(host, way): "pass"/"fail"})."""
    entries = [jdbc.PlanEntry("r%d" % i, way, host, pg.port, pg.dbname, pg.user,
                              (("sslmode", "verify-full"), ("sslfactory", LIBPQ),
                               ("sslrootcert", pki.bundles[bundle])))
               for i, (host, way) in enumerate((h, w) for h in HOSTS for w in WAYS)]
    props = {"user.home": pki.homes["empty"], "jdk.net.hosts.file": pki.hosts_file}
    r, res = jdbc.run_plan(entries, props, pki.homes["empty"], os.path.join(pki.dir, "plans"),
                           USER_PASSWORD)
    out = {}
    for e in entries:
        got = res.get(e.id)
        assert got is not None, r.describe()
        out[(e.host, e.way)] = "pass" if got.said == "ok (tls)" else "fail"
    return out


# The runs of a phase under the agent: (mode, bundle), and whether all configurations
# run (else those of DriverManager with the URL).
AGENT_RUNS = ((("dry-run", "new+old"), True), (("enforce", "new+old"), True),
              (("dry-run", "new"), False))


def agent_runs(pg, pki, agent, phase):
    """Every run of one phase under the agent: {(mode, bundle): (configs, results,
    records, problems)}."""
    sample = [c for c in CONFIGS if c.way == "driver-url"]
    out = {}
    for (mode, bundle), everything in AGENT_RUNS:
        configs = CONFIGS if everything else sample
        runner = agent_runner(agent, mode, pki.bundles[bundle], pki.new_ca)
        results, runs = run_phase(pg, pki, configs, runner=runner)
        records, problems = records_by_config(runs)
        out[(mode, bundle)] = (configs, results, records, problems)
    return out


def record_checks(phase, c, real, rec, bundle):
    """What one dry-run record says of its connection, against pgjdbc and its rules."""
    t = TRUSTS[c.trust]
    rec = rec or {}
    said = None
    if rec.get("outcome") == "ok":
        said = "ok (%s)" % ("tls" if rec.get("tls") else "plain")
    elif rec.get("outcome"):
        said = rec.get("outcome")
    want = real.said if real.outcome == "ok" else "failed"
    settings = dict(SSL_SETTINGS[c.ssl])
    out = [
        Check("record's outcome and tls", c, phase, bundle, said, (want,), real.said,
              rec.get("error") or ""),
        Check("record's api and sslfactory", c, phase, bundle,
              (rec.get("api"), rec.get("sslfactory")), (("jdbc", t.factory or LIBPQ),),
              "the connection's settings"),
        Check("record's sslmode (pgjdbc's SslMode.of)", c, phase, bundle, rec.get("sslmode"),
              (effective_sslmode(SSL_SETTINGS[c.ssl]),), "settings %r" % (settings,)),
        Check("record's verify (pgjdbc's rules)", c, phase, bundle, rec.get("verify"),
              pgjdbc_verify(c), "doc/jdbc-rules.md"),
    ]
    if "sslmode" in settings or "ssl" not in settings:
        source = "default" if "sslmode" not in settings else \
            {"driver-url": "url", "datasource": "url"}.get(c.way, "properties")
        out.append(Check("record's sslmode_source", c, phase, bundle,
                         rec.get("sslmode_source"), (source,), "way %s" % c.way))
    return out


def phase_checks(phase, truth_phase, ran, refs, pki):
    checks = []
    for (mode, bundle), (configs, results, records, problems) in ran.items():
        for p in problems:
            checks.append(Check("one record per connection (%s)" % mode, configs[0], phase,
                                bundle, "no", ("yes",), p))
        for c in configs:
            real, got, rec = truth_phase[c], results.get(c), records.get(c)
            dr = (rec or {}).get("dry_run") or {}
            ref = refs[bundle][(c.host, c.way)]
            detail = "%s/%s: %s" % (dr.get("reason"), dr.get("method"), dr.get("detail"))
            if mode == "dry-run":
                checks.append(Check("dry-run behaves like pgjdbc alone", c, phase, bundle,
                                    got.said if got else None, (real.said,), "pgjdbc alone"))
                checks += record_checks(phase, c, real, rec, bundle)
                checks.append(Check("dry_run.result == pgjdbc verify-full with the bundle", c,
                                    phase, bundle, dr.get("result"), (ref,), "reference", detail))
                continue
            enforced = "pass" if got is not None and got.said == "ok (tls)" else "fail"
            checks.append(Check("enforce's real outcome == the reference", c, phase, bundle,
                                enforced, (ref,), got.said if got else "no result"))
            checks.append(Check("enforce record's dry_run.result == enforce", c, phase, bundle,
                                dr.get("result"), (enforced,), got.said if got else "",
                                detail))
            to = ((rec or {}).get("forced") or {}).get("to") or {}
            checks.append(Check("enforce forced.to", c, phase, bundle,
                                (to.get("sslmode"), to.get("sslrootcert")),
                                (("verify-full", pki.bundles[bundle]),), "PQTLS_BUNDLE"))
    return checks


def rotation_checks(before_records, truth):
    """after_rotation of phase 1's dry-run records against pgjdbc in phase 2."""
    checks = []
    for c in CONFIGS:
        was, now = truth[1][c], truth[2][c]
        if now.outcome == "failed":
            expected = ("breaks",)
        elif now.transport == "plain" and was.transport == "tls":
            expected = ("downgrades",)
        else:
            expected = ("ready",) if checks_chain(c) else ("unaffected",)
        rec = before_records.get(c) or {}
        checks.append(Check("after_rotation", c, 1, "new+old", rec.get("after_rotation"),
                            expected, "before: %s, after: %s" % (was.said, now.said),
                            "%s (verify=%s)" % (rec.get("after_rotation_detail"),
                                                rec.get("verify"))))
    return checks


def test_jdbc_rotation_rehearsal(pg, pki, truth, capsys):
    """The agent's predictions against pgjdbc's real results, both phases."""
    agent = agent_path()
    if agent is None:
        reason = ("JDBC rotation rehearsal: not run: the JVM agent (%s) is not built; "
                  "pgjdbc's ground truth is asserted by test_pgjdbc_rules"
                  % os.path.relpath(os.path.join(harness.BUILD_DIR, AGENT_NAME), harness.REPO))
        with capsys.disabled():
            sys.stdout.write("\n" + reason + "\n")
        pytest.skip(reason)
    t0 = time.monotonic()
    checks, first = [], None
    try:
        for phase in (1, 2):
            rotate(pg, pki, phase)
            refs = {b: references(pg, pki, phase, b) for b in BUNDLES}
            ran = agent_runs(pg, pki, agent, phase)
            checks += phase_checks(phase, truth[0][phase], ran, refs, pki)
            if phase == 1:
                first = ran[("dry-run", "new+old")][2]
    finally:
        pg.restore_server_cert()
    checks += rotation_checks(first, truth[0])
    text = summary(checks, "%d configurations, pgjdbc 42.5.5, %.0fs"
                   % (len(CONFIGS), time.monotonic() - t0))
    with capsys.disabled():
        sys.stdout.write("\n" + text + "\n")
    assert all(ch.ok for ch in checks), text
