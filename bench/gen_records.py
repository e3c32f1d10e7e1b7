#!/usr/bin/python3
"""gen_records.py: realistic pqtls records (SPEC, "The record") for the report benchmark.

    gen_records.py N OUT [--groups G] [--seed S] [--hosts H]

Writes N JSON Lines records to OUT ("-": standard output), the way a fleet's
interposers would have written them during a rotation rehearsal:

- G distinct connections (default 300): a program (psql, pgbench, pg_dump,
  Python, Perl, PHP, Ruby, legacy C jobs...), an endpoint (RDS-like host names,
  a few ports, some Unix sockets), a user, and TLS settings (sslmode and where
  it was set, root file and whether it exists). Every one of them is a group of
  `pqtls report`; how often each connects follows a skewed (Zipf-like) law, as
  a pool connects far more often than a nightly job;
- many processes: each group has its own pool of pids (thousands in all);
- per record: the time, the pid, the database, the API, the mode, the outcome
  (mostly ok, some failed, a few abandoned, with libpq's message), TLS with
  the server's certificate, the dry-run verdict (pass, or untrusted-ca,
  hostname-mismatch...) and after_rotation, as the settings imply.

With --hosts H the records come from a fleet of H machines, gathered by a
central syslog (rsyslog's forwarding format): each line starts with
"Mmm dd hh:mm:ss HOST pqtls[PID]: " before the record, each machine has pids
of its own, and every machine runs every kind of connection (the groups are
the same G: what a group is does not depend on the machine).

The output is the same for the same arguments (seeded). About 1 KB a record.
"""

import argparse
import datetime
import hashlib
import json
import random
import sys

PROGRAMS = [
    "/usr/lib/postgresql/15/bin/psql", "/usr/lib/postgresql/15/bin/pgbench",
    "/usr/lib/postgresql/15/bin/pg_dump", "/usr/lib/postgresql/15/bin/pg_isready",
    "/usr/bin/python3.11", "/srv/app/venv/bin/python3", "/usr/bin/perl", "/usr/bin/php8.2",
    "/usr/bin/ruby3.1", "/opt/billing/bin/nightly", "/usr/local/bin/etl-runner",
    "/srv/reports/bin/report-job", "/usr/sbin/pgbouncer", "/opt/legacy/bin/invoice",
]
APIS = {"/usr/bin/python3.11": "PQconnectdbParams", "/srv/app/venv/bin/python3": "PQconnectStart",
        "/usr/lib/postgresql/15/bin/pg_isready": "PQpingParams"}
HOSTS = [
    "orders-prod.cluster-c9akciq32.eu-west-1.rds.amazonaws.com",
    "orders-prod.cluster-ro-c9akciq32.eu-west-1.rds.amazonaws.com",
    "billing.c9akciq32.eu-west-1.rds.amazonaws.com",
    "analytics.cx2b8d1kq9.us-east-1.rds.amazonaws.com",
    "legacy-db.internal.example.com", "10.20.3.17", "localhost", "/var/run/postgresql",
]
USERS = ["app", "billing", "etl", "report_ro", "postgres", "monitor"]
DBNAMES = ["app", "orders", "billing", "analytics", "postgres"]
# (sslmode, sslmode_source, sslrootcert, sslrootcert_source, rootcert_exists)
SETTINGS = [
    ("verify-full", "conninfo", "/etc/ssl/rds/global-bundle.pem", "conninfo", True),
    ("verify-full", "env", "/etc/ssl/rds/rds-ca-2019-root.pem", "env", True),
    ("verify-ca", "service", "/etc/ssl/rds/rds-ca-2019-root.pem", "service", True),
    ("require", "conninfo", None, "default", False),
    ("require", "env", None, "default", True),
    ("prefer", "default", None, "default", False),
    ("prefer", "default", None, "default", True),
    ("disable", "conninfo", None, "default", False),
    ("verify-full", "conninfo", "/home/app/.postgresql/root.crt", "conninfo", False),
]
NEW_BUNDLE = "/etc/ssl/rds/global-bundle-2025-g1.pem"
ISSUERS = ["C=US, O=Amazon Web Services\\, Inc., OU=Amazon RDS, ST=WA, "
           "CN=Amazon RDS eu-west-1 Root CA RSA2048 G1, L=Seattle",
           "C=US, ST=Washington, L=Seattle, O=Amazon Web Services\\, Inc., OU=Amazon RDS, "
           "CN=Amazon RDS eu-west-1 2019 CA",
           "CN=Example Internal CA 2023"]


def groups(n, rng):
    """n distinct (program, host, port, user, settings) connections."""
    seen, out = set(), []
    while len(out) < n:
        g = (rng.choice(PROGRAMS), rng.choice(HOSTS), rng.choice(["5432", "5432", "5433", "6432"]),
             rng.choice(USERS), rng.randrange(len(SETTINGS)))
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out


