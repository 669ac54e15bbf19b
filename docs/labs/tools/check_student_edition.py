#!/usr/bin/env python3
"""docs/labs/tools/check_student_edition.py: check that a built student edition fails for the
right reason, and only there.

Runs every test of the edition's build folder once (ctest), then checks each one against
tests/lab_tasks.txt (the tasks each test runs):
  - a test that runs a cut task fails (or is skipped, when its suite's shared set-up failed),
    and its output says "lab NN task K: not written yet" for one of the tasks it runs;
  - every other test passes (or skips, as it would in the full tree);
  - a failure that names a task the table does not list for that test is reported too.
A test that fails one of these checks is run once more, alone, and judged on that second run:
a cut is wrong on every run, while a machine's passing fault (an mpiexec that did not start,
a test starved past its timeout by the others) is not. The first run's output is printed
either way, so a log shows what happened. Prints, per lab, how many of its task tests failed as they should. Exits 1 on any mismatch.

    python3 docs/labs/tools/check_student_edition.py --edition build/student \\
        --build-dir build/student/build

Python 3 standard library only.
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctest_runs  # noqa: E402


def check(tests, results, table, cut_labs):
    """The problems (one line each) and {lab: [task tests, failed right, other tests, passed]}."""
    problems = []
    per_lab = collections.defaultdict(lambda: [0, 0, 0, 0])
    for t in tests:
        name = t["name"]
        status, output = results.get(name, ("missing", ""))
        runs = [task for task in table.get(ctest_runs.stable_name(name), [])
                if task[3:5] in cut_labs]
        said = ctest_runs.messages_in(output)
        for lab in ctest_runs.labs_of(t) or ["(no lab)"]:
            row = per_lab[lab]
            if runs:
                row[0] += 1
                row[1] += status != "passed" and bool(set(said) & set(runs))
            else:
                row[2] += 1
                row[3] += status in ("passed", "skipped")
        if status == "missing":
            problems.append(f"{name}: did not run")
        elif runs and status == "passed":
            problems.append(f"{name}: runs {', '.join(runs)} but {status}")
        elif runs and not set(said) & set(runs):
            problems.append(f"{name}: failed without saying '<task>: not written yet' for "
                            f"{', '.join(runs)}" + (f" (said {', '.join(said)})" if said else ""))
        elif not runs and status == "failed":
            why = (f"says {', '.join(said)} not written yet: add it to tests/lab_tasks.txt "
                   "(record_task_labels.py)") if said else "failed"
            problems.append(f"{name}: runs no cut task but {why}")
    return problems, per_lab


def judge_again(names, problems, results, run_alone):
    """results with each of the test names that problems names replaced by its outcome on a
    second run, run_alone(names) -> {name: (status, output)}; prints both outcomes and the first
    run's output's last lines to stderr."""
    suspects = [n for n in names if any(line.startswith(n + ": ") for line in problems)]
    if not suspects:
        return results
    again = run_alone(suspects)
    results = dict(results)
    for name in suspects:
        first, second = results.get(name, ("missing", "")), again.get(name, ("missing", ""))
        print(f"check_student_edition: {name}: {first[0]} on the full run, {second[0]} "
              "alone; the full run's output ends:", file=sys.stderr)
        print("  | " + "\n  | ".join(first[1].splitlines()[-25:]), file=sys.stderr)
        results[name] = second
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--edition", required=True, help="the student edition's source folder")
    p.add_argument("--build-dir", required=True, help="its build folder")
    p.add_argument("--labs", default="", help="the labs the edition cut (default: all)")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--exclude", default=None, help="ctest -E regex of tests not to run")
    args = p.parse_args(argv)
    table = ctest_runs.read_task_table(os.path.join(args.edition, "tests", "lab_tasks.txt"))
    cut_labs = {f"{int(x):02d}" for x in args.labs.split(",") if x.strip()} or \
        {f"{n:02d}" for n in range(1, 100)}
    tests = ctest_runs.list_tests(args.build_dir)
    if args.exclude:
        import re
        tests = [t for t in tests if not re.search(args.exclude, t["name"])]
    results = ctest_runs.run_ctest(args.build_dir, jobs=args.jobs, exclude_regex=args.exclude)
    problems, per_lab = check(tests, results, table, cut_labs)
    if problems:
        def alone(names):
            return ctest_runs.run_ctest(args.build_dir, jobs=1,
                                        name_regex=ctest_runs.exact_names_regex(names))
        results = judge_again([t["name"] for t in tests], problems, results, alone)
        problems, per_lab = check(tests, results, table, cut_labs)
    print(f"{'label':<10} {'task tests failing right':>26} {'other tests passing':>20}")
    for lab in sorted(per_lab):
        a, b, c, d = per_lab[lab]
        print(f"{lab:<10} {f'{b}/{a}':>26} {f'{d}/{c}':>20}")
    for line in problems:
        print(f"check_student_edition: {line}", file=sys.stderr)
    print(f"check_student_edition: {len(tests)} tests, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
