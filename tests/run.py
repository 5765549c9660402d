#!/usr/bin/env python3
"""run.py -- runs every test: the C unit tests, then the system tests.

Unit tests are the binaries BUILD/tests/test_*; each prints "ok NAME" or
"not ok NAME" per test. System tests are tests/system/test_*.py, Python
unittest modules that drive the real binaries (found through $JP_BUILD)
against real peers (ffmpeg, Ceph RGW, HTTP on 127.0.0.1).

The last line is always "N passed, M failed"; the exit status is 1 when
anything failed.

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


class Tally(unittest.TextTestResult):
    pass


def run_unit(build, patterns):
    passed = failed = 0
    for binary in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        if binary.endswith(".d") or not os.access(binary, os.X_OK):
            continue
        name = os.path.basename(binary)
        if patterns and not any(re.search(p, name) for p in patterns):
            continue
        t0 = time.monotonic()
        p = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
        ok = [l for l in p.stdout.splitlines() if l.startswith("ok ")]
        bad = [l for l in p.stdout.splitlines() if l.startswith("not ok ")]
        passed += len(ok)
        failed += len(bad)
        if p.returncode != 0 and not bad:
            failed += 1  # crashed (sanitizer report, signal) before reporting
            bad.append("not ok %s (exit status %d)" % (name, p.returncode))
        print("%-40s %3d passed, %d failed  (%.1fs)" %
              (name, len(ok), len(bad), time.monotonic() - t0), flush=True)
        for l in bad:
            print("  " + l)
        if bad:
            sys.stdout.write(p.stderr[-8000:])
    return passed, failed


def run_system(build, patterns):
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
        return 0, 0
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    return res.testsRun - failed - len(res.skipped), failed


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
    up, uf = run_unit(a.build, a.patterns)
    sp = sf = 0
    if not a.unit_only:
        sp, sf = run_system(a.build, a.patterns)
    print("\nunit: %d passed, %d failed; system: %d passed, %d failed; %.0fs"
          % (up, uf, sp, sf, time.monotonic() - t0))
    print("%d passed, %d failed" % (up + sp, uf + sf))
    sys.exit(1 if uf + sf else 0)


if __name__ == "__main__":
    main()
