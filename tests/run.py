#!/usr/bin/env python3
"""run.py -- runs every test: the C unit tests, then the system tests.

Unit tests are the binaries BUILD/tests/test_*; each prints "ok NAME",
"not ok NAME" or "skip NAME REASON" per test (tests/unit/unit.h). System
tests are tests/system/test_*.py, Python unittest modules that drive the
real binaries (found through $JP_BUILD) against real peers (ffmpeg, Ceph
RGW, HTTP on 127.0.0.1).

Every skipped test is listed with its reason before the totals: a skip
is visible in CI. Then one line gives each kind (unit, system) its
counts, one the totals as .ci/run reads them ("N passed, M failed"), and
the last line is always "N passed, M failed, K skipped". The exit status
is 1 when anything failed; skips alone exit 0 (CI decides what to make of
them).

  tests/run.py --build build [PATTERN...]   run tests whose name matches
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Counts:
    """What one kind of test gave: counts, and (name, reason) per skip."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skips = []

    def line(self, kind):
        return "%s: %d passed, %d failed, %d skipped" % (
            kind, self.passed, self.failed, len(self.skips))


def run_unit(build, patterns):
    c = Counts()
    for binary in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        if binary.endswith(".d") or not os.access(binary, os.X_OK):
            continue
        name = os.path.basename(binary)
        if patterns and not any(re.search(p, name) for p in patterns):
            continue
        t0 = time.monotonic()
        p = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
        lines = p.stdout.splitlines()
        ok = [l for l in lines if l.startswith("ok ")]
        bad = [l for l in lines if l.startswith("not ok ")]
        skips = []
        for l in lines:
            if l.startswith("skip "):
                test, _, why = l[5:].partition(" ")
                skips.append((test, why or "(no reason given)"))
        c.passed += len(ok)
        c.failed += len(bad)
        c.skips += skips
        if p.returncode != 0 and not bad:
            c.failed += 1  # crashed (sanitizer report, signal) before reporting
            bad.append("not ok %s (exit status %d)" % (name, p.returncode))
        print("%-40s %3d passed, %d failed, %d skipped  (%.1fs)" %
              (name, len(ok), len(bad), len(skips), time.monotonic() - t0),
              flush=True)
        for l in bad:
            print("  " + l)
        for test, why in skips:
            print("  skip %s: %s" % (test, why))
        if bad:
            sys.stdout.write(p.stderr[-8000:])
    return c


def owner(t):
    """The test a result entry belongs to: a subTest's own test case."""
    return getattr(t, "test_case", t)


def run_system(build, patterns):
    c = Counts()
    sys.path.insert(0, os.path.join(HERE, "lib"))
    sys.path.insert(0, os.path.join(HERE, "system"))
    os.environ["JP_BUILD"] = os.path.abspath(build)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for path in sorted(glob.glob(os.path.join(HERE, "system", "test_*.py"))):
        mod = os.path.splitext(os.path.basename(path))[0]
        tests = loader.loadTestsFromName(mod)
        for t in iter_tests(tests):
            if patterns and not any(re.search(p, t.id()) for p in patterns):
                continue
            suite.addTest(t)
    if suite.countTestCases() == 0:
        return c
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    res = runner.run(suite)
    # a failing setUpClass/setUpModule is one entry that ran no test; the
    # failed subtests of one test are one failed test
    bad = res.failures + res.errors
    ran_bad = {owner(t).id() for t, _ in bad
               if isinstance(owner(t), unittest.TestCase)}
    not_ran_bad = [t for t, _ in bad
                   if not isinstance(owner(t), unittest.TestCase)]
    ran_skipped = [t for t, _ in res.skipped
                   if isinstance(t, unittest.TestCase)]
    c.failed = len(ran_bad) + len(not_ran_bad) + len(res.unexpectedSuccesses)
    c.passed = (res.testsRun - len(ran_bad) - len(res.unexpectedSuccesses)
                - len(ran_skipped))
    c.skips = [(owner(t).id() if isinstance(owner(t), unittest.TestCase)
                else str(t), why) for t, why in res.skipped]
    return c


def iter_tests(s):
    if isinstance(s, unittest.TestSuite):
        for t in s:
            yield from iter_tests(t)
    else:
        yield s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("patterns", nargs="*")
    a = ap.parse_args()
    t0 = time.monotonic()
    unit = run_unit(a.build, a.patterns)
    system = Counts()
    if not a.unit_only:
        system = run_system(a.build, a.patterns)
    skips = [("unit", n, w) for n, w in unit.skips] + \
        [("system", n, w) for n, w in system.skips]
    print()
    if skips:
        print("skipped:")
        for kind, name, why in skips:
            print("  %-6s %s: %s" % (kind, name, why))
    print("%s; %s%s; %.0fs" % (
        unit.line("unit"), system.line("system"),
        " (not run: --unit-only)" if a.unit_only else "",
        time.monotonic() - t0))
    passed, failed = unit.passed + system.passed, unit.failed + system.failed
    # .ci/run sums the lines that are exactly "N passed, M failed"
    print("%d passed, %d failed" % (passed, failed))
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(skips)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
