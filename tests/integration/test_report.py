"""`pqtls report`: grouping records of many processes into distinct connections.

SPEC, "The command line": `pqtls report [--format table|json|csv] [FILE...|-]` groups
records by program, endpoint, user and TLS settings, with counts and the worst verdict of
each group; exit 1 when anything would break, 0 when nothing would, 2 on unreadable input.

Most cases build record files by hand, in the shape libpqtls.so writes (RECORD below is a
real one, from psql in dry-run against the test server, with its paths made stable), so
each grouping rule and verdict can be set up exactly. One case makes real records with
psql under the interposer against the test server and reports on those.

The group key (include/pqtls/report.h): exe, host, port, user, transport, sslmode,
sslmode_source, sslrootcert_source, rootcert_file, rootcert_exists, verify, and
forced.from.sslmode. "Would break": any record with after_rotation "breaks" or
dry_run.result "fail".
"""

import copy
import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import time

import pytest

import harness
from harness import run_preloaded

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# One record as libpqtls.so writes it: psql, dry-run, sslmode=verify-ca with a root file
# that lacks the new CA.
RECORD = {
    "ts": "2026-11-28T15:54:11.901Z", "pid": 30288, "exe": "/usr/lib/postgresql/15/bin/psql",
    "api": "PQconnectdbParams", "mode": "dry-run", "host": "db1.example.internal",
    "hostaddr": "10.0.0.7", "port": "5432", "dbname": "app", "user": "app_user",
    "application_name": None, "transport": "tcp", "sslmode": "verify-ca",
    "sslmode_source": "conninfo", "sslrootcert": "/etc/ssl/rds/rds-ca-2019-root.pem",
    "sslrootcert_source": "conninfo", "rootcert_file": "/etc/ssl/rds/rds-ca-2019-root.pem",
    "rootcert_exists": True, "verify": "ca", "outcome": "ok", "error": None,
    "tls": {"protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
            "peer": {"subject": "CN=db1.example.internal",
                     "issuer": "CN=Amazon RDS eu-west-1 2019 CA,OU=Amazon RDS,O=Amazon Web "
                               "Services\\, Inc.,ST=Washington,L=Seattle,C=US",
                     "not_after": "2029-03-02T15:54:09Z",
                     "sha256": "da2f326b3f3b6e48a3587c9d1b87900747bb5bd627ae8bf640e9f52ddb73fcac",
                     "san": ["db1.example.internal"]}},
    "dry_run": {"bundle": "/etc/ssl/rds/global-bundle.pem", "result": "pass", "reason": "ok",
                "method": "chain",
                "detail": "the chain of \"CN=db1.example.internal\" verifies against "
                          "/etc/ssl/rds/global-bundle.pem and the host name "
                          "\"db1.example.internal\" matches"},
    "after_rotation": "ready",
    "after_rotation_detail": "/etc/ssl/rds/rds-ca-2019-root.pem holds a new CA",
}

DROP = object()


def rec(**changes):
    """RECORD with changes (a value of DROP removes the member)."""
    r = copy.deepcopy(RECORD)
    for k, v in changes.items():
        if v is DROP:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def line(r):
    """One record as pqtls writes it: compact JSON, one line."""
    return json.dumps(r, separators=(",", ":"))


