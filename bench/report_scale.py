#!/usr/bin/python3
"""report_scale.py: `pqtls report` at fleet scale, every format.

    bench/report_scale.py [--records N] [--hosts H] [--groups G] [--dir DIR] [--rounds R]

Generates N records (default 10,000,000) from H machines (default 1,000) gathered by
a central syslog (bench/gen_records.py --hosts: "Mmm dd hh:mm:ss HOST pqtls[PID]: {...}"
lines, G distinct connections, default 2,000), unless DIR already holds them, and the
first N/10 of them; then runs `pqtls report --format F` over each file for every format
under /usr/bin/time -v, output to /dev/null. Prints a Markdown table: records/s on the
wall clock and on CPU time (user + sys), peak RSS for N and N/10 records and their ratio
(memory bounded by the groups: about 1). The machine's load average is printed beside,
since the wall clock counts the waits for a CPU. Each format reads the file once before
the formats are timed, so that they are timed on a warm page cache (the first read of a
12.7 GB file from disk is the disk's figure, not the report's).

With --write, the table and the command replace the section of bench/results.md that
starts at SCALE_MARK (bench/bench.py keeps that section when it rewrites the file).
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = ["table", "json", "csv", "html", "prometheus"]
SCALE_MARK = "<!-- bench/report_scale.py: from here to the end -->"
RESULTS = os.path.join(REPO, "bench", "results.md")


def timed(argv):
    """Run argv (stdout to /dev/null) under /usr/bin/time -v: wall s, cpu s, max RSS KiB, rc."""
    with open(os.devnull, "w") as null:
        p = subprocess.run(["/usr/bin/time", "-v"] + argv, stdout=null, stderr=subprocess.PIPE,
                           text=True)
    err = p.stderr

    def field(name):
        m = re.search(r"^\s*%s: (.*)$" % re.escape(name), err, re.M)
        if m is None:
            raise RuntimeError("no %r in /usr/bin/time output:\n%s" % (name, err[-2000:]))
        return m.group(1).strip()
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    wall_s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)"))
    status = int(field("Exit status"))
    return wall_s, cpu, rss, status


def instructions(argv):
    """All instructions of argv from start to exit (valgrind --tool=callgrind)."""
    with open(os.devnull, "w") as null:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                           + argv, stdout=null, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if m is None:
        raise RuntimeError("callgrind: %s" % p.stderr[-2000:])
    return int(m.group(1))


def per_record(cli, fmt, small, n):
    """Instructions one more record costs: callgrind over the first n and 2n records of
    small, the difference over n (the start, the output and the exit cancel out)."""
    paths = []
    for k in (n, 2 * n):
        path = "%s.head%d" % (small, k)
        if not os.path.exists(path):
            with open(path, "wb") as out:
                subprocess.run(["head", "-n", str(k), small], stdout=out, check=True)
        paths.append(path)
    a = instructions([cli, "report", "--format", fmt, paths[0]])
    b = instructions([cli, "report", "--format", fmt, paths[1]])
    return (b - a) / n


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--dir", default="/tmp/pqtls-report-scale")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="splice the figures into " + RESULTS)
    ap.add_argument("--no-callgrind", dest="callgrind", action="store_false",
                    help="skip the instructions per record (valgrind)")
    ap.add_argument("--cli", default=os.path.join(REPO, os.environ.get("PQTLS_BUILD", "build"),
                                                  "pqtls"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    big = os.path.join(a.dir, "fleet-%d-%dh-%dg.log" % (a.records, a.hosts, a.groups))
    small = big + ".tenth"
    if not os.path.exists(big):
        print("generating %s ..." % big, file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_records.py"),
                        str(a.records), big + ".tmp", "--hosts", str(a.hosts),
                        "--groups", str(a.groups)], check=True)
        os.rename(big + ".tmp", big)
    if not os.path.exists(small):
        with open(small, "wb") as out:
            subprocess.run(["head", "-n", str(a.records // 10), big], stdout=out, check=True)
    size = os.path.getsize(big)
    rows = []
    header = ("| format | records/s, wall clock | records/s, CPU (user+sys) | wall s | CPU s "
              "| peak RSS, %s records | peak RSS, %s records | ratio | load avg (1 min) "
              "| instructions per record |"
              % (format(a.records, ","), format(a.records // 10, ",")))
    print(header + "\n|---|---|---|---|---|---|---|---|---|---|", flush=True)
    timed([a.cli, "report", "--format", "json", big])     # warm the page cache
    for fmt in FORMATS:
        for _ in range(a.rounds):
            la = loadavg()
            wall, cpu, rss, rc = timed([a.cli, "report", "--format", fmt, big])
            _, _, rss_small, rc_small = timed([a.cli, "report", "--format", fmt, small])
            if rc not in (0, 1) or rc_small not in (0, 1):
                raise RuntimeError("pqtls report --format %s exited %d / %d" % (fmt, rc, rc_small))
            # the reader is the same for every format: counted once, with json
            ipr = per_record(a.cli, fmt, small, 50_000) if a.callgrind and fmt == "json" \
                else None
            row = ("| %s | %s | %s | %.1f | %.1f | %s KiB | %s KiB | %.3f | %s | %s |"
                   % (fmt, format(int(a.records / wall), ","), format(int(a.records / cpu), ","),
                      wall, cpu, format(rss, ","), format(rss_small, ","), rss / rss_small, la,
                      format(int(ipr), ",") if ipr else "—"))
            rows.append(row)
            print(row, flush=True)
    if a.write:
        write_section(a, size, header, rows)


def write_section(a, size, header, rows):
    """Replace the SCALE_MARK section of bench/results.md (or add it at the end)."""
    text = open(RESULTS).read() if os.path.exists(RESULTS) else ""
    i = text.find(SCALE_MARK)
    if i >= 0:
        text = text[:i]
    cmd = ("bench/report_scale.py --records %d --hosts %d --groups %d --rounds %d --write"
           % (a.records, a.hosts, a.groups, a.rounds))
    load = "load average (1 min) %s at the end" % loadavg()
    section = [
        SCALE_MARK, "",
        "## pqtls report at fleet scale", "",
        "Measured by `%s` on %s: %s records (%.1f GB of syslog lines from %s machines, %s "
        "groups; bench/gen_records.py --hosts) and the first tenth of them, read by `pqtls "
        "report --format F FILE > /dev/null` under `/usr/bin/time -v`, after one untimed read "
        "(warm page cache). %d CPUs (%s), shared with other work: the "
        "wall clock counts the waits for a CPU, CPU time does not. Target: at least 500,000 "
        "records/s in every format, and peak RSS bounded by the groups (ratio ~1 for ten "
        "times the records)."
        % (cmd, datetime.date.today().isoformat(), format(a.records, ","), size / 1e9,
           format(a.hosts, ","), format(a.groups, ","), os.cpu_count(),
           platform.machine()),
        "Instructions per record (callgrind, independent of the load; counted with json, "
        "the reader being the same for every format): the instructions of a run over the "
        "first 100,000 records minus those over the first 50,000, divided by 50,000.",
        "", header, "|---|---|---|---|---|---|---|---|---|---|"] + rows + [
        "", "The machine's %s." % load,
        "", "```sh",
        "/usr/bin/python3 bench/gen_records.py %d fleet.log --hosts %d --groups %d"
        % (a.records, a.hosts, a.groups),
        "head -n %d fleet.log > fleet.log.tenth" % (a.records // 10),
        "/usr/bin/time -v build/pqtls report --format table|json|csv|html|prometheus fleet.log "
        "> /dev/null",
        "/usr/bin/time -v build/pqtls report --format ... fleet.log.tenth > /dev/null",
        "valgrind --tool=callgrind build/pqtls report --format ... fleet-first-50000|100000.log",
        "```", ""]
    with open(RESULTS, "w") as f:
        f.write(text.rstrip("\n") + "\n\n" + "\n".join(section))


if __name__ == "__main__":
    main()
