#!/usr/bin/python3
"""bench.py: what pqtls costs a program, measured against the same work without it.

Run by bench/run.sh (`make bench`), which builds the helpers first. Every figure is
a ratio against the same work without pqtls in the same run: the runs alternate
(each round runs every configuration once, in a rotated order) and the table
gives the median of the per-round ratios and their spread (min-max), because the
machines this runs on are shared and noisy. Instruction counts come from
`valgrind --tool=callgrind` (whole program, all of its instructions).

Settings (environment):
    PQTLS_BUILD             build directory (default build)
    PQTLS_BENCH_ROUNDS      rounds of the timed figures (default 5)
    PQTLS_BENCH_CG_ROUNDS   rounds of the callgrind figures (default 3)
    PQTLS_BENCH_STEPS       rounds of the lockstep figures (default 100)
    PQTLS_BENCH_SECONDS     length of one pgbench run (default 2)
    PQTLS_BENCH_RECORDS     records for the report figure (default 1000000)
    PQTLS_BENCH_JQ_RECORDS  records jq groups (default: all of them, the same file)
    PQTLS_BENCH_OUT         where results.md goes (default bench/results.md)
    PQTLS_BENCH_ONLY        sections to run, e.g. "1,3" (default all: 1 to 5)

Writes the table on stdout and bench/results.md (markdown table and the commands).
"""

import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))

import pgserver  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("PQTLS_BUILD", "build"))
LIB = os.path.join(BUILD, "libpqtls.so")
LIB_NONOW = os.path.join(BUILD, "bench", "libpqtls-nonow.so")
EMPTY_SO = os.path.join(BUILD, "bench", "empty.so")
EMPTY_NOSTART_SO = os.path.join(BUILD, "bench", "empty-nostart.so")
CLI = os.path.join(BUILD, "pqtls")
CONNECT_ONCE = os.path.join(BUILD, "bench", "connect_once")
RUNSTAT = os.path.join(BUILD, "bench", "runstat")
LOCKSTEP = os.path.join(BUILD, "bench", "lockstep")
GEN = os.path.join(REPO, "bench", "gen_records.py")
GROUP_JQ = os.path.join(REPO, "bench", "group.jq")
RDS_BUNDLE = os.path.join(REPO, "tests", "fixtures", "rds", "global-bundle-2025-g1.pem")
ROUNDS = int(os.environ.get("PQTLS_BENCH_ROUNDS", "5"))
CG_ROUNDS = int(os.environ.get("PQTLS_BENCH_CG_ROUNDS", "3"))
STEPS = int(os.environ.get("PQTLS_BENCH_STEPS", "100"))
SECONDS = float(os.environ.get("PQTLS_BENCH_SECONDS", "2"))
N_RECORDS = int(os.environ.get("PQTLS_BENCH_RECORDS", "1000000"))
JQ_RECORDS = int(os.environ.get("PQTLS_BENCH_JQ_RECORDS", "0")) or None
OUT_MD = os.environ.get("PQTLS_BENCH_OUT") or os.path.join(REPO, "bench", "results.md")
ONLY = {x.strip() for x in os.environ.get("PQTLS_BENCH_ONLY", "1,2,3,4,5").split(",")}
PYTHON = "/usr/bin/python3"

T0 = time.monotonic()
LOAD_START = os.getloadavg()[0]


def log(msg):
    print("[%5.0fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running programs

class Env:
    """The clean environment of harness.build_env: PATH, HOME, LANG, and for the
    runs with pqtls LD_PRELOAD, PQTLS_MODE, PQTLS_LOG (a file) and PQTLS_BUNDLE."""

    def __init__(self, work):
        self.work = work
        self.home = os.path.join(work, "home")
        os.makedirs(self.home, exist_ok=True)
        self.n = 0

    def make(self, mode=None, bundle=None, lib=LIB, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8"}
        log_path = None
        if mode is not None:
            self.n += 1
            log_path = os.path.join(self.work, "records-%d.jsonl" % self.n)
            env.update(LD_PRELOAD=lib, PQTLS_MODE=mode, PQTLS_LOG=log_path)
            if bundle:
                env["PQTLS_BUNDLE"] = bundle
        env.update({k: str(v) for k, v in extra.items()})
        return env, log_path


def rewrap(path, out, width):
    """The PEM file with its base64 lines rewrapped to `width` columns: OpenSSL loads it
    all the same, but it is not the plain form pqtls vouches for without asking."""
    with open(path) as f:
        text = f.read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----",
                        text, re.S)
    with open(out, "w") as f:
        for b in blocks:
            b64 = "".join(b.split())
            f.write("-----BEGIN CERTIFICATE-----\n" +
                    "\n".join(b64[i:i + width] for i in range(0, len(b64), width)) +
                    "\n-----END CERTIFICATE-----\n")
    return out


def run(argv, env, timeout=600, check=True):
    """Run argv; returns (wall seconds, stdout, stderr)."""
    t = time.monotonic()
    p = subprocess.Popen(argv, env=env, cwd=env.get("HOME", "/"), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise RuntimeError("timed out: %s\n%s" % (shlex.join(argv), err.decode(errors="replace")))
    wall = time.monotonic() - t
    if check and p.returncode != 0:
        raise RuntimeError("exit %d: %s\n%s%s" % (p.returncode, shlex.join(argv),
                                                 out.decode(errors="replace")[-2000:],
                                                 err.decode(errors="replace")[-2000:]))
    return wall, out.decode(errors="replace"), err.decode(errors="replace")


def run_ru(argv, env, stdout_path, timeout=3600):
    """Run argv under runstat (bench/runstat.c) with its output to a file; returns
    (wall s, user s, sys s, max RSS KiB, exit status, stderr): the kernel's own
    accounting of that process."""
    stat_path = stdout_path + ".stat"
    with open(stdout_path, "wb") as out:
        p = subprocess.run([RUNSTAT, stat_path] + argv, env=env, cwd=env.get("HOME", "/"),
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                           timeout=timeout)
    with open(stat_path) as f:
        wall, user, sys_, rss, code = f.read().split()
    return (float(wall), float(user), float(sys_), int(rss), int(code),
            p.stderr.decode(errors="replace"))


def callgrind(argv, env, out_file=None):
    """Total instructions of argv (every instruction of the program, start to exit)."""
    out_file = out_file or os.path.join(os.path.dirname(env["HOME"]), "callgrind.out")
    _, _, err = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file] + argv,
                    env)
    m = re.search(r"Collected : (\d+)", err)
    if not m:
        raise RuntimeError("no instruction count from callgrind:\n" + err[-2000:])
    return int(m.group(1))


