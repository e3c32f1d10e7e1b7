"""jdbcagent: the pqtls JVM agent under the JDBC rotation rehearsal.

    agent_path()                   $BUILD/libpqtls-jvm.so, or None when it is not built
    agent_runner(agent, mode, ...) a runner for jdbc.run_plan: the JVM with the agent
                                   attached through JAVA_TOOL_OPTIONS (as a service does),
                                   PQTLS_MODE/PQTLS_BUNDLE/PQTLS_NEW_CA set, its records read
                                   from a fresh PQTLS_LOG file
    records_by_config(runs)        {Config: record or None}: a JVM's records follow its
                                   connections in plan order (JdbcPlan opens them one at
                                   a time); a JVM whose record count is not its connection
                                   count gives None for each, and says so in problems
    Check                          one prediction against reality (as the libpq rehearsal's)
"""

import dataclasses
import os
from typing import Tuple

import harness

AGENT_NAME = "libpqtls-jvm.so"


def agent_path():
    path = os.path.join(harness.BUILD_DIR, AGENT_NAME)
    return path if os.path.isfile(path) else None


def agent_runner(agent, mode, bundle=None, new_ca=None):
    """A function with run_plain's signature that runs the program under the agent."""
    def run(argv, env_extra=None, home=None, timeout=600):
        logdir = harness.scratch_dir("jvmlog-")
        env = dict(env_extra or {})
        env["JAVA_TOOL_OPTIONS"] = "-agentpath:" + agent
        env["LD_PRELOAD"] = harness.sanitizer_preload(env)     # make asan: ASan's runtime
        env["PQTLS_MODE"] = mode
        env["PQTLS_LOG"] = os.path.join(logdir, "pqtls.jsonl")
        env["PQTLS_PROBE_TIMEOUT_MS"] = "20000"       # a loaded machine is no timeout
        if bundle:
            env["PQTLS_BUNDLE"] = bundle
        if new_ca:
            env["PQTLS_NEW_CA"] = new_ca
        return harness.run_preloaded(argv, env_extra=env, home=home, mode=None,
                                     preload=False, timeout=timeout, check_secrets=True)
    return run


def records_by_config(runs):
    """({Config: record or None}, [problem sentences])."""
    out, problems = {}, []
    for r in runs:
        cs = r.configs
        if len(r.records) == len(cs):
            out.update(zip(cs, r.records))
            continue
        problems.append("%d records for %d connections (JVM exit %s; stderr: %s)"
                        % (len(r.records), len(cs), r.returncode,
                           (r.stderr or "").strip()[-300:]))
        out.update((c, None) for c in cs)
    return out, problems


@dataclasses.dataclass
class Check:
    what: str                        # which prediction or property
    config: object                   # jdbcmatrix.Config
    phase: int
    bundle: object                   # the PQTLS_BUNDLE name, or None
    predicted: object                # what pqtls said (or did)
    expected: Tuple                  # the values reality allows
    actual: str                      # what really happened, in words
    detail: str = ""

    @property
    def ok(self):
        return self.predicted in self.expected

    def describe(self):
        return ("%s | phase %d | bundle %s | %s: predicted %r, reality allows %s (%s)%s"
                % (self.config.name, self.phase, self.bundle or "-", self.what, self.predicted,
                   " or ".join(repr(e) for e in self.expected), self.actual,
                   "\n      detail: " + self.detail if self.detail else ""))


def summary(checks, title):
    """The figure line, a line per kind of check, and every disagreement."""
    bad = [ch for ch in checks if not ch.ok]
    kinds = {}
    for ch in checks:
        n = kinds.setdefault(ch.what, [0, 0])
        n[0] += ch.ok
        n[1] += 1
    lines = ["JDBC rotation rehearsal: %d/%d (%s)" % (len(checks) - len(bad), len(checks), title)]
    lines += ["    %5d/%-5d %s" % (ok, n, what) for what, (ok, n) in kinds.items()]
    if bad:
        lines.append("disagreements (%d):" % len(bad))
        lines += ["  " + ch.describe() for ch in bad[:300]]
    return "\n".join(lines)
