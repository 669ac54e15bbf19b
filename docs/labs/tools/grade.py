#!/usr/bin/env python3
"""docs/labs/tools/grade.py: grade the labs' tasks in a build folder: a score per lab and task.

Runs ctest for one lab (--lab 02), several (--lab 01 --lab 02) or every lab with tasks, and
scores each task labNN.taskK by the tests carrying that label: the task counts as done when all
of them pass. The lab's other tests are listed too, with the earlier tasks they wait for when
they fail with "lab NN task K: not written yet".

    python3 docs/labs/tools/grade.py --build-dir build --lab 02
    python3 docs/labs/tools/grade.py --build-dir build --json > grade.json   # for an autograder

JSON: {"labs": {"02": {"score": done tasks, "max": tasks, "tasks": {"lab02.task1": {"passed":
n, "total": n, "done": bool, "failed": [names]}}, "other_tests": {"passed": n, "total": n,
"waiting_for": [labNN.taskK]}}}, "score": n, "max": n}. Exits 0 whatever the score.
Python 3 standard library only.
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctest_runs  # noqa: E402


def grade(tests, results, labs):
    report = {"labs": {}, "score": 0, "max": 0}
    for lab in labs:
        mine = [t for t in tests if f"lab{lab}" in t["labels"]]
        tasks = collections.defaultdict(lambda: {"passed": 0, "total": 0, "failed": []})
        other = {"passed": 0, "total": 0, "waiting_for": set()}
        for t in mine:
            status, output = results.get(t["name"], ("missing", ""))
            # A suite whose shared set-up hit an unwritten task reports its tests as skipped.
            ok = status == "passed" or (status == "skipped" and
                                        not ctest_runs.messages_in(output))
            own = ctest_runs.own_tasks(t)
            for task in own:
                tasks[task]["total"] += 1
                tasks[task]["passed"] += ok
                if not ok:
                    tasks[task]["failed"].append(t["name"])
            if not own:
                other["total"] += 1
                other["passed"] += ok
                if not ok:
                    other["waiting_for"].update(ctest_runs.messages_in(output))
        for v in tasks.values():
            v["done"] = v["passed"] == v["total"]
        done = sum(v["done"] for v in tasks.values())
        other["waiting_for"] = sorted(other["waiting_for"])
        report["labs"][lab] = {"score": done, "max": len(tasks),
                               "tasks": dict(sorted(tasks.items(), key=lambda kv: int(
                                   kv[0].split("task")[1]))),
                               "other_tests": other}
        report["score"] += done
        report["max"] += len(tasks)
    return report


def print_report(report):
    for lab, r in report["labs"].items():
        print(f"lab {lab}: {r['score']}/{r['max']} tasks done")
        for task, v in r["tasks"].items():
            mark = "done" if v["done"] else "not yet"
            print(f"  {task}: {v['passed']}/{v['total']} tests pass  {mark}")
            for name in v["failed"][:5]:
                print(f"      failing: {name}")
            if len(v["failed"]) > 5:
                print(f"      ... and {len(v['failed']) - 5} more")
        o = r["other_tests"]
        wait = f" (waiting for {', '.join(o['waiting_for'])})" if o["waiting_for"] else ""
        print(f"  other lab {lab} tests: {o['passed']}/{o['total']} pass{wait}")
    print(f"total: {report['score']}/{report['max']} tasks done")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", default="build", help="the build folder (default: build)")
    p.add_argument("--lab", action="append", default=[], help="a lab to grade, e.g. 02; repeat")
    p.add_argument("--json", action="store_true", help="print JSON for an autograder")
    p.add_argument("-j", "--jobs", type=int, default=2)
    args = p.parse_args(argv)
    labs = sorted({f"{int(x):02d}" for x in args.lab})
    all_tests = ctest_runs.list_tests(args.build_dir)
    if not labs:
        labs = sorted({task[3:5] for t in all_tests for task in ctest_runs.own_tasks(t)})
    regex = "^(" + "|".join(f"lab{lab}" for lab in labs) + ")$"
    tests = [t for t in all_tests if any(f"lab{lab}" in t["labels"] for lab in labs)]
    results = ctest_runs.run_ctest(args.build_dir, label_regex=regex, jobs=args.jobs)
    report = grade(tests, results, labs)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
