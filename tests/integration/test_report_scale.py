"""pqtls report keeps memory bounded by the number of groups, not of records, in every
format: ten times the records from a fleet (bench/gen_records.py --hosts, syslog lines
from 100 machines, the same 300 groups) must not take noticeably more memory. A small,
cheap version of bench/report_scale.py (10 million records; figures in bench/results.md);
no timing here. Peak RSS of each run alone, by /usr/bin/time."""

import json
import os
import subprocess
import sys

import pytest

from harness import REPO

FORMATS = ["table", "json", "csv", "html", "prometheus"]
N_BIG = 150_000


@pytest.fixture(scope="module")
def fleet_logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("scale")
    big = os.path.join(d, "big.log")
    subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_records.py"), str(N_BIG),
                    big, "--hosts", "100", "--groups", "300"], check=True, timeout=300)
    small = os.path.join(d, "small.log")
    with open(big) as f, open(small, "w") as out:
        for i, line in enumerate(f):
            if i == N_BIG // 10:
                break
            out.write(line)
    return small, big


def peak_rss_kib(argv):
    """Run argv with stdout to /dev/null; (exit status, its own peak RSS in KiB).

    Through /usr/bin/time: a child forked from this Python process would count
    Python's own pages, which it carries until exec, in its peak."""
    r = subprocess.run(["/usr/bin/time", "-f", "rss=%M"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    rss = [int(x[4:]) for x in r.stderr.splitlines() if x.startswith("rss=")]
    assert len(rss) == 1, r.stderr
    return r.returncode, rss[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_memory_follows_groups_not_records(cli, fleet_logs, fmt):
    if not os.access("/usr/bin/time", os.X_OK):
        pytest.skip("GNU time (/usr/bin/time) is not installed")
    small, big = fleet_logs
    rc_small, rss_small = peak_rss_kib([cli, "report", "--format", fmt, small])
    rc_big, rss_big = peak_rss_kib([cli, "report", "--format", fmt, big])
    assert rc_small == 1 and rc_big == 1        # the generated fleet has breaking groups
    # 135,000 more records (about 160 MB of text) may not add more than a quarter
    assert rss_big <= rss_small * 1.25, (fmt, rss_small, rss_big)


def test_the_fleet_lines_are_all_read(cli, fleet_logs):
    """The syslog lines of 100 machines are records to the report, none malformed, and
    the groups are the generator's 300, whatever machine a record came from."""
    _, big = fleet_logs
    r = subprocess.run([cli, "report", "--format", "json", big], capture_output=True,
                       text=True, timeout=120)
    summary = json.loads(r.stdout)
    assert summary["records"] == N_BIG and summary["malformed"] == 0
    assert len(summary["groups"]) == 300


KEY = ["exe", "host", "port", "user", "transport", "sslmode", "sslmode_source",
       "sslrootcert_source", "rootcert_file", "rootcert_exists", "verify"]


def test_thousands_of_groups_counted_as_python_counts(cli, tmpdir_path):
    """3,000 groups (the table grows its index several times): every group and its
    count as Python's own grouping of the same records finds them."""
    path = os.path.join(tmpdir_path, "many.log")
    subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_records.py"), "30000",
                    path, "--hosts", "50", "--groups", "3000"], check=True, timeout=300)
    want = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line[line.index("{"):])
            key = tuple(rec.get(k) for k in KEY)
            want[key] = want.get(key, 0) + 1
    r = subprocess.run([cli, "report", "--format", "json", path], capture_output=True,
                       text=True, timeout=120)
    got = {tuple(g[k] for k in KEY): g["count"] for g in json.loads(r.stdout)["groups"]}
    assert len(want) > 2000, len(want)
    assert got == want
