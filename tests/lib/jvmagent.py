"""jvmagent: run Java programs under the pqtls JVM agent and read its records.

    r = run_agent(["java", "-cp", cp, "Main"], home=home, mode="dry-run",
                  env_extra={"PQTLS_BUNDLE": bundle})
    r.records        # the JSON records the agent wrote to PQTLS_LOG

The agent is attached the way `pqtls run` and a service attach it: through
JAVA_TOOL_OPTIONS (-agentpath:<build>/libpqtls-jvm.so), nothing on the class path,
and no LD_PRELOAD. run_agent has harness.run_plain's signature (plus mode), so it
is a drop-in `runner=` for jdbc.run_plan.
"""

import os

import harness

AGENT_PATH = os.path.join(harness.BUILD_DIR, "libpqtls-jvm.so")


def agent_option(path=None):
    return "-agentpath:" + (path or AGENT_PATH)


def run_agent(argv, env_extra=None, home=None, stdin=None, timeout=120, cwd=None,
              mode="observe", check_secrets=True):
    """argv under the agent; PQTLS_LOG is a fresh file whose records come back in
    .records. env_extra may set JAVA_TOOL_OPTIONS: the agent is appended to it."""
    env = dict(env_extra or {})
    tool = env.get("JAVA_TOOL_OPTIONS")
    env["JAVA_TOOL_OPTIONS"] = ((tool + " ") if tool else "") + agent_option()
    env["LD_PRELOAD"] = None            # the agent only: no libpqtls.so in the JVM
    env["LD_PRELOAD"] = harness.sanitizer_preload(env)  # but ASan's runtime first (make asan)
    return harness.run_preloaded(argv, env_extra=env, home=home, mode=mode, stdin=stdin,
                                 timeout=timeout, cwd=cwd, check_secrets=check_secrets)


def runner(mode="observe", **fixed_env):
    """A run_plain-like function for jdbc.run_plan that runs under the agent."""
    def run(argv, env_extra=None, home=None, stdin=None, timeout=120, cwd=None):
        env = dict(fixed_env)
        env.update(env_extra or {})
        return run_agent(argv, env_extra=env, home=home, stdin=stdin, timeout=timeout,
                         cwd=cwd, mode=mode)
    return run