def callgrind_calls(out_file, names, caller_object):
    """How many times each function of `names` was called by code of caller_object
    (a file name: "libpqtls.so"), read from a callgrind output file."""
    fns, obs, calls = {}, {}, {n: 0 for n in names}
    cur_ob, pending = None, None

    def name_of(table, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
        if not m:
            return rest
        if m.group(2):
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1))

    with open(out_file, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("ob="):
                cur_ob = name_of(obs, line[3:])
            elif line.startswith("cob="):
                name_of(obs, line[4:])
            elif line.startswith("fn="):
                name_of(fns, line[3:])
                pending = None
            elif line.startswith("cfn="):
                pending = name_of(fns, line[4:])
            elif line.startswith("calls=") and pending is not None:
                if pending in calls and cur_ob and os.path.basename(cur_ob) == caller_object:
                    calls[pending] += int(line[6:].split()[0])
                pending = None
    return calls


def instructions_in_object(out_file, obj):
    """Instructions executed inside one shared object (exclusive costs, all functions)."""
    p = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", out_file],
                       capture_output=True, text=True, check=True)
    total = 0
    for line in p.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*\[(\S+)\]\s*$", line)
        if m and os.path.basename(m.group(2)) == obj:
            total += int(m.group(1).replace(",", ""))
    return total


