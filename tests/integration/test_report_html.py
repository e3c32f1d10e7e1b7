"""`pqtls report --format html`, opened in a real browser (Debian's chromium, headless).

The page is read back as the browser built it (`--dump-dom`, after its script ran): its
numbers must equal `--format json`'s for the same records, its filters must hide exactly
the groups that do not match, and values from hostile programs must stay text (no element,
no script, no fetch).  The page's Content-Security-Policy names its one script by hash, so
the script having run (the "showing N of M groups" line it writes) proves the hash right.
"""

import html.parser
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

from test_report import DROP, rec, report, write

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make deps)")


def browser_dom(path, tmpdir, fragment=""):
    """The DOM chromium built from the page at path (after its scripts ran), as HTML."""
    url = "file://" + urllib.parse.quote(path) + fragment
    profile = os.path.join(tmpdir, "chromium-profile")
    r = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                        "--user-data-dir=" + profile, "--dump-dom", url],
                       capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "HOME": tmpdir, "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "<html" in r.stdout, r.stderr[-2000:]
    return r.stdout


class Dom(html.parser.HTMLParser):
    """Elements with their attributes and text, enough to read the page back."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []          # [tag, attrs, text], in document order
        self.open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        el = [tag, dict(attrs), "", len(self.elements)]      # position last
        self.elements.append(el)
        self.open.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        for el in self.open:
            el[2] += data

    def by_id(self, ident):
        found = [e for e in self.elements if e[1].get("id") == ident]
        assert len(found) == 1, ident
        return found[0]

    def rows(self):
        return [e for e in self.elements if e[0] == "tr" and "data-program" in e[1]]


def page(cli, tmpdir, records, *extra):
    path = write(tmpdir, "records.jsonl", records)
    h = report(cli, "--format", "html", *extra, path)
    j = report(cli, "--format", "json", *extra, path)
    assert h.returncode == j.returncode and h.returncode in (0, 1), (h, j)
    out = os.path.join(tmpdir, "report.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(h.stdout)
    return out, h.stdout, json.loads(j.stdout)


def endpoint(g):
    host, port = g["host"], g["port"] or "5432"
    return ("[%s]:%s" if ":" in host else "%s:%s") % (host, port)


def fleet():
    """Records of every verdict, several programs and endpoints, uneven counts."""
    out = []
    out += [rec(pid=100 + i) for i in range(5)]                                   # ready
    out += [rec(exe="/usr/bin/python3", user="app", sslmode="verify-full", verify="full",
                after_rotation="breaks",
                after_rotation_detail="/etc/ssl/rds/rds-ca-2019-root.pem holds none of the new CAs")
            for _ in range(3)]
    out += [rec(exe="/opt/legacy/bin/nightly", host="db2.example.internal", sslmode="prefer",
                sslmode_source="default", after_rotation="downgrades",
                rootcert_file="/root/.postgresql/root.crt",
                after_rotation_detail="/root/.postgresql/root.crt holds none of the new CAs")
            for _ in range(2)]
    out += [rec(exe="/usr/bin/perl", host="db2.example.internal", sslmode="require",
                verify="none", rootcert_exists=False, after_rotation="unaffected",
                after_rotation_detail="checks no certificate (sslmode=require, no root file)")]
    out += [rec(exe="/usr/bin/ruby", port="6432",
                dry_run={"bundle": "/b.pem", "result": "fail", "reason": "untrusted-ca",
                         "method": "chain",
                         "detail": 'the server\'s chain ends at issuer "CN=Old Root", which '
                                   '/b.pem does not hold (1 certificate); add that CA to the bundle'},
                after_rotation=DROP, after_rotation_detail=DROP) for _ in range(4)]
    out += [rec(exe="/usr/bin/php", mode="observe", dry_run=DROP, after_rotation=DROP,
                after_rotation_detail=DROP)]
    return out


def test_page_renders_with_the_numbers_of_json(cli, tmpdir_path):
    path, text, doc = page(cli, tmpdir_path, fleet())
    dom = Dom(browser_dom(path, tmpdir_path))

    assert dom.by_id("would-break")[1]["data-would-break"] == "true" and doc["would_break"]
    assert int(dom.by_id("n-records")[1]["data-n"]) == doc["records"] == 16
    assert int(dom.by_id("n-groups")[1]["data-n"]) == len(doc["groups"]) == 6
    assert int(dom.by_id("n-malformed")[1]["data-n"]) == doc["malformed"] == 0
    for v in ("breaks", "downgrades", "ready", "unaffected", "passes", "unjudged"):
        want = sum(g["verdicts"][v] for g in doc["groups"])
        shown = [e for e in dom.elements if e[1].get("id") == "n-" + v]
        if v in ("passes", "unjudged") and want == 0:
            assert shown == [], v               # shown only when there are some
        else:
            assert int(shown[0][1]["data-n"]) == want, v
    assert int(dom.by_id("n-breaks")[1]["data-n"]) == 7       # 3 after_rotation + 4 dry-run

    rows = dom.rows()
    assert len(rows) == len(doc["groups"])
    for row, g in zip(rows, doc["groups"]):                     # the same order as json
        assert row[1]["data-program"] == g["exe"]
        assert row[1]["data-endpoint"] == endpoint(g)
        assert int(row[1]["data-count"]) == g["count"]
        cells = {e[1]["data-v"]: int(e[2]) for e in dom.elements
                 if e[0] == "td" and "data-v" in e[1] and in_row(e, row, dom)}
        assert cells, row
        assert cells["count"] == g["count"]
        for v, n in g["verdicts"].items():
            assert cells.get(v, 0) == n, (g["exe"], v)
    # The script ran (CSP let it) and counted every group.
    assert dom.by_id("shown")[2] == "showing 6 of 6 groups, 16 attempts"
    # The bars: one per program and per endpoint, each segment a verdict's count.
    svg_titles = [e[2] for e in dom.elements if e[0] == "title"]
    assert any(t.startswith("/usr/bin/python3: 3 breaks") for t in svg_titles)


def in_row(el, row, dom):
    """Whether element el lies inside row (document order: after it, before the next row)."""
    i, r = el[3], row[3]
    nxt = [x[3] for x in dom.rows() if x[3] > r]
    return r < i < (nxt[0] if nxt else len(dom.elements))


def test_breaking_groups_say_what_to_change(cli, tmpdir_path):
    path, text, doc = page(cli, tmpdir_path, fleet())
    dom = Dom(browser_dom(path, tmpdir_path))
    cards = [e for e in dom.elements if e[0] == "article"]
    # Every group that breaks or downgrades has a card, breaking first.
    assert [c[1]["data-program"] for c in cards] == \
        [g["exe"] for g in doc["groups"] if g["status"] in ("breaks", "downgrades")]
    py = [c for c in cards if c[1]["data-program"] == "/usr/bin/python3"][0][2]
    # The root file to update, and the new CA learned from a ready group's record.
    assert "Update the root file /etc/ssl/rds/rds-ca-2019-root.pem" in py
    ready = [g for g in doc["groups"] if g["status"] == "ok" and g["after_rotation"]
             and g["after_rotation"]["result"] == "ready"]
    assert ready and 'holds a new CA' in ready[0]["after_rotation"]["detail"]
    ruby = [c for c in cards if c[1]["data-program"] == "/usr/bin/ruby"][0][2]
    assert "Add the CA CN=Old Root to the bundle" in ruby
    nightly = [c for c in cards if c[1]["data-program"] == "/opt/legacy/bin/nightly"][0][2]
    assert "Update the root file /root/.postgresql/root.crt" in nightly


def test_the_new_ca_is_named_when_a_ready_record_names_it(cli, tmpdir_path):
    recs = fleet() + [rec(user="other",
                          after_rotation_detail='/etc/ssl/new.pem holds the new CA "CN=Root G1"')]
    path, text, doc = page(cli, tmpdir_path, recs)
    dom = Dom(browser_dom(path, tmpdir_path))
    py = [c for c in dom.elements if c[0] == "article"
          and c[1]["data-program"] == "/usr/bin/python3"][0][2]
    assert "add the new CA CN=Root G1" in py


@pytest.mark.parametrize("fragment,keep", [
    ("#verdict=breaks", lambda g: g["verdicts"]["breaks"] > 0),
    ("#verdict=unjudged", lambda g: g["verdicts"]["unjudged"] > 0),
    ("#endpoint=" + urllib.parse.quote("db2.example.internal:5432"),
     lambda g: g["host"] == "db2.example.internal"),
    ("#program=" + urllib.parse.quote("/usr/bin/ruby") + "&verdict=breaks",
     lambda g: g["exe"] == "/usr/bin/ruby"),
    ("#program=" + urllib.parse.quote("/usr/bin/ruby") + "&verdict=ready", lambda g: False),
])
def test_filters_hide_exactly_the_groups_that_do_not_match(cli, tmpdir_path, fragment, keep):
    path, text, doc = page(cli, tmpdir_path, fleet())
    dom = Dom(browser_dom(path, tmpdir_path, fragment))
    shown = [r for r in dom.rows() if "hidden" not in r[1]]
    want = [g for g in doc["groups"] if keep(g)]
    assert [(r[1]["data-program"], int(r[1]["data-count"])) for r in shown] == \
        [(g["exe"], g["count"]) for g in want]
    assert dom.by_id("shown")[2] == "showing %d of 6 groups, %d attempts" % (
        len(want), sum(g["count"] for g in want))
    # The breaking cards follow the same filter.
    cards = [c for c in dom.elements if c[0] == "article" and "hidden" not in c[1]]
    assert {c[1]["data-program"] for c in cards} <= {g["exe"] for g in want}


HOSTILE = {
    "exe": '/opt/<script>alert(1)</script>/"x\'&amp;',
    "host": '"><img src=x onerror=alert(2)>',
    "user": "</td></tr></table><iframe src=//evil.example>",
    "error": "bad\x1b[31m\r\n<style>*{display:none}</style>",
    "rootcert_file": "/tmp/<svg onload=alert(3)>",
    "after_rotation": "breaks",
    "after_rotation_detail": "/tmp/<b>x</b> holds none of the new CAs",
}


def test_hostile_values_stay_text(cli, tmpdir_path):
    path, text, doc = page(cli, tmpdir_path, [rec(**HOSTILE), rec()])
    dom = Dom(browser_dom(path, tmpdir_path))
    tags = [e[0] for e in dom.elements]
    for tag in ("img", "iframe"):
        assert tag not in tags, tag
    assert [e for e in dom.elements if e[0] == "b" and e[2] == "x"] == []
    assert any("/tmp/<b>x</b> holds none" in e[2] for e in dom.elements if e[0] == "p")
    assert tags.count("script") == 1 and tags.count("style") == 1
    assert not [e for e in dom.elements if e[0] == "svg" and "onload" in e[1]]
    # Nothing on the page can fetch: no attribute names an address.
    for tag, attrs, _, _ in dom.elements:
        for k in ("src", "href", "action", "data", "poster"):
            assert k not in attrs, (tag, attrs)
    row = [r for r in dom.rows() if r[1]["data-program"] != RECORD_EXE][0]
    assert row[1]["data-program"] == HOSTILE["exe"]            # exact, as an attribute
    assert HOSTILE["user"] in row[2] and HOSTILE["exe"] in row[2]  # and as text
    assert "\x1b" not in text and "\r" not in text.replace("\r\n", "")
    assert dom.by_id("shown")[2] == "showing 2 of 2 groups, 2 attempts"


RECORD_EXE = rec()["exe"]


def test_self_contained_and_policy_forbids_fetches(cli, tmpdir_path):
    path, text, doc = page(cli, tmpdir_path, fleet())
    assert "http://" not in text and "https://" not in text and "url(" not in text
    assert "@font-face" not in text and "@import" not in text
    dom = Dom(text)
    csp = [e[1]["content"] for e in dom.elements if e[0] == "meta"
           and e[1].get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src 'sha256-" in csp[0]


def test_empty_input_is_a_page_too(cli, tmpdir_path):
    path, text, doc = page(cli, tmpdir_path, [])
    dom = Dom(browser_dom(path, tmpdir_path))
    assert int(dom.by_id("n-records")[1]["data-n"]) == 0
    assert dom.rows() == []
    assert dom.by_id("would-break")[1]["data-would-break"] == "false"
