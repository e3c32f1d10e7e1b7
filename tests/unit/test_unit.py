"""The C unit tests, one pytest test per TEST() case.

For every tests/unit/test_*.c, the binary build/tests/test_* (see the Makefile) is asked
for its cases with --list at collection time; each case runs as `binary name`.
"""

import glob
import os
import subprocess

import pytest

import harness

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.path.join(harness.BUILD_DIR, "tests")


def _problem(ident, message):
    return pytest.param(None, None, message, id=ident)


def _cases():
    sources = sorted(glob.glob(os.path.join(UNIT_DIR, "test_*.c")))
    if not sources:
        return []
    if not os.path.isdir(BIN_DIR):
        return [_problem("build-missing", "%s is missing: run make tests first" % BIN_DIR)]
    cases = []
    for src in sources:
        stem = os.path.splitext(os.path.basename(src))[0]
        binary = os.path.join(BIN_DIR, stem)
        if not os.access(binary, os.X_OK):
            cases.append(_problem(stem, "%s is missing: run make tests first" % binary))
            continue
        if os.path.getmtime(binary) < os.path.getmtime(src):
            cases.append(_problem(stem, "%s is older than %s: run make tests first"
                                  % (binary, src)))
            continue
        try:
            r = subprocess.run([binary, "--list"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            cases.append(_problem(stem, "%s --list: %s" % (binary, e)))
            continue
        names = r.stdout.split()
        if r.returncode != 0 or not names:
            cases.append(_problem(stem, "%s --list exited %d with no test names\n%s%s"
                                  % (binary, r.returncode, r.stdout, r.stderr)))
            continue
        for name in names:
            cases.append(pytest.param(binary, name, None, id="%s::%s" % (stem, name)))
    return cases


@pytest.mark.parametrize("binary,name,problem", _cases())
def test_c(binary, name, problem):
    if problem:
        pytest.fail(problem, pytrace=False)
    r = subprocess.run([binary, name], capture_output=True, text=True, timeout=120)
    output = "---- stdout ----\n%s---- stderr ----\n%s" % (r.stdout, r.stderr)
    if r.returncode != 0:
        pytest.fail("%s %s exited %d\n%s" % (binary, name, r.returncode, output), pytrace=False)
    if "ok %s" % name not in r.stdout.splitlines():
        pytest.fail("%s %s did not report 'ok %s'\n%s" % (binary, name, name, output),
                    pytrace=False)
