"""`pqtls report --format prometheus`: the text exposition format, for node_exporter's
textfile collector.

Checked by Prometheus' own parser and linter (`promtool check metrics`, Debian's
prometheus package), and read back here to compare its numbers with `--format json`'s.
"""

import json
import re
import shutil
import subprocess

import pytest

from test_report import rec, report, write
from test_report_html import endpoint, fleet

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (make deps)")

SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"(,|$)')


def promtool(text):
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def samples(text):
    """{(name, ((label, value)...)): value} of every sample line."""
    out = {}
    for ln in text.splitlines():
        if ln.startswith("#"):
            continue
        m = SAMPLE.match(ln)
        assert m, ln
        labels = tuple((k, unescape(v)) for k, v, _ in LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in out, "duplicate series " + ln
        out[key] = float(m.group(3))
    return out


def metrics(cli, tmpdir, records):
    path = write(tmpdir, "records.jsonl", records)
    p = report(cli, "--format", "prometheus", path)
    j = report(cli, "--format", "json", path)
    assert p.returncode == j.returncode and p.returncode in (0, 1), p
    return p.stdout, json.loads(j.stdout)


def test_promtool_accepts_it_and_the_numbers_equal_json(cli, tmpdir_path):
    text, doc = metrics(cli, tmpdir_path, fleet())
    r = promtool(text)
    assert r.returncode == 0, r.stdout + r.stderr
    got = samples(text)
    want = {}
    for g in doc["groups"]:
        for v, n in g["verdicts"].items():
            if n:
                key = ("pqtls_connection_attempts", (("verdict", v), ("program", g["exe"]),
                                                     ("endpoint", endpoint(g)),
                                                     ("sslmode", g["sslmode"])))
                want[key] = want.get(key, 0) + n
    assert {k: v for k, v in got.items() if k[0] == "pqtls_connection_attempts"} == want
    assert got[("pqtls_would_break", ())] == 1
    assert got[("pqtls_report_records", ())] == doc["records"]
    assert got[("pqtls_report_groups", ())] == len(doc["groups"])
    assert got[("pqtls_report_malformed_lines", ())] == 0
    for name in ("pqtls_connection_attempts", "pqtls_would_break"):
        assert "# HELP %s " % name in text and "# TYPE %s gauge" % name in text


def test_groups_that_differ_in_user_only_are_one_series(cli, tmpdir_path):
    text, doc = metrics(cli, tmpdir_path, [rec(user="a"), rec(user="b"), rec(user="b")])
    assert len(doc["groups"]) == 2
    got = samples(text)
    series = [v for k, v in got.items() if k[0] == "pqtls_connection_attempts"]
    assert series == [3]
    assert got[("pqtls_would_break", ())] == 0


def test_hostile_label_values_are_escaped(cli, tmpdir_path):
    nasty = '/opt/a"b\\c\n} pqtls_would_break 0\n#'
    text, doc = metrics(cli, tmpdir_path, [rec(exe=nasty, after_rotation="breaks"),
                                           rec(host='h"x\\y')])
    r = promtool(text)
    assert r.returncode == 0, r.stdout + r.stderr
    got = samples(text)
    programs = {dict(k[1])["program"] for k in got if k[0] == "pqtls_connection_attempts"}
    assert nasty in programs
    endpoints = {dict(k[1])["endpoint"] for k in got if k[0] == "pqtls_connection_attempts"}
    assert 'h"x\\y:5432' in endpoints
    assert got[("pqtls_would_break", ())] == 1


def test_promtool_would_catch_an_unescaped_value(cli, tmpdir_path):
    """The check can fail: the same output with one label value left raw is refused."""
    text, _ = metrics(cli, tmpdir_path, [rec(exe='/opt/a"b')])
    assert promtool(text).returncode == 0
    assert promtool(text.replace('a\\"b', 'a"b')).returncode != 0


def test_empty_input(cli, tmpdir_path):
    text, doc = metrics(cli, tmpdir_path, [])
    assert promtool(text).returncode == 0
    got = samples(text)
    assert got[("pqtls_would_break", ())] == 0 and got[("pqtls_report_records", ())] == 0