def template(g, rng, next_pid):
    """Everything of a group's records but ts, pid and outcome, pre-rendered."""
    exe, host, port, user, si = g
    sslmode, sslmode_source, rootcert, rootcert_source, exists = SETTINGS[si]
    unix = host.startswith("/")
    rootcert_file = rootcert or "/home/%s/.postgresql/root.crt" % user
    if unix or sslmode == "disable":
        verify = "none"
    elif sslmode == "verify-full":
        verify = "full"
    elif sslmode == "verify-ca" or exists:
        verify = "ca"
    else:
        verify = "none"
    tls = None
    if not unix and sslmode != "disable":
        issuer = rng.choice(ISSUERS)
        cn = host if not host[0].isdigit() else "legacy-db.internal.example.com"
        tls = {"protocol": rng.choice(["TLSv1.3", "TLSv1.3", "TLSv1.2"]),
               "cipher": "TLS_AES_256_GCM_SHA384",
               "peer": {"subject": "CN=" + cn, "issuer": issuer,
                        "not_after": "2026-%02d-%02dT12:00:00Z" % (rng.randint(1, 12),
                                                                  rng.randint(1, 28)),
                        "sha256": hashlib.sha256(("%s%s" % (host, issuer)).encode()).hexdigest(),
                        "san": [cn]}}
    if unix:
        dry = {"bundle": NEW_BUNDLE, "result": "pass", "reason": "ok", "method": None,
               "detail": "a Unix socket uses no TLS: sslmode does not apply"}
        rot, rot_detail = "unaffected", "a Unix socket uses no TLS"
    elif tls is not None and "G1" in tls["peer"]["issuer"]:
        dry = {"bundle": NEW_BUNDLE, "result": "pass", "reason": "ok", "method": "chain",
               "detail": "the chain of \"CN=%s\" verifies against %s and the host name \"%s\" "
                         "matches" % (host, NEW_BUNDLE, host)}
        rot, rot_detail = ("ready", "%s holds the new CA" % rootcert_file) if verify != "none" \
            else ("unaffected", "checks no certificate (sslmode=%s, no root file)" % sslmode)
    else:
        reason = "untrusted-ca" if tls is not None else "no-tls"
        if host[0].isdigit():
            reason = "hostname-mismatch"
        dry = {"bundle": NEW_BUNDLE, "result": "fail", "reason": reason,
               "method": "chain" if tls is not None else "probe",
               "detail": "the server's chain ends at issuer \"%s\", which %s does not hold "
                         "(102 certificates); add that CA to the bundle"
                         % (ISSUERS[-1], NEW_BUNDLE)}
        if verify == "none":
            rot, rot_detail = "unaffected", "checks no certificate (sslmode=%s)" % sslmode
        elif sslmode == "prefer":
            rot, rot_detail = "downgrades", "%s holds none of the new CAs" % rootcert_file
        else:
            rot, rot_detail = "breaks", "%s holds none of the new CAs" % rootcert_file
    if dry["method"] is None:
        dry["method"] = "chain"
    head = {"exe": exe, "api": APIS.get(exe, "PQconnectdb"), "mode": "dry-run"}
    body = {"host": host, "hostaddr": None if unix else ("10.20.3.17" if host[0].isdigit()
                                                         else "172.31.%d.%d" % (rng.randint(0, 255),
                                                                                rng.randint(1, 254))),
            "port": port, "dbname": rng.choice(DBNAMES), "user": user,
            "application_name": rng.choice([None, "web", "worker", "cron"]),
            "transport": "unix" if unix else "tcp", "sslmode": sslmode,
            "sslmode_source": sslmode_source, "sslrootcert": rootcert,
            "sslrootcert_source": rootcert_source, "rootcert_file": rootcert_file,
            "rootcert_exists": exists, "verify": verify}
    tail = {"dry_run": dry, "after_rotation": rot, "after_rotation_detail": rot_detail}
    # Rendered once: the record is ts, pid, head, body, outcome, error, tls, tail.
    dumps = lambda o: json.dumps(o, separators=(",", ":"))[1:-1]
    pids = [next_pid + i for i in range(rng.randint(1, 60))]
    return {"head": dumps(head), "body": dumps(body),
            "tls": json.dumps(tls, separators=(",", ":")), "tail": dumps(tail), "pids": pids,
            "host": host, "port": port}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--hosts", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tpls, pid = [], 20000
    for g in groups(args.groups, rng):
        t = template(g, rng, pid)
        pid += len(t["pids"]) + rng.randint(0, 50)
        tpls.append(t)
    # Zipf-like weights: a pool connects much more often than a nightly job.
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(tpls))]
    order = rng.choices(range(len(tpls)), weights=weights, k=min(args.n, 1 << 16))
    start = datetime.datetime(2026, 11, 28, 8, 0, 0)
    out = sys.stdout if args.out == "-" else open(args.out, "w", buffering=1 << 20)
    fail_err = ('connection to server at "%s", port %s failed: SSL error: certificate verify '
                'failed')
    lines = []
    hosts = ["db-client-%04d.prod.example.com" % h for h in range(args.hosts)]
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    for i in range(args.n):
        t = tpls[order[i % len(order)] if i % 7 else rng.randrange(len(tpls))]
        ms = i * 37
        ts = (start + datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.") + \
            "%03dZ" % (ms % 1000)
        r = i % 100
        if r < 96:
            outcome, error, tls = "ok", "null", t["tls"]
        elif r < 99:
            outcome, tls = "failed", "null"
            error = json.dumps(fail_err % (t["host"], t["port"]))
        else:
            outcome, error, tls = "abandoned", "null", "null"
        pid = t["pids"][i % len(t["pids"])]
        prefix = ""
        if hosts:
            # the machine: its own pids (a 4,000,000 wide slice of pid space each)
            h = (i * 2654435761 >> 7) % len(hosts)
            pid = 100 + (pid + h * 3989) % 4000000
            prefix = "%s %2d %s %s pqtls[%d]: " % (months[int(ts[5:7]) - 1], int(ts[8:10]),
                                                   ts[11:19], hosts[h], pid)
        lines.append('%s{"ts":"%s","pid":%d,%s,%s,"outcome":"%s","error":%s,"tls":%s,%s}\n'
                     % (prefix, ts, pid, t["head"], t["body"], outcome, error, tls, t["tail"]))
        if len(lines) >= 4096:
            out.write("".join(lines))
            lines = []
    out.write("".join(lines))
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
