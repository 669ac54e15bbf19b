#!/usr/bin/env python3
"""docs/labs/tools/record_task_labels.py: write tests/lab_tasks.txt, the lab tasks each test runs.

Run every test of a build of the probe edition (student_edition.py OUT --probe: the solutions
are kept, and each region appends its label to $LOOM_LAB_PROBE the first time a process enters
it), each with its own LOOM_LAB_PROBE file, and write one line per test that entered a region:

    python3 docs/labs/tools/student_edition.py build/probe --probe
    cmake -S build/probe -B build/probe/build -G Ninja -DLOOM_CUDA=OFF -DLOOM_BENCHMARKS=OFF
    cmake --build build/probe/build
    python3 docs/labs/tools/record_task_labels.py --build-dir build/probe/build \\
        --out tests/lab_tasks.txt

--tests REGEX records only the tests whose names match (a Python regex) and keeps every other
line of --out as it was: for tests just added, without running the whole suite (~12 minutes).

A test that fails in the probe edition is reported (its record may be short). Which tasks a test
runs can depend on the CPU: the GEMM's reference micro-kernel (lab 10) runs wherever the CPU
lacks the vector kernels. Python 3 standard library only.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctest_runs  # noqa: E402

HEADER = """# tests/lab_tasks.txt: the lab tasks each test runs, as ctest labels (tests/CMakeLists.txt).
#
# One line per test: its ctest name, a tab, then labNN.taskK for every `// BEGIN LAB NN TASK K` region
# the test's processes enter. A test of lab NN gets the labels of lab NN's tasks; the others
# say which earlier tasks it needs. Written by docs/labs/tools/record_task_labels.py; the
# student-edition check (docs/labs/tools/check_student_edition.py) fails when it is out of date.
"""


def run_one(test, probe_file):
    env = dict(os.environ)
    for item in test["env"]:
        key, _, value = item.partition("=")
        env[key] = value
    env["LOOM_LAB_PROBE"] = probe_file
    try:
        done = subprocess.run(test["command"], cwd=test["cwd"], env=env, capture_output=True,
                              timeout=test["timeout"] or 300)
        output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        if test["pass_regex"]:  # ctest's PASS_REGULAR_EXPRESSION: the output decides
            ok = any(re.search(rx, output) for rx in test["pass_regex"])
        else:
            ok = (done.returncode == 0) != test["will_fail"]
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    labels = set()
    if os.path.exists(probe_file):
        with open(probe_file, encoding="utf-8") as f:
            labels = {line.strip() for line in f if line.strip()}
    return ok, sorted(labels, key=lambda s: (s[3:5], int(s.split("task")[1])))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", required=True, help="a build of the probe edition")
    p.add_argument("--out", required=True, help="the table to write (tests/lab_tasks.txt)")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--tests", default=None,
                   help="record only the tests matching this regex; keep --out's other lines")
    args = p.parse_args(argv)
    tests = [t for t in ctest_runs.list_tests(args.build_dir) if t["command"]]
    rows, failed = {}, []
    if args.tests:
        tests = [t for t in tests if re.search(args.tests, t["name"])]
        if os.path.exists(args.out):  # the lines of the tests not run again stay
            rows = {name: labels for name, labels in ctest_runs.read_task_table(args.out).items()
                    if not re.search(args.tests, name)}
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_one, t, os.path.join(tmp, f"{i}.txt")): t["name"]
                   for i, t in enumerate(tests)}
        for future in concurrent.futures.as_completed(futures):
            ok, labels = future.result()
            if not ok:
                failed.append(futures[future])
            if labels:
                rows[ctest_runs.stable_name(futures[future])] = labels
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(HEADER)
        for name in sorted(rows):
            f.write(f"{name}\t{' '.join(rows[name])}\n")
    print(f"record_task_labels: {len(tests)} tests, {len(rows)} run a task; wrote {args.out}")
    for name in sorted(failed):
        print(f"record_task_labels: warning: {name} failed in the probe edition", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