def records_of(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pgbench(pg, argv, env, work):
    """Run pgbench; returns {"tps": its rate, "cpu": the client's CPU seconds (user+sys)
    per transaction}. With -C a transaction is a connection."""
    out_path = os.path.join(work, "pgbench.out")
    wall, user, sys_, _, rc, err = run_ru([pg.bin("pgbench")] + argv, env, out_path,
                                          timeout=SECONDS * 10 + 120)
    with open(out_path, errors="replace") as f:
        out = f.read()
    m = re.search(r"^tps = ([\d.]+)", out, re.M)
    n = re.search(r"^number of transactions actually processed: (\d+)", out, re.M)
    if rc != 0 or not m or not n or int(n.group(1)) == 0:
        raise RuntimeError("pgbench failed (exit %d):\n%s\n%s" % (rc, out, err))
    return {"tps": float(m.group(1)), "cpu": (user + sys_) / int(n.group(1))}


def rounds_of(configs, rounds, measure):
    """Run every config once per round, in an order rotated each round; returns
    {config: [value per round]}."""
    values = {c: [] for c in configs}
    for r in range(rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for c in order:
            values[c].append(measure(c))
    return values


def lockstep(mode, conninfo, envs, rounds, per_step=1, block=10):
    """Hand steps by turns to one bench/lockstep process per configuration (envs:
    {config: (env, conninfo or None)}), rotating who goes first each round, so every
    configuration meets the same moments of the machine. The processes are started
    afresh every `block` rounds (each warmed up by one step first): what a process
    happens to get (its CPU, its memory layout) then varies, instead of favouring one
    configuration for the whole run. Returns {config: [seconds of each round's step]}."""
    configs = list(envs)
    values = {c: [] for c in configs}
    done = 0
    while done < rounds:
        procs = {}
        try:
            for c, (env, ci) in envs.items():
                procs[c] = subprocess.Popen([LOCKSTEP, mode, ci or conninfo], env=env,
                                            cwd=env["HOME"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True, bufsize=1)

            def step(c):
                procs[c].stdin.write("%d\n" % per_step)
                procs[c].stdin.flush()
                line = procs[c].stdout.readline()
                if not line:
                    raise RuntimeError("lockstep %s %s: %s" % (mode, c,
                                                              procs[c].stderr.read()))
                return int(line) / 1e9

            for c in configs:
                step(c)
            n = min(block, rounds - done)
            for r in range(done, done + n):
                order = configs[r % len(configs):] + configs[:r % len(configs)]
                for c in order:
                    values[c].append(step(c))
            done += n
        finally:
            for p in procs.values():
                try:
                    p.stdin.write("q\n")
                    p.stdin.close()
                except OSError:
                    pass
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()
    return values


def ratios(values, base, cfg, key=None):
    pick = (lambda v: v[key]) if key else (lambda v: v)
    return [pick(w) / pick(b) for w, b in zip(values[cfg], values[base])]


def col(values, cfg, key):
    return [v[key] for v in values[cfg]]


# ---------------------------------------------------------------- the table

ROWS = []
COMMANDS = []


def fmt_num(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    a = abs(v)
    if unit == "Ir":
        if a >= 1e6:
            return "%.2f M" % (v / 1e6)
        if a >= 1e3:
            return "%.1f k" % (v / 1e3)
        return "%d" % v
    if a >= 1e5:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def median_ci(xs):
    """The ~95% confidence interval of the median of xs (order statistics, normal
    approximation): ranks n/2 -+ 0.98 sqrt(n). For 5 rounds it is the min-max."""
    q = sorted(xs)
    n = len(q)
    lo = max(0, int(n / 2 - 0.98 * n ** 0.5))
    hi = min(n - 1, int(-(-(n / 2 + 0.98 * n ** 0.5) // 1)))
    return q[lo], q[hi]


def add_row(section, figure, without, with_, ratio=None, spread=None, target="—", ok=None,
            unit="", note="", check=None, control=0.0):
    """ratio/spread: floats (with/without); ok: True, False or None (information);
    check: (">=" or "<=", threshold) on the median ratio, instead of ok. A checked
    verdict whose threshold lies inside the 95% confidence interval of the median is
    marked (noisy): the rounds cannot tell which side of it the truth is. `control` is
    the error the method showed on itself (|A/A ratio - 1|, the same work on both
    sides): the interval is widened by it."""
    if ratio is None and isinstance(without, (int, float)) and isinstance(with_, (int, float)) \
            and without:
        ratio = with_ / without
    ratio_s = "—" if ratio is None else "%.4f" % ratio if ratio < 10 else "%.1f" % ratio
    if spread:
        ratio_s += " (%.4f–%.4f)" % (min(spread), max(spread)) if max(spread) < 10 else \
            " (%.1f–%.1f)" % (min(spread), max(spread))
    noisy = False
    if check is not None:
        op, lim = check
        ok = ratio >= lim if op == ">=" else ratio <= lim
        if spread and len(spread) > 1:
            lo, hi = median_ci(spread)
            noisy = lo - control < lim < hi + control
            if len(spread) >= 10:
                note = ("median's 95%% CI %.4f–%.4f over %d rounds" % (lo, hi, len(spread)) +
                        ("; " + note if note else ""))
    verdict = "info" if ok is None else "PASS" if ok else "MISS"
    if noisy:
        verdict += " (noisy)"
    ROWS.append({"section": section, "figure": figure,
                 "without": fmt_num(without, unit) + (" " + unit if unit and unit != "Ir"
                                                      and not isinstance(without, str) and
                                                      without is not None else ""),
                 "with": fmt_num(with_, unit) + (" " + unit if unit and unit != "Ir" and
                                                 not isinstance(with_, str) and
                                                 with_ is not None else ""),
                 "ratio": ratio_s, "target": target, "verdict": verdict, "note": note})
    log("%-60s %s" % (figure, ratio_s + "  " + verdict))


def median(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------- the figures

def connection_figures(pg, E, ci, ci_enforce_own, bundles):
    """1. pgbench -C -S (connections/s) and the instructions of one connection."""
    rds, small = bundles["rds"], bundles["small"]

    # -- connections per second: pgbench -C -S, every configuration once per round
    configs = ["none", "observe", "dry-run", "enforce", "none-again"]

    def measure(c):
        env, _ = E.make(None if c.startswith("none") else c, rds)
        return pgbench(pg, ["-n", "-C", "-S", "-c", "1", "-j", "1", "-T", "%g" % SECONDS, ci],
                       env, E.work)

    log("pgbench -C -S: %d rounds of %gs x %d configurations" % (ROUNDS, SECONDS, len(configs)))
    v = rounds_of(configs, ROUNDS, measure)
    COMMANDS.append(("connections per second: pgbench (each round runs every configuration "
                     "once, in a rotated order)",
                     ["pgbench -n -C -S -c 1 -j 1 -T %g \"$CONNINFO\"" % SECONDS,
                      "LD_PRELOAD=build/libpqtls.so PQTLS_MODE=observe|dry-run|enforce "
                      "PQTLS_BUNDLE=$RDS_PLUS_CA PQTLS_LOG=$LOG pgbench -n -C -S -c 1 -j 1 "
                      "-T %g \"$CONNINFO\"" % SECONDS]))
    base = col(v, "none", "tps")
    r = ratios(v, "none", "none-again", "tps")
    control = abs(median(r) - 1)
    add_row("1", "connections/s, pgbench -C -S: A/A control, without pqtls on both sides",
            median(base), median(col(v, "none-again", "tps")), median(r), r, "≈ 1", unit="conn/s",
            note="the method's own error: it widens the interval of the verdicts below")
    for cfg, fig, target, lim in (
            ("observe", "connections/s, pgbench -C -S: observe", "≥ 0.98", 0.98),
            ("dry-run", "connections/s, pgbench -C -S: dry-run (chain, RDS+CA bundle)", "≥ 0.95",
             0.95),
            ("enforce", "connections/s, pgbench -C -S: enforce (RDS+CA bundle)", "—", None)):
        r = ratios(v, "none", cfg, "tps")
        add_row("1", fig, median(base), median(col(v, cfg, "tps")), median(r), r, target,
                unit="conn/s", check=None if lim is None else (">=", lim), control=control)

    # -- the same, alternated connection by connection (bench/lockstep.c): every
    # configuration connects in turn, so a burst of the machine's load hits them alike.
    envs = {"none": (E.make()[0], None), "observe": (E.make("observe", rds)[0], None),
            "dry-run": (E.make("dry-run", rds)[0], None),
            "enforce": (E.make("enforce", rds)[0], None),
            "none-verify-bundle": (E.make()[0], ci_enforce_own),
            "none-again": (E.make()[0], None)}
    log("lockstep connect: %d rounds x %d configurations" % (STEPS, len(envs)))
    t = lockstep("connect", ci, envs, STEPS)
    COMMANDS.append(("connections per second, alternated connection by connection "
                     "(bench/lockstep.c)", [
                         "build/bench/lockstep connect \"$CONNINFO\"            "
                         "# without pqtls",
                         "LD_PRELOAD=build/libpqtls.so PQTLS_MODE=observe|dry-run|enforce "
                         "PQTLS_BUNDLE=$RDS_PLUS_CA PQTLS_LOG=$LOG build/bench/lockstep connect "
                         "\"$CONNINFO\"",
                         "build/bench/lockstep connect \"$CONNINFO sslrootcert=$RDS_PLUS_CA\"  "
                         "# enforce's own baseline, without pqtls",
                         "# all six run at once (one more without pqtls: the A/A control); the "
                         "driver hands each one connection "
                         "(connect, pgbench -S's SELECT, finish) by turns, %d rounds, rotating "
                         "who goes first, restarting them every 10 rounds; ratio per round = time without / "
                         "time with" % STEPS]))
    r = ratios(t, "none-again", "none")
    control = abs(median(r) - 1)
    add_row("1", "connections/s, alternated connection by connection: A/A control",
            1 / median(t["none"]), 1 / median(t["none-again"]), median(r), r, "≈ 1",
            unit="conn/s", note="median's 95%% CI %.4f–%.4f: the method's own error" %
            median_ci(r))
    for cfg, fig, target, lim, base_cfg in (
            ("observe", "connections/s, alternated connection by connection: observe",
             "≥ 0.98", 0.98, "none"),
            ("dry-run", "connections/s, alternated connection by connection: dry-run "
             "(chain, RDS+CA)", "≥ 0.95", 0.95, "none"),
            ("enforce", "connections/s, alternated connection by connection: enforce "
             "(RDS+CA)", "—", None, "none"),
            ("enforce", "connections/s, alternated: enforce vs the program asking verify-full "
             "+ the same bundle itself", "—", None, "none-verify-bundle")):
        r = ratios(t, cfg, base_cfg)
        add_row("1", fig, 1 / median(t[base_cfg]), 1 / median(t[cfg]), median(r), r, target,
                unit="conn/s", check=None if lim is None else (">=", lim), control=control,
                note="enforce: libpq itself loads the 103-certificate bundle into OpenSSL at "
                     "every connection" if cfg == "enforce" and base_cfg == "none" else
                     "what pqtls adds to enforce itself" if cfg == "enforce" else "")

    # -- instructions of one connection
    cg_configs = ["none", "observe", "dry-run-small", "dry-run-rds", "dry-run-rds-asked",
                  "enforce", "none-verify-bundle"]

    def cg(c):
        conninfo = ci_enforce_own if c == "none-verify-bundle" else ci
        if c in ("none", "none-verify-bundle"):
            env, logp = E.make()
        elif c == "dry-run-small":
            env, logp = E.make("dry-run", small)
        elif c == "dry-run-rds":
            env, logp = E.make("dry-run", rds)
        elif c == "dry-run-rds-asked":
            env, logp = E.make("dry-run", bundles["rds-76"])
        else:
            env, logp = E.make(c, rds)
        n = callgrind([CONNECT_ONCE, conninfo, "1"], env)
        recs = records_of(logp)
        if c not in ("none", "none-verify-bundle"):
            if len(recs) != 1 or recs[0]["outcome"] != "ok":
                raise RuntimeError("%s: expected one ok record, got %r" % (c, recs))
            if c.startswith("dry-run") and (recs[0]["dry_run"]["method"] != "chain" or
                                            recs[0]["dry_run"]["result"] != "pass"):
                raise RuntimeError("%s: unexpected dry_run %r" % (c, recs[0]["dry_run"]))
        return n

    log("callgrind, one TLS connection: %d rounds x %d configurations" % (CG_ROUNDS,
                                                                         len(cg_configs)))
    v = rounds_of(cg_configs, CG_ROUNDS, cg)
    COMMANDS.append(("instructions of one TLS connection (bench/connect_once.c: PQconnectdb, "
                     "PQfinish, exit)",
                     ["valgrind --tool=callgrind build/bench/connect_once \"$CONNINFO\" 1",
                      "LD_PRELOAD=build/libpqtls.so PQTLS_MODE=observe PQTLS_LOG=$LOG "
                      "valgrind --tool=callgrind build/bench/connect_once \"$CONNINFO\" 1",
                      "... PQTLS_MODE=dry-run PQTLS_BUNDLE=$CA (small: the test CA alone) "
                      "| $RDS_PLUS_CA (102 RDS certificates + the test CA)",
                      "... PQTLS_MODE=enforce PQTLS_BUNDLE=$RDS_PLUS_CA"]))
    none = median(v["none"])
    for cfg, fig, target, lim in (
            ("observe", "instructions, one TLS connection: observe", "≤ 1.02", 1.02),
            ("dry-run-small", "instructions, one TLS connection: dry-run, small bundle (1 cert)",
             "≤ 1.05", 1.05),
            ("dry-run-rds", "instructions, one TLS connection: dry-run, RDS+CA bundle "
             "(103 certs)", "≤ 1.10", 1.10),
            ("dry-run-rds-asked", "instructions, one TLS connection: dry-run, the same RDS+CA "
             "bundle with 76-column lines (not the plain form: OpenSSL loads it once, as libpq "
             "would)", "—", None),
            ("enforce", "instructions, one TLS connection: enforce (RDS+CA bundle)", "—", None)):
        r = ratios(v, "none", cfg)
        add_row("1", fig, none, median(v[cfg]), median(r), r, target, unit="Ir",
                check=None if lim is None else ("<=", lim),
                note="adds %.2f M instructions" % ((median(v[cfg]) - none) / 1e6) +
                ("; the once-per-process trust-file load (trustfile.c) is %.2f M of them"
                 % ((median(v[cfg]) - median(v["dry-run-rds"])) / 1e6)
                 if cfg == "dry-run-rds-asked" else ""))
    r = ratios(v, "none-verify-bundle", "enforce")
    add_row("1", "instructions: enforce vs the program asking verify-full + the same bundle "
            "itself", median(v["none-verify-bundle"]), median(v["enforce"]), median(r), r, "—",
            None, unit="Ir", note="what pqtls adds to enforce itself: %.2f M" %
            ((median(v["enforce"]) - median(v["none-verify-bundle"])) / 1e6))

    # -- the bundle is loaded once per process: 20 connections in one process
    log("callgrind, 20 connections in one process: none, observe, dry-run")
    many = {}
    calls = None
    for c in ("none", "observe", "dry-run"):
        env, logp = E.make(None if c == "none" else c, rds)
        out_file = os.path.join(E.work, "callgrind-20-%s.out" % c)
        many[c] = callgrind([CONNECT_ONCE, ci, "20"], env, out_file)
        if c == "dry-run":
            calls = callgrind_calls(out_file, ["bundle_load", "d2i_X509", "X509_verify_cert"],
                                    "libpqtls.so")
            recs = records_of(logp)
            if len(recs) != 20 or any(r["dry_run"]["result"] != "pass" for r in recs):
                raise RuntimeError("dry-run, 20 connections: unexpected records")
    COMMANDS.append(("the bundle is loaded once per process",
                     ["[LD_PRELOAD=... PQTLS_MODE=observe|dry-run PQTLS_BUNDLE=$RDS_PLUS_CA] "
                      "valgrind --tool=callgrind build/bench/connect_once \"$CONNINFO\" 20",
                      "# per extra connection: (Ir(20 connections) - Ir(1 connection)) / 19",
                      "# calls of bundle_load and d2i_X509: read from the callgrind output"]))
    extra = {c: (many[c] - median(v["none" if c == "none" else
                                     "observe" if c == "observe" else "dry-run-rds"])) / 19
             for c in many}
    add_row("1", "instructions per extra connection (20 in one process): observe", extra["none"],
            extra["observe"], None, None, "—", None, unit="Ir")
    diff = (extra["dry-run"] - extra["observe"]) / extra["none"]
    add_row("1", "instructions per extra connection (20 in one process): dry-run vs observe",
            extra["observe"], extra["dry-run"], None, None,
            "≈ observe's (±1% of a connection)", abs(diff) <= 0.01, unit="Ir",
            note="in the 20-connection dry-run process, pqtls called bundle_load %d time(s), "
                 "OpenSSL's d2i_X509 %d and X509_verify_cert %d (a verdict per chain, reused)"
                 % (calls["bundle_load"], calls["d2i_X509"], calls["X509_verify_cert"]))


def version_needs(lib):
    """The symbol versions lib requires (readelf -V: its version needs), or '?'."""
    try:
        out = subprocess.run(["readelf", "-VW", lib], capture_output=True, text=True).stdout
    except OSError:
        return "?"
    needs = out.split(".gnu.version_r", 1)[-1] if ".gnu.version_r" in out else ""
    return str(len(re.findall(r"Name: \S+\s+Flags", needs)))


def jump_slots(lib):
    """How many functions lib imports through its PLT (readelf), or '?'."""
    try:
        out = subprocess.run(["readelf", "-rW", lib], capture_output=True, text=True).stdout
        return str(out.count("R_X86_64_JUMP_SLOT"))
    except OSError:
        return "?"


def bind_now(lib):
    """Is lib linked with -z now (every import bound at load)?"""
    try:
        out = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True).stdout
    except OSError:
        return False
    return any(("FLAGS" in line and ("BIND_NOW" in line or " NOW" in line))
               for line in out.splitlines())


def load_time_figures(E):
    """2. /bin/true with and without the preload: in the harness's clean environment, in
    the environment `make bench` was started from (the loader's work grows with it, so
    the same added instructions are a smaller share), and with empty preloaded objects:
    what any LD_PRELOAD costs (the floor), built the default way and linked as
    libpqtls.so is (no start files)."""
    clean = {"PATH": "/usr/bin:/bin", "HOME": E.home, "LANG": "C.UTF-8"}
    caller = {k: v for k, v in os.environ.items()
              if k not in ("LD_PRELOAD", "LD_LIBRARY_PATH") and not k.startswith("PQTLS_")}
    configs = ["none", "pqtls", "empty", "empty-nostart", "caller-none", "caller-pqtls"]
    if bind_now(LIB) and os.path.exists(LIB_NONOW):
        configs.append("nonow")

    def cg(c):
        env = dict(caller if c.startswith("caller") else clean)
        if c.endswith("pqtls"):
            env["LD_PRELOAD"] = LIB
        elif c == "empty":
            env["LD_PRELOAD"] = EMPTY_SO
        elif c == "empty-nostart":
            env["LD_PRELOAD"] = EMPTY_NOSTART_SO
        elif c == "nonow":
            env["LD_PRELOAD"] = LIB_NONOW
        return callgrind(["/bin/true"], env)

    log("callgrind, /bin/true: %d rounds" % CG_ROUNDS)
    v = rounds_of(configs, CG_ROUNDS, cg)
    COMMANDS.append(("load-time cost", [
        "env -i PATH=/usr/bin:/bin HOME=$HOME LANG=C.UTF-8 valgrind --tool=callgrind /bin/true",
        "env -i PATH=/usr/bin:/bin HOME=$HOME LANG=C.UTF-8 LD_PRELOAD=build/libpqtls.so "
        "valgrind --tool=callgrind /bin/true",
        "# the same in the environment make bench was started from (%d variables), and with "
        "empty preloaded objects (bench/run.sh builds build/bench/empty.so with `cc -shared`, "
        "empty-nostart.so with -nostartfiles as libpqtls.so):" % len(caller),
        "[LD_PRELOAD=build/libpqtls.so|build/bench/empty.so|build/bench/empty-nostart.so] "
        "valgrind --tool=callgrind /bin/true",
        "# where the loader spends them (ld.so functions, exclusive counts; "
        "not run by the bench):",
        "callgrind_annotate --inclusive=no callgrind.out"]))
    none, pqtls = median(v["none"]), median(v["pqtls"])
    empty, bare = median(v["empty"]), median(v["empty-nostart"])
    r = ratios(v, "none", "pqtls")
    add_row("2", "instructions, /bin/true with LD_PRELOAD=libpqtls.so (clean environment)",
            none, pqtls, median(r), r, "≤ 1.12", unit="Ir", check=("<=", 1.12),
            note="adds %.1f k instructions: %.1f k of them any preloaded object costs the "
                 "loader (an empty one linked the same way), %.1f k are pqtls's own (its "
                 "libc dependency and %s symbol versions, %s lazy imports, TLS, the "
                 "constructor)" % ((pqtls - none) / 1e3, (bare - none) / 1e3,
                                   (pqtls - bare) / 1e3, version_needs(LIB), jump_slots(LIB)))
    r = ratios(v, "caller-none", "caller-pqtls")
    add_row("2", "instructions, /bin/true with LD_PRELOAD=libpqtls.so (the caller's "
            "environment, %d variables)" % len(caller), median(v["caller-none"]),
            median(v["caller-pqtls"]), median(r), r, "≤ 1.12", unit="Ir", check=("<=", 1.12),
            note="adds %.1f k instructions" % ((median(v["caller-pqtls"]) -
                                               median(v["caller-none"])) / 1e3))
    r = ratios(v, "none", "empty")
    add_row("2", "instructions, /bin/true with an empty preloaded object, `cc -shared` "
            "(clean environment)", none, empty, median(r), r, "—", unit="Ir",
            note="the floor: what the loader charges for any LD_PRELOAD built the default "
                 "way (the compiler's start files included)")
    r = ratios(v, "none", "empty-nostart")
    add_row("2", "instructions, /bin/true with an empty preloaded object linked as "
            "libpqtls.so is (-nostartfiles)", none, bare, median(r), r, "—", unit="Ir",
            note="the loader's own floor for a preloaded object")
    r = ratios(v, "empty-nostart", "pqtls")
    add_row("2", "instructions, /bin/true: libpqtls.so beside the floor (the empty object "
            "linked the same way)", bare, pqtls, median(r), r, "—", unit="Ir",
            note="pqtls's own load cost: %+.1f k instructions, %.1f%% of /bin/true "
                 "(against the `cc -shared` empty object: %+.1f k)"
                 % ((pqtls - bare) / 1e3, 100.0 * (pqtls - bare) / none,
                    (pqtls - empty) / 1e3))
    if "nonow" in v:
        r = ratios(v, "none", "nonow")
        add_row("2", "instructions, /bin/true: the same objects linked without -z now",
                median(v["none"]), median(v["nonow"]), median(r), r, "—", None, unit="Ir",
                note="the library is linked with -Wl,-z,now: the loader binds all %s functions "
                     "it imports before main(); lazily, only those it calls" % jump_slots(LIB))


def query_path_figures(pg, E, ci, bundles):
    """3. pgbench -S on persistent connections."""
    configs = ["none", "observe", "dry-run", "none-again"]

    def measure(c):
        env, _ = E.make(None if c.startswith("none") else c, bundles["rds"])
        return pgbench(pg, ["-n", "-S", "-c", "2", "-j", "2", "-T", "%g" % SECONDS, ci], env,
                       E.work)

    log("pgbench -S: %d rounds of %gs x %d configurations" % (ROUNDS, SECONDS, len(configs)))
    v = rounds_of(configs, ROUNDS, measure)
    COMMANDS.append(("the query path", [
        "[LD_PRELOAD=... PQTLS_MODE=observe|dry-run ...] pgbench -n -S -c 2 -j 2 -T %g "
        "\"$CONNINFO\"" % SECONDS,
        "[LD_PRELOAD=... PQTLS_MODE=observe|dry-run ...] build/bench/lockstep query "
        "\"$CONNINFO\"   # four at once (one more without: A/A control), 200 queries each by "
        "turns, %d rounds; only the queries are timed, on a connection opened for each "
        "batch" % STEPS,
        "LD_PRELOAD=... PQTLS_MODE=observe valgrind --tool=callgrind pgbench -n -S -c 1 -j 1 "
        "-t 1|2001 \"$CONNINFO\"",
        "callgrind_annotate --inclusive=no --threshold=100 callgrind.out | grep libpqtls.so  "
        "# summed: instructions inside pqtls"]))
    r = ratios(v, "none", "none-again", "tps")
    control = abs(median(r) - 1)
    add_row("3", "tps, pgbench -S: A/A control, without pqtls on both sides",
            median(col(v, "none", "tps")), median(col(v, "none-again", "tps")), median(r), r,
            "≈ 1", unit="tps")
    for cfg in ("observe", "dry-run"):
        r = ratios(v, "none", cfg, "tps")
        add_row("3", "tps, pgbench -S, persistent connection: %s" % cfg,
                median(col(v, "none", "tps")), median(col(v, cfg, "tps")), median(r), r,
                "≥ 0.99", unit="tps", check=(">=", 0.99), control=control)
    envs = {c: (E.make(None if c.startswith("none") else c, bundles["rds"])[0], None)
            for c in ("none", "observe", "dry-run", "none-again")}
    log("lockstep query: %d rounds of 200 queries x %d configurations" % (STEPS, len(envs)))
    t = lockstep("query", ci, envs, STEPS, per_step=200)
    r = ratios(t, "none-again", "none")
    control = abs(median(r) - 1)
    add_row("3", "queries/s, alternated 200 queries at a time: A/A control",
            200 / median(t["none"]), 200 / median(t["none-again"]), median(r), r, "≈ 1",
            unit="q/s", note="median's 95%% CI %.4f–%.4f: the method's own error" %
            median_ci(r))
    for cfg in ("observe", "dry-run"):
        r = ratios(t, cfg, "none")
        add_row("3", "queries/s on an open connection, alternated 200 queries at a time: "
                "%s" % cfg, 200 / median(t["none"]), 200 / median(t[cfg]), median(r), r,
                "≥ 0.99", unit="q/s", check=(">=", 0.99), control=control)

    # Deterministic: the instructions executed inside libpqtls.so itself, for one
    # query and for 2,001 on the same connection. Equal: nothing runs per query.
    inside = {}
    for nq in (1, 2001):
        env, _ = E.make("observe", bundles["rds"])
        out_file = os.path.join(E.work, "callgrind-query-%d.out" % nq)
        callgrind([pg.bin("pgbench"), "-n", "-S", "-c", "1", "-j", "1", "-t", str(nq), ci], env,
                  out_file)
        inside[nq] = instructions_in_object(out_file, "libpqtls.so")
    add_row("3", "instructions inside libpqtls.so: pgbench -S, 1 query vs 2,001 queries (observe)",
            inside[1], inside[2001], None, None, "+0 per query",
            inside[2001] - inside[1] <= 0.001 * inside[1], unit="Ir",
            note="per query: %+.1f instructions" % ((inside[2001] - inside[1]) / 2000))


def probe_figures(pg, E, bundles):
    """4. The side probe: 1,000 connections without TLS to one server, in dry-run."""
    rds = bundles["rds"]
    ci_plain = pg.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="disable")

    def server_counts():
        with open(pg.log_file, errors="replace") as f:
            text = f.read()
        return text.count("connection received:"), text.count("connection authorized:")

    log("side probe: 1000 connections without TLS in one process, dry-run")
    env, logp = E.make("dry-run", rds)
    before = server_counts()
    run([CONNECT_ONCE, ci_plain, "1000"], env, timeout=1800)
    after = server_counts()
    received, authorized = after[0] - before[0], after[1] - before[1]
    probes = received - authorized
    recs = records_of(logp)
    methods = {}
    for r in recs:
        key = "%s/%s" % ((r.get("dry_run") or {}).get("method"),
                         (r.get("dry_run") or {}).get("result"))
        methods[key] = methods.get(key, 0) + 1
    COMMANDS.append(("the side probe", [
        "LD_PRELOAD=build/libpqtls.so PQTLS_MODE=dry-run PQTLS_BUNDLE=$RDS_PLUS_CA "
        "PQTLS_LOG=$LOG build/bench/connect_once \"$CONNINFO sslmode=disable\" 1000",
        "# probes = the server's 'connection received' lines minus its 'connection authorized' "
        "lines (log_connections = on) during that run",
        "# one probe's own cost: PQTLS_CACHE_TTL=0 (a probe at every connection) against "
        "PQTLS_CACHE_TTL=300 (one probe), the same process otherwise:",
        "PQTLS_CACHE_TTL=0|300 ... valgrind --tool=callgrind build/bench/connect_once "
        "\"$CONNINFO sslmode=disable\" 2     # instructions: the difference",
        "[PQTLS_CACHE_TTL=0|300 ...] build/bench/lockstep connect \"$CONNINFO "
        "sslmode=disable\"   # time: the three by turns, per round TTL 0 minus TTL 300"]))
    add_row("4", "side probes for 1,000 connections (sslmode=disable, dry-run, one process)",
            "1,000 connections", "%d probe(s)" % probes, None, None,
            "≤ 1 per host, port, bundle and TTL", probes <= 1 and len(recs) == 1000,
            note="%d records, dry_run method/result: %s; the server saw %d connections, "
                 "%d authenticated" % (len(recs), ", ".join("%s %d" % kv for kv in
                                                            sorted(methods.items())),
                                       received, authorized))

    # One probe's own cost.
    instr = {}
    for ttl in (0, 300):
        env, _ = E.make("dry-run", rds, PQTLS_CACHE_TTL=ttl)
        instr[ttl] = callgrind([CONNECT_ONCE, ci_plain, "2"], env)
    envs = {"none": (E.make()[0], None),
            300: (E.make("dry-run", rds, PQTLS_CACHE_TTL=300)[0], None),
            0: (E.make("dry-run", rds, PQTLS_CACHE_TTL=0)[0], None)}
    rounds = max(30, STEPS // 2)
    log("side probe: its own cost (lockstep, %d rounds: none, TTL 300, TTL 0)" % rounds)
    t = lockstep("connect", ci_plain, envs, rounds)
    per_probe_ms = [(a - b) * 1000 for a, b in zip(t[0], t[300])]
    r = ratios(t, 300, "none")
    add_row("4", "connections/s without TLS, alternated: dry-run (one probe, then its verdict "
            "reused) vs none", 1 / median(t["none"]), 1 / median(t[300]), median(r), r, "—",
            None, unit="conn/s")
    q = sorted(per_probe_ms)
    add_row("4", "one probe's own cost (a side TLS handshake and its verdict)",
            "—", "%.2f M Ir, %.1f ms" % ((instr[0] - instr[300]) / 1e6, median(per_probe_ms)),
            None, None, "printed", None,
            note="instructions: callgrind, 2 probes minus 1; time: per round, a connection "
                 "with a probe (PQTLS_CACHE_TTL=0) minus one without (TTL 300), median of %d "
                 "rounds (quartiles %.1f–%.1f ms), the server's side of the handshake included"
                 % (len(q), q[len(q) // 4], q[3 * len(q) // 4]))


def report_figures(E):
    """5. pqtls report over 1,000,000 records, and jq doing the same grouping."""
    path = os.path.join(E.work, "records-1m.jsonl")
    small = os.path.join(E.work, "records-100k.jsonl")
    log("generating %d records" % N_RECORDS)
    run([PYTHON, GEN, str(N_RECORDS), path], {"PATH": "/usr/bin:/bin", "HOME": E.home})
    n_small = max(1, N_RECORDS // 10)
    with open(path, "rb") as f, open(small, "wb") as g:
        for i, line in enumerate(f):
            if i >= n_small:
                break
            g.write(line)
    size = os.path.getsize(path)
    env = {"PATH": "/usr/bin:/bin", "HOME": E.home, "LANG": "C.UTF-8"}
    json_out = os.path.join(E.work, "report.json")

    def report(p):
        wall, user, sys_, rss, rc, err = run_ru([CLI, "report", "--format", "json", p], env,
                                                json_out)
        if rc not in (0, 1):
            raise RuntimeError("pqtls report exit %d: %s" % (rc, err))
        return wall, user + sys_, rss

    log("pqtls report: %d rounds over %d records (%.0f MB)" % (ROUNDS, N_RECORDS, size / 1e6))
    load_before = os.getloadavg()[0]
    runs = [report(path) for _ in range(ROUNDS)]
    load_after = os.getloadavg()[0]
    with open(json_out) as f:
        rep = json.load(f)
    small_runs = [report(small) for _ in range(max(1, ROUNDS // 2))]
    rate_wall = [N_RECORDS / w for w, _, _ in runs]
    rate_cpu = [N_RECORDS / c for _, c, _ in runs]
    rss_big = max(r for _, _, r in runs)
    rss_small = max(r for _, _, r in small_runs)
    COMMANDS.append(("the report", [
        "/usr/bin/python3 bench/gen_records.py %d records.jsonl   # %d groups, many pids"
        % (N_RECORDS, len(rep["groups"])),
        "build/bench/runstat stat.txt build/pqtls report --format json records.jsonl  "
        "# wall, user, sys, max RSS (wait4)",
        "head -%d records.jsonl > records-100k.jsonl; build/bench/runstat stat.txt "
        "build/pqtls report --format json records-100k.jsonl" % n_small,
        "jq -n -c -f bench/group.jq records.jsonl   # the same grouping, streaming "
        "(reduce inputs), under runstat too"]))
    cpu = os.cpu_count()
    add_row("5", "pqtls report, %s records (%d groups, %.0f MB): records/s on CPU time"
            % ("{:,}".format(N_RECORDS), len(rep["groups"]), size / 1e6), "—",
            median(rate_cpu), None, None, "≥ 500,000", median(rate_cpu) >= 500000,
            unit="rec/s",
            note="user+sys of the process; spread %s–%s" % (fmt_num(min(rate_cpu)),
                                                          fmt_num(max(rate_cpu))))
    add_row("5", "pqtls report, the same runs: records/s on the wall clock", "—",
            median(rate_wall), None, None, "≥ 500,000", median(rate_wall) >= 500000,
            unit="rec/s",
            note="spread %s–%s; load average %.1f–%.1f on %d CPUs during the runs (the wall "
                 "clock counts the waits for a CPU)" % (fmt_num(min(rate_wall)),
                                                        fmt_num(max(rate_wall)),
                                                        load_before, load_after, cpu))
    add_row("5", "pqtls report: max RSS, %s records vs %s (same groups)"
            % ("{:,}".format(N_RECORDS), "{:,}".format(n_small)), rss_small, rss_big, None, None,
            "≤ 1.10 (bounded by groups)", rss_big / rss_small <= 1.10, unit="KiB",
            note="ratio = RSS(%s records) / RSS(%s records)" % ("{:,}".format(N_RECORDS),
                                                              "{:,}".format(n_small)))
    if rep["records"] != N_RECORDS or rep["malformed"] != 0:
        raise RuntimeError("pqtls report read %r records, %r malformed" % (rep["records"],
                                                                           rep["malformed"]))

    # jq, streaming: one record at a time (reduce inputs), never the whole file.
    jq_path, jq_n = path, N_RECORDS
    if JQ_RECORDS and JQ_RECORDS < N_RECORDS:
        jq_path, jq_n = small if JQ_RECORDS == n_small else path, JQ_RECORDS
    log("jq: the same grouping over %d records (one round: jq is slow)" % jq_n)
    jq_out = os.path.join(E.work, "jq.json")
    argv = ["jq", "-n", "-c", "-f", GROUP_JQ, jq_path]
    wall, user, sys_, rss, rc, err = run_ru(argv, env, jq_out, timeout=3600)
    if rc != 0:
        raise RuntimeError("jq exit %d: %s" % (rc, err))
    with open(jq_out) as f:
        jq = json.loads(f.read())
    same = jq["groups"] == len(rep["groups"]) and jq["records"] == jq_n
    scale = jq_n / N_RECORDS
    pq_wall = median([w for w, _, _ in runs]) * scale
    pq_cpu = median([c for _, c, _ in runs]) * scale
    add_row("5", "the same grouping by jq (streaming reduce) vs pqtls report: records/s, "
            "wall clock", jq_n / wall, jq_n / pq_wall, None, None, "—", None, unit="rec/s",
            note="on CPU time: jq %s rec/s, pqtls %s rec/s (%.0f×); jq: %.1f s, max RSS %d KiB "
                 "for %s records, %d groups (%s)"
                 % (fmt_num(jq_n / (user + sys_)), fmt_num(jq_n / pq_cpu),
                    (user + sys_) / pq_cpu, wall, rss, "{:,}".format(jq_n), jq["groups"],
                    "the same groups and counts as pqtls" if same else "DIFFERENT from pqtls"))
    if not same:
        raise RuntimeError("jq and pqtls report disagree: %r vs %d groups" % (jq, len(rep["groups"])))


# ---------------------------------------------------------------- output

def render_text():
    cols = ["figure", "without", "with", "ratio", "target", "verdict"]
    width = {c: max(len(c), *(len(r[c]) for r in ROWS)) for c in cols}
    width["figure"] = min(width["figure"], 78)
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines.append("  ".join("-" * width[c] for c in cols))
    for r in ROWS:
        lines.append("  ".join((r[c] if len(r[c]) <= width[c] else r[c][:width[c] - 1] + "…")
                               .ljust(width[c]) for c in cols))
        if r["note"]:
            lines.append("    " + r["note"])
    return "\n".join(lines)


def render_md(env_lines, duration):
    out = ["# pqtls: what it costs a program", "",
           "Measured by `make bench` (bench/run.sh) on %s. Every figure is the same work with "
           "and without pqtls in the same run: each round runs every configuration once (order "
           "rotated every round); the ratio is with/without per round, shown as the median and "
           "(min–max) over the rounds. Instruction counts: `valgrind --tool=callgrind`, all "
           "instructions of the program from start to exit. A verdict marked (noisy) has its "
           "target inside the 95%% confidence interval of the median (order statistics; for 5 "
           "rounds, the min–max): the rounds cannot tell which side of the target the program "
           "is, the machine's load decided it, and the instruction counts of the same work are "
           "the figures to trust." % datetime.date.today().isoformat(),
           "", "| # | figure | without | with | ratio (spread) | target | verdict |",
           "|---|---|---|---|---|---|---|"]
    esc = lambda s: s.replace("|", "\\|")
    for r in ROWS:
        fig = esc(r["figure"]) + ("<br><sub>%s</sub>" % esc(r["note"]) if r["note"] else "")
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["section"], fig, esc(r["without"]), esc(r["with"]), esc(r["ratio"]),
            esc(r["target"]), "**%s**" % r["verdict"] if r["verdict"] == "MISS" else r["verdict"]))
    out += ["", "## Setup", ""] + ["- " + line for line in env_lines]
    out += ["- whole run: %.0f s" % duration, "", "## Commands", "",
            "`$CONNINFO` is `host=localhost hostaddr=127.0.0.1 port=$PORT dbname=pqtls_db "
            "user=pqtls_user password=... sslmode=verify-full sslrootcert=$CA` (the test "
            "server of tests/lib/pgserver.py, TLS with SCRAM authentication); `$RDS_PLUS_CA` is "
            "the RDS global bundle (102 certificates) with the test CA appended. Every program "
            "runs with the clean environment of the test harness (PATH, HOME, LANG only).", ""]
    for title, cmds in COMMANDS:
        out += ["**%s**" % title, "", "```sh"] + cmds + ["```", ""]
    return "\n".join(out)


def main():
    for need in (LIB, CLI, CONNECT_ONCE, LOCKSTEP, RUNSTAT, EMPTY_SO, RDS_BUNDLE, GROUP_JQ):
        if not os.path.exists(need):
            sys.exit("bench: %s is missing (run `make bench`)" % need)
    for prog in ("valgrind", "jq"):
        if shutil.which(prog) is None:
            sys.exit("bench: %s is not installed (`make deps` installs it)" % prog)
    # The records file is about 1.2 GB: in memory when there is room (no disk in the
    # way of the report's rate), else in /tmp.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) and \
        shutil.disk_usage("/dev/shm").free > N_RECORDS * 1500 * 1.2 + 500e6 else None
    work = tempfile.mkdtemp(prefix="pqtls-bench-", dir=shm)
    os.chmod(work, 0o755)
    pg = pgserver.PgServer()
    try:
        log("starting the test server")
        pg.start()
        # Serve the leaf alone (PostgreSQL otherwise appends the CA of ssl_ca_file), so
        # dry-run has to decode the CA from the bundle: the costlier, RDS-like case.
        pg.psql("ALTER SYSTEM SET ssl_ca_file = '';")
        pg.psql("SELECT pg_reload_conf();")
        time.sleep(0.5)
        E = Env(work)
        rds = os.path.join(work, "rds-plus-ca.pem")
        pgserver.write_bundle(rds, RDS_BUNDLE, pg.ca_file)
        bundles = {"rds": rds, "small": pg.ca_file,
                   "rds-76": rewrap(rds, os.path.join(work, "rds-plus-ca-76.pem"), 76)}
        ci = pg.conninfo(host="localhost", hostaddr="127.0.0.1", sslmode="verify-full",
                         sslrootcert=pg.ca_file)
        ci_enforce_own = pg.conninfo(host="localhost", hostaddr="127.0.0.1",
                                     sslmode="verify-full", sslrootcert=rds)
        env, _ = E.make()
        run([pg.bin("pgbench"), "-i", "-q", "-s", "1", ci], env)

        if "1" in ONLY:
            connection_figures(pg, E, ci, ci_enforce_own, bundles)
        if "2" in ONLY:
            load_time_figures(E)
        if "3" in ONLY:
            query_path_figures(pg, E, ci, bundles)
        if "4" in ONLY:
            probe_figures(pg, E, bundles)
        if "5" in ONLY:
            report_figures(E)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    duration = time.monotonic() - T0
    ssl_version = subprocess.run(["openssl", "version"], capture_output=True,
                                 text=True).stdout.strip()
    env_lines = [
        "%d CPUs (%s), %s, shared with other work: hence rounds and medians" %
        (os.cpu_count(), platform.processor() or platform.machine(), platform.platform()),
        "PostgreSQL %s server and client (libpq), %s, glibc %s" %
        (pg.version, ssl_version, platform.libc_ver()[1]),
        "the server sends its certificate alone (ssl_ca_file = ''), like RDS: dry-run decodes "
        "the CA from the bundle",
        "rounds: %d of pgbench (runs of %g s), %d of lockstep, %d of callgrind"
        % (ROUNDS, SECONDS, STEPS, CG_ROUNDS),
        "load average (1 min): %.1f at the start, %.1f at the end" % (LOAD_START,
                                                                     os.getloadavg()[0])]
    text = render_text()
    print(text)
    md = render_md(env_lines, duration)
    # the sections measured on their own (bench/jvm_start.py, bench/report_scale.py),
    # at the end of the file, are kept
    keep = ""
    if os.path.exists(OUT_MD):
        old = open(OUT_MD).read()
        marks = [old.find(m) for m in ("<!-- jvm-start: bench/jvm_start.py -->",
                                       "<!-- bench/report_scale.py: from here to the end -->")]
        marks = [m for m in marks if m >= 0]
        keep = "\n" + old[min(marks):] if marks else ""
    with open(OUT_MD, "w") as f:
        f.write(md + "\n" + keep)
    met = sum(r["verdict"].startswith("PASS") for r in ROWS)
    missed = sum(r["verdict"].startswith("MISS") for r in ROWS)
    noisy = sum(r["verdict"].endswith("(noisy)") for r in ROWS)
    print("\n%d figures; of the %d with a target, %d met and %d missed (%d verdicts noisy); "
          "%s written (%.0f s)" % (len(ROWS), met + missed, met, missed, noisy,
                                   os.path.relpath(OUT_MD, os.getcwd()), duration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