def write(directory, name, items):
    """A file of lines; dict items become records, str items are written as they are."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for it in items:
            f.write((line(it) if isinstance(it, dict) else it) + "\n")
    return path


def clean_env(**extra):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


def report(cli, *args, stdin=None, env=None, timeout=60):
    return subprocess.run([cli, "report", *args], input=stdin, capture_output=True,
                          text=True, env=env or clean_env(), timeout=timeout)


def report_json(cli, *args, stdin=None, expect=None):
    r = report(cli, "--format", "json", *args, stdin=stdin)
    assert r.returncode in (0, 1, 2), r
    if expect is not None:
        assert r.returncode == expect, r
    return json.loads(r.stdout), r


def find_group(doc, **match):
    found = [g for g in doc["groups"] if all(g.get(k) == v for k, v in match.items())]
    assert len(found) == 1, "no single group with %r in\n%s" % (match, json.dumps(doc, indent=1))
    return found[0]


def run_in_pty(argv, env):
    """Run argv with its stdout on a pseudo-terminal; returns (exit status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                         env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(timeout=30)
    p.stderr.close()
    return p.returncode, out.decode("utf-8", "replace")


# --------------------------------------------------------------------- grouping

def test_records_of_one_connection_group_together(cli, tmpdir_path):
    # Five attempts of one program with the same settings: other pids, databases,
    # host addresses, times and modes do not split the group.
    recs = [rec(pid=100 + i, dbname=db, hostaddr="10.0.0.%d" % i,
                ts="2026-11-28T15:54:%02d.000Z" % (10 + i), mode=mode)
            for i, (db, mode) in enumerate([("app", "dry-run"), ("app", "observe"),
                                            ("reports", "dry-run"), ("app", "dry-run"),
                                            ("app", "enforce")])]
    recs[1].pop("dry_run")
    recs[3]["pid"] = 100     # the same process again
    path = write(tmpdir_path, "a.jsonl", recs)
    doc, r = report_json(cli, path, expect=0)
    assert doc["records"] == 5 and doc["malformed"] == 0
    assert len(doc["groups"]) == 1, doc
    g = doc["groups"][0]
    assert g["count"] == 5
    assert g["processes"] == 4 and g["processes_exact"] is True
    assert g["outcomes"] == {"ok": 5, "failed": 0, "abandoned": 0}
    assert g["first_ts"] == "2026-11-28T15:54:10.000Z"
    assert g["last_ts"] == "2026-11-28T15:54:14.000Z"
    assert g["dbname"] == "app" and g["dbname_varies"] is True
    assert sorted(g["modes"]) == ["dry-run", "enforce", "observe"]
    assert g["tls_protocols"] == ["TLSv1.3"] and g["no_tls"] == 0
    assert g["issuer"] == RECORD["tls"]["peer"]["issuer"] and g["issuer_varies"] is False
    assert g["dry_run"]["pass"] == 4 and g["dry_run"]["fail"] == 0
    assert g["after_rotation"]["ready"] == 5
    for k in ("exe", "host", "port", "user", "transport", "sslmode", "sslmode_source",
              "sslrootcert_source", "rootcert_file", "rootcert_exists", "verify"):
        assert g[k] == RECORD[k], k


@pytest.mark.parametrize("field,value", [
    ("exe", "/usr/bin/python3.11"),
    ("host", "db2.example.internal"),
    ("port", "6432"),
    ("user", "etl"),
    ("transport", "unix"),
    ("sslmode", "verify-full"),
    ("sslmode_source", "env"),
    ("sslrootcert_source", "env"),
    ("rootcert_file", "/home/app/.postgresql/root.crt"),
    ("rootcert_exists", False),
    ("verify", "full"),
])
def test_each_key_field_splits_groups(cli, tmpdir_path, field, value):
    path = write(tmpdir_path, "a.jsonl", [rec(), rec(), rec(**{field: value})])
    doc, _ = report_json(cli, path, expect=0)
    assert len(doc["groups"]) == 2, doc
    assert [g["count"] for g in doc["groups"]] == [2, 1]
    assert doc["groups"][1][field] == value


def test_null_and_missing_members_are_one_value(cli, tmpdir_path):
    # A record from a failed call without effective settings (no host, no user...).
    bare = {"ts": "2026-11-28T16:00:00.000Z", "pid": 7, "exe": "/usr/bin/psql",
            "api": "PQconnectdb", "mode": "observe", "outcome": "failed",
            "error": "invalid connection option \"foo\"", "tls": None}
    nulls = dict(bare, host=None, port=None, user=None, sslmode=None)
    path = write(tmpdir_path, "a.jsonl", [bare, nulls, rec()])
    doc, r = report_json(cli, path, expect=0)
    g = find_group(doc, host=None)
    assert g["count"] == 2 and g["outcomes"]["failed"] == 2
    assert g["status"] == "observed" and g["dry_run"] is None and g["after_rotation"] is None
    assert g["error"] == "invalid connection option \"foo\""
    assert g["no_tls"] == 2 and g["tls_protocols"] == []


def test_enforced_attempts_stay_apart_from_the_programs_own(cli, tmpdir_path):
    own = rec(sslmode="prefer", verify="ca")
    forced = rec(mode="enforce", sslmode="verify-full", verify="full",
                 rootcert_file="/etc/ssl/rds/global-bundle.pem",
                 forced={"from": {"sslmode": "prefer", "sslrootcert": None},
                         "to": {"sslmode": "verify-full",
                                "sslrootcert": "/etc/ssl/rds/global-bundle.pem"}})
    other_forced = copy.deepcopy(forced)
    other_forced["forced"]["from"]["sslmode"] = "require"
    path = write(tmpdir_path, "a.jsonl", [own, forced, forced, other_forced])
    doc, r = report_json(cli, path, expect=0)
    assert len(doc["groups"]) == 3
    assert find_group(doc, forced_from_sslmode="prefer")["count"] == 2
    assert find_group(doc, forced_from_sslmode="require")["count"] == 1
    assert find_group(doc, forced_from_sslmode=None)["sslmode"] == "prefer"
    table = report(cli, path).stdout
    assert "verify-full (enforced; asked prefer)" in table


def test_escaped_and_unicode_values_are_decoded(cli, tmpdir_path):
    r1 = rec(exe="/opt/caf\u00e9/bin/app", user="\u00fcser\U0001F600")
    text = line(r1)
    assert "\\u00e9" in text and "\\ud83d\\ude00" in text   # json.dumps escapes them
    raw = json.dumps(r1, separators=(",", ":"), ensure_ascii=False)
    path = write(tmpdir_path, "a.jsonl", [text, raw])
    doc, _ = report_json(cli, path, expect=0)
    assert len(doc["groups"]) == 1
    g = doc["groups"][0]
    assert g["exe"] == "/opt/caf\u00e9/bin/app" and g["user"] == "\u00fcser\U0001F600"
    assert g["count"] == 2
    rows = list(csv.DictReader(io.StringIO(report(cli, "--format", "csv", path).stdout,
                                           newline="")))
    assert rows[0]["exe"] == "/opt/caf\u00e9/bin/app"


# ----------------------------------------------------------------- worst verdicts

def test_worst_after_rotation_wins_with_its_detail(cli, tmpdir_path):
    recs = [rec(after_rotation="ready", after_rotation_detail="holds a new CA"),
            rec(after_rotation="downgrades", after_rotation_detail="falls back to plain text"),
            rec(after_rotation="breaks", after_rotation_detail="holds none of the new CAs"),
            rec(after_rotation="unaffected", after_rotation_detail="checks nothing"),
            rec(after_rotation="ready", after_rotation_detail="holds a new CA")]
    path = write(tmpdir_path, "a.jsonl", recs)
    doc, _ = report_json(cli, path, expect=1)
    g = doc["groups"][0]
    assert g["status"] == "breaks" and g["would_break"] is True
    assert g["after_rotation"] == {"result": "breaks", "detail": "holds none of the new CAs",
                                   "unaffected": 1, "ready": 2, "downgrades": 1, "breaks": 1}
    assert doc["would_break"] is True


def test_downgrades_alone_do_not_break(cli, tmpdir_path):
    path = write(tmpdir_path, "a.jsonl", [
        rec(after_rotation="ready"),
        rec(after_rotation="downgrades", after_rotation_detail="prefer falls back")])
    doc, r = report_json(cli, path, expect=0)
    g = doc["groups"][0]
    assert g["status"] == "downgrades" and g["would_break"] is False
    assert g["after_rotation"]["result"] == "downgrades"
    assert g["after_rotation"]["detail"] == "prefer falls back"


def test_dry_run_failure_breaks_and_the_most_definite_reason_wins(cli, tmpdir_path):
    def dry(result, reason, detail):
        return {"bundle": "/b.pem", "result": result, "reason": reason, "method": "probe",
                "detail": detail}
    recs = [rec(dry_run=dry("pass", "ok", "verifies")),
            rec(dry_run=dry("fail", "timeout", "no answer in 3000 ms")),
            rec(dry_run=dry("fail", "untrusted-ca", "issuer not in /b.pem")),
            rec(dry_run=dry("fail", "unreachable", "connection refused")),
            rec(dry_run=dry("fail", "hostname-mismatch", "name not in the SAN"))]
    for r in recs:
        r.pop("after_rotation")
        r.pop("after_rotation_detail")
    path = write(tmpdir_path, "a.jsonl", recs)
    doc, _ = report_json(cli, path, expect=1)
    g = doc["groups"][0]
    assert g["status"] == "breaks"
    assert g["dry_run"] == {"result": "fail", "reason": "untrusted-ca",
                            "detail": "issuer not in /b.pem", "pass": 1, "fail": 4}
    assert g["after_rotation"] is None

    # Only inconclusive failures: still a failure, with the first of them.
    path = write(tmpdir_path, "b.jsonl", [recs[0], recs[1], recs[3]])
    doc, _ = report_json(cli, path, expect=1)
    assert doc["groups"][0]["dry_run"]["reason"] == "timeout"


def test_exit_zero_when_nothing_would_break(cli, tmpdir_path):
    path = write(tmpdir_path, "a.jsonl", [
        rec(), rec(after_rotation="unaffected"), rec(after_rotation="downgrades"),
        rec(dry_run=DROP, after_rotation=DROP, after_rotation_detail=DROP, mode="observe")])
    r = report(cli, path)
    assert r.returncode == 0, r
    assert "1 would downgrade" in r.stdout and "would break" not in r.stdout
    path = write(tmpdir_path, "b.jsonl", [rec(), rec(after_rotation="unaffected")])
    r = report(cli, path)
    assert r.returncode == 0 and "nothing would break" in r.stdout


def test_exit_one_for_a_single_breaking_record_among_many(cli, tmpdir_path):
    recs = [rec(pid=i) for i in range(500)]
    recs[321]["after_rotation"] = "breaks"
    path = write(tmpdir_path, "a.jsonl", recs)
    assert report(cli, path).returncode == 1
    assert report(cli, "--format", "csv", path).returncode == 1
    assert report(cli, "--format", "json", path).returncode == 1


# ------------------------------------------------------------------------ order

def test_breaking_first_then_downgrading_then_by_count(cli, tmpdir_path):
    recs = []
    recs += [rec(user="many")] * 9                                            # ok, 9
    recs += [rec(user="few")] * 2                                             # ok, 2
    recs += [rec(user="down", after_rotation="downgrades")] * 3              # downgrades
    recs += [rec(user="observed", dry_run=DROP, after_rotation=DROP)] * 5    # no verdict
    recs += [rec(user="broken1", after_rotation="breaks")]                   # breaks, 1
    recs += [rec(user="broken4", dry_run={"result": "fail", "reason": "expired",
                                          "detail": "expired"})] * 4         # breaks, 4
    path = write(tmpdir_path, "a.jsonl", recs)
    doc, _ = report_json(cli, path, expect=1)
    assert [g["user"] for g in doc["groups"]] == ["broken4", "broken1", "down", "many",
                                                  "observed", "few"]
    assert [g["status"] for g in doc["groups"]] == ["breaks", "breaks", "downgrades", "ok",
                                                    "observed", "ok"]
    # The table and the CSV list the groups in the same order.
    table = report(cli, path).stdout.splitlines()
    rows = table[1:7]
    assert [re.search(r"\b(broken4|broken1|down|many|observed|few)\b", ln).group(1)
            for ln in rows] == ["broken4", "broken1", "down", "many", "observed", "few"]
    csv_rows = list(csv.DictReader(io.StringIO(report(cli, "--format", "csv", path).stdout,
                                               newline="")))
    assert [row["user"] for row in csv_rows] == ["broken4", "broken1", "down", "many",
                                                 "observed", "few"]


# ------------------------------------------------------------------ input forms

def test_syslog_and_journald_lines_are_accepted(cli, tmpdir_path):
    r1 = rec(pid=1)
    journal_json = {"__REALTIME_TIMESTAMP": "1764345600000000", "_HOSTNAME": "web1",
                    "SYSLOG_IDENTIFIER": "pqtls", "_PID": "1", "MESSAGE": line(rec(pid=2))}
    lines = [
        "Nov 28 12:00:00 web1 pqtls[1]: " + line(r1),                            # syslog
        "2026-11-28T12:00:00.123456+00:00 web2 pqtls[3]: " + line(rec(pid=3)),   # rsyslog
        "<134>1 2026-11-28T12:00:00Z web3 pqtls 4 - - " + line(rec(pid=4)),       # RFC 5424
        line(rec(pid=5)),                                     # journalctl -o cat, or plain
        json.dumps(journal_json),                             # journalctl -o json
        line(rec(pid=6)) + "\r",                              # CRLF line end
        "   ",                                                # blank lines are skipped
        "",
    ]
    path = write(tmpdir_path, "syslog", lines)
    doc, r = report_json(cli, path, expect=0)
    assert doc["records"] == 6 and doc["malformed"] == 0, r.stderr
    assert doc["groups"][0]["count"] == 6 and doc["groups"][0]["processes"] == 6
    assert r.stderr == ""


def test_stdin_with_dash_and_by_default(cli, tmpdir_path):
    text = "\n".join(line(rec(pid=i)) for i in range(3)) + "\n"
    for args in (["-"], []):
        doc, r = report_json(cli, *args, stdin=text, expect=0)
        assert doc["records"] == 3 and len(doc["groups"]) == 1
    # Files and stdin together.
    path = write(tmpdir_path, "a.jsonl", [rec(after_rotation="breaks")])
    doc, r = report_json(cli, path, "-", stdin=text, expect=1)
    assert doc["records"] == 4


def test_last_line_without_newline_counts(cli, tmpdir_path):
    path = os.path.join(tmpdir_path, "a.jsonl")
    with open(path, "w") as f:
        f.write(line(rec()) + "\n" + line(rec(pid=9)))
    doc, _ = report_json(cli, path, expect=0)
    assert doc["records"] == 2


def test_malformed_lines_are_counted_and_named_not_fatal(cli, tmpdir_path):
    good = line(rec())
    lines = [
        good,
        good[: len(good) // 2],                            # 2: truncated (a crash mid-write)
        "pqtls: bad PQTLS_MODE 'x'",                       # 3: a message, no JSON
        good,
        "[1,2,3]",                                         # 5: JSON, but no object
        '{"hello":"world"}',                               # 6: an object, not a record
        good.replace('"pid":30288', '"pid":030288'),       # 7: invalid number
        "Nov 28 12:00:00 h pqtls[1]: {\"exe\":\"x\",",     # 8: truncated behind a prefix
        good,
        good[:-1] + ',"x":"\\ud800"}',                     # 10: lone surrogate
    ]
    path = write(tmpdir_path, "mixed.jsonl", lines)
    doc, r = report_json(cli, path, expect=0)
    assert doc["records"] == 3 and doc["malformed"] == 7
    named = re.findall(r"mixed\.jsonl:(\d+): malformed line: (.*)", r.stderr)
    assert [int(n) for n, _ in named] == [2, 3, 5, 6, 7, 8, 10], r.stderr
    why = dict((int(n), w) for n, w in named)
    assert "invalid JSON" in why[2] and "column" in why[2]
    assert "no JSON object" in why[3]
    assert "no JSON object" in why[5]
    assert "not a pqtls record" in why[6]
    assert "number" in why[7]
    assert "surrogate" in why[10]
    # The table says so too, and still exits by the verdicts alone.
    t = report(cli, path)
    assert t.returncode == 0 and "7 malformed lines skipped" in t.stdout


def test_many_malformed_lines_name_the_first_and_count_all(cli, tmpdir_path):
    path = write(tmpdir_path, "junk", ["junk %d" % i for i in range(1000)] + [line(rec())])
    doc, r = report_json(cli, path, expect=0)
    assert doc["malformed"] == 1000 and doc["records"] == 1
    assert len(re.findall(r"junk:\d+: malformed line", r.stderr)) == 20
    assert "1000 malformed lines in all" in r.stderr


def test_a_line_too_long_is_malformed_and_skipped_whole(cli, tmpdir_path):
    huge = line(rec(error="x" * (3 * 1024 * 1024)))
    path = write(tmpdir_path, "long.jsonl", [line(rec(pid=1)), huge, line(rec(pid=2))])
    doc, r = report_json(cli, path, expect=0)
    assert doc["records"] == 2 and doc["malformed"] == 1
    assert "long.jsonl:2: malformed line: line too long" in r.stderr


def test_empty_input(cli, tmpdir_path):
    path = write(tmpdir_path, "empty", [])
    r = report(cli, path)
    assert r.returncode == 0 and "no records" in r.stdout
    doc, _ = report_json(cli, path, expect=0)
    assert doc == {"records": 0, "malformed": 0, "would_break": False, "groups": []}
    r = report(cli, "--format", "csv", path)
    assert r.returncode == 0 and len(list(csv.reader(io.StringIO(r.stdout)))) == 1


# ------------------------------------------------------------------ unreadable

def test_unreadable_input_exits_two_and_reports_the_rest(cli, tmpdir_path):
    good = write(tmpdir_path, "good.jsonl", [rec(after_rotation="breaks")])
    missing = os.path.join(tmpdir_path, "missing.jsonl")
    doc, r = report_json(cli, good, missing, expect=2)
    assert doc["records"] == 1          # what could be read is still reported
    assert "missing.jsonl" in r.stderr and "No such file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

    r = report(cli, tmpdir_path)        # a directory
    assert r.returncode == 2 and tmpdir_path in r.stderr

    if os.geteuid() != 0:
        locked = write(tmpdir_path, "locked.jsonl", [rec()])
        os.chmod(locked, 0)
        assert report(cli, locked).returncode == 2


# ----------------------------------------------------------------------- formats

def test_json_is_one_document_with_every_group(cli, tmpdir_path):
    recs = [rec(), rec(user="b", outcome="failed", error="SSL error: certificate verify failed",
                       tls=None, failed_peer=RECORD["tls"]["peer"]),
            rec(user="c", outcome="abandoned")]
    path = write(tmpdir_path, "a.jsonl", recs)
    r = report(cli, "--format=json", path)
    assert r.returncode == 0
    assert r.stdout.count("\n") == 1            # one line, one document
    doc = json.loads(r.stdout)
    assert set(doc) == {"records", "malformed", "would_break", "groups"}
    b = find_group(doc, user="b")
    assert b["outcomes"] == {"ok": 0, "failed": 1, "abandoned": 0}
    assert b["error"] == "SSL error: certificate verify failed"
    assert b["issuer"] == RECORD["tls"]["peer"]["issuer"]      # from failed_peer
    assert b["no_tls"] == 1
    assert find_group(doc, user="c")["outcomes"]["abandoned"] == 1


def test_csv_is_rfc4180_and_parses(cli, tmpdir_path):
    nasty = 'connection to server at "db, one", port 5432 failed:\nSSL error: "x"'
    recs = [rec(outcome="failed", error=nasty, exe="/opt/a,b/\"q\"/app"), rec(user="other")]
    path = write(tmpdir_path, "a.jsonl", recs)
    r = subprocess.run([cli, "report", "--format", "csv", path], capture_output=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 0
    assert r.stdout.count(b"\r\n") == 3       # CRLF ends each of the three rows
    text = r.stdout.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    for col in ("status", "count", "exe", "host", "port", "user", "sslmode", "rootcert_file",
                "verify", "dry_run_result", "after_rotation", "after_rotation_detail", "error"):
        assert col in header
    assert all(len(row) == len(header) for row in rows)
    data = [dict(zip(header, row)) for row in rows[1:]]
    assert len(data) == 2
    bad = [d for d in data if d["exe"] != RECORD["exe"]][0]
    assert bad["exe"] == '/opt/a,b/"q"/app'
    assert bad["error"] == nasty            # the newline inside the quotes, kept as it was
    assert bad["failed"] == "1" and bad["count"] == "1"
    assert bad["rootcert_exists"] == "true" and bad["dry_run_result"] == "pass"


def test_table_is_aligned_and_plain_when_not_a_terminal(cli, tmpdir_path):
    recs = [rec(), rec(user="a-much-longer-user-name", after_rotation="breaks",
                       after_rotation_detail="/etc/ssl/rds/rds-ca-2019-root.pem holds none "
                                             "of the new CAs"),
            rec(exe="/very/long/path/" + "x" * 80 + "/bin/legacy-app")]
    path = write(tmpdir_path, "a.jsonl", recs)
    r = report(cli, path)
    assert r.returncode == 1
    assert not ANSI.search(r.stdout) and "\x1b" not in r.stdout
    lines = r.stdout.splitlines()
    header = lines[0]
    for title in ("STATUS", "COUNT", "PROGRAM", "ENDPOINT", "USER", "SSLMODE", "ROOT FILE",
                  "VERIFY", "OUTCOMES", "DRY-RUN", "AFTER ROTATION"):
        assert title in header
    rows = lines[1:4]
    # Aligned: every column starts at the same place in every row.
    for title in ("PROGRAM", "ENDPOINT", "SSLMODE", "VERIFY"):
        col = header.index(title)
        for row in rows:
            assert row[col - 2:col] == "  " and row[col] != " ", (title, row)
    # Long paths are shortened, keeping the program's name.
    assert "legacy-app" in r.stdout and "x" * 80 not in r.stdout and "..." in r.stdout
    # What breaks is spelled out under the table, in full.
    assert "holds none of the new CAs" in r.stdout
    assert rows[0].split()[1] == "breaks"


def test_no_terminal_escapes_from_records(cli, tmpdir_path):
    evil = rec(exe="/bin/\x1b[2J\x1b]0;owned\x07app", user="\u009b31m",
               after_rotation="breaks", after_rotation_detail="\x1b[31mred\r\n")
    path = write(tmpdir_path, "a.jsonl", [evil])
    for env in (clean_env(), clean_env(TERM="xterm")):
        status, out = run_in_pty([cli, "report", path], env)
        assert status == 1
        visible = ANSI.sub("", out)       # our own colours removed: nothing else remains
        assert "\x1b" not in visible and "\x07" not in visible and "\u009b" not in visible
        assert "?[2J" in visible and "?]0;owned?app" in visible
        assert "?[31mred" in visible     # not a colour of ours, shown as text


@pytest.mark.parametrize("no_color,coloured", [(None, True), ("1", False), ("", True)])
def test_colour_only_on_a_terminal_and_never_with_no_color(cli, tmpdir_path, no_color,
                                                           coloured):
    path = write(tmpdir_path, "a.jsonl", [
        rec(), rec(user="x", after_rotation="breaks"), rec(user="y", after_rotation="downgrades")])
    env = clean_env(TERM="xterm")
    if no_color is not None:
        env["NO_COLOR"] = no_color
    status, out = run_in_pty([cli, "report", path], env)
    assert status == 1
    if coloured:
        assert "\x1b[31mbreaks\x1b[0m" in out
        assert "\x1b[33mdowngrades\x1b[0m" in out
        assert "\x1b[32mok\x1b[0m" in out
    else:
        assert "\x1b" not in out, out
    # json and csv never carry colour, even on a terminal.
    for fmt in ("json", "csv"):
        status, out = run_in_pty([cli, "report", "--format", fmt, path], clean_env(TERM="xterm"))
        assert "\x1b" not in out


def test_dumb_terminal_gets_no_colour(cli, tmpdir_path):
    path = write(tmpdir_path, "a.jsonl", [rec(after_rotation="breaks")])
    status, out = run_in_pty([cli, "report", path], clean_env(TERM="dumb"))
    assert status == 1 and "\x1b" not in out


# ------------------------------------------------------------------ command line

def test_help_and_version(cli):
    for flag in ("--help", "-h"):
        r = report(cli, flag)
        assert r.returncode == 0 and r.stdout.startswith("usage: pqtls report")
        assert "--format" in r.stdout and r.stderr == ""
    r = report(cli, "--version")
    assert r.returncode == 0 and re.match(r"pqtls \d+\.\d+", r.stdout)


@pytest.mark.parametrize("args", [["--bogus"], ["--format"], ["--format", "xml"],
                                  ["--format=yaml"], ["-x", "file"]])
def test_usage_errors_exit_two_with_a_one_line_hint(cli, args):
    r = report(cli, *args, stdin="")
    assert r.returncode == 2, r
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqtls report: ") and "--help" in lines[0]


def test_double_dash_ends_options(cli, tmpdir_path):
    path = write(tmpdir_path, "-odd-name.jsonl", [rec()])
    r = report(cli, "--format", "json", "--", path)
    assert r.returncode == 0 and json.loads(r.stdout)["records"] == 1
    r = subprocess.run([cli, "report", "--", "-odd-name.jsonl"], cwd=tmpdir_path,
                       capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r


def test_streams_large_input_in_bounded_memory(cli, tmpdir_path):
    # 100,000 records (about 100 MB) of 50 connections: read in one pass, in a few MB.
    recs = [line(rec(pid=1000 + i % 977, user="u%d" % (i % 50))) for i in range(5000)]
    path = os.path.join(tmpdir_path, "big.jsonl")
    with open(path, "w") as f:
        for _ in range(20):
            f.write("\n".join(recs) + "\n")
    size = os.path.getsize(path)
    argv = [cli, "report", "--format", "json", path]
    timed = os.access("/usr/bin/time", os.X_OK)
    if timed:
        argv = ["/usr/bin/time", "-f", "maxrss=%M"] + argv
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=300)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["records"] == 100000 and len(doc["groups"]) == 50
    assert all(g["count"] == 2000 for g in doc["groups"])
    # Distinct pids are counted exactly up to 64 per group, then "at least".
    assert all(g["processes"] == 64 and g["processes_exact"] is False for g in doc["groups"])
    if timed and not harness.sanitizer_runtimes(harness.LIB_PATH):
        max_rss_kb = int(re.search(r"maxrss=(\d+)", r.stderr).group(1))
        assert max_rss_kb * 1024 < size / 3, (max_rss_kb, size)
        assert max_rss_kb < 32 * 1024, max_rss_kb
    assert elapsed < 120


# ------------------------------------------------------------- real records

def test_report_on_real_records(cli, lib, pg, home, tmpdir_path):
    """psql under the interposer in dry-run with PQTLS_NEW_CA: a root file without the
    new CA breaks, one with it is ready, require without a root file is unaffected."""
    new_ca = pg.make_ca("pqtls report new CA", name="report-new-ca")
    both = pg.bundle(pg.ca, new_ca, name="report-both")
    env = {"PQTLS_BUNDLE": pg.ca_file, "PQTLS_NEW_CA": new_ca.cert}
    runs = [
        (pg.conninfo(sslmode="verify-full", sslrootcert=pg.ca_file, host="localhost",
                     hostaddr="127.0.0.1"), 2),
        (pg.conninfo(sslmode="verify-full", sslrootcert=both, host="localhost",
                     hostaddr="127.0.0.1"), 1),
        (pg.conninfo(sslmode="require"), 1),
    ]
    lines = []
    for conninfo, times in runs:
        for _ in range(times):
            r = run_preloaded(["psql", "-X", "-At", "-c", "SELECT 1", conninfo], home=home,
                              mode="dry-run", env_extra=env)
            assert r.returncode == 0, r.describe()
            assert len(r.records) == 1, r.describe()
            lines += r.log_text.splitlines()
    path = write(tmpdir_path, "real.jsonl",
                 ["Nov 28 12:00:00 %s pqtls[1]: %s" % ("host", lines[0])] + lines[1:])
    doc, rep = report_json(cli, path, expect=1)
    assert doc["records"] == 4 and doc["malformed"] == 0, rep.stderr
    assert len(doc["groups"]) == 3
    broken, others = doc["groups"][0], doc["groups"][1:]
    assert broken["status"] == "breaks" and broken["count"] == 2
    assert broken["rootcert_file"] == pg.ca_file and broken["verify"] == "full"
    assert broken["after_rotation"]["result"] == "breaks"
    assert broken["after_rotation"]["detail"]
    assert broken["dry_run"]["result"] == "pass" and broken["processes"] == 2
    assert broken["exe"].endswith("psql") and broken["tls_protocols"]
    ready = find_group(doc, rootcert_file=os.fspath(both))
    assert ready["after_rotation"]["result"] == "ready" and ready["status"] == "ok"
    plain = find_group(doc, sslmode="require")
    assert plain["after_rotation"]["result"] == "unaffected" and plain["verify"] == "none"
    assert plain["rootcert_exists"] is False
    assert {g["user"] for g in doc["groups"]} == {"pqtls_user"}

    table = report(cli, path)
    assert table.returncode == 1
    assert table.stdout.splitlines()[1].split()[1] == "breaks"
    csv_rows = list(csv.DictReader(io.StringIO(report(cli, "--format", "csv", path).stdout,
                                               newline="")))
    assert [row["status"] for row in csv_rows][0] == "breaks" and len(csv_rows) == 3
