"""docs/labs/tools/ctest_runs.py: what the lab tools share: the tests of a build folder, with
their labels, read from ctest's JSON; one ctest run with each test's outcome and output (JUnit
XML); and tests/lab_tasks.txt. Python 3 standard library only.
"""
import json
import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET

TASK_RE = re.compile(r"^lab(\d\d)\.task(\d+)$")
LAB_RE = re.compile(r"^lab(\d\d)$")
MESSAGE_RE = re.compile(r"lab (\d\d) task (\d+): not written yet")


def list_tests(build_dir, label_regex=None):
    """[{name, labels, command, env, cwd, timeout}] of the build, in ctest's order."""
    cmd = ["ctest", "--test-dir", build_dir, "--show-only=json-v1"]
    if label_regex:
        cmd += ["-L", label_regex]
    data = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    tests = []
    for t in data.get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        tests.append({
            "name": t["name"],
            "labels": list(props.get("LABELS", [])),
            "command": t.get("command", []),
            "env": list(props.get("ENVIRONMENT", [])),
            "cwd": props.get("WORKING_DIRECTORY"),
            "timeout": float(props.get("TIMEOUT", 0) or 0),
            "will_fail": bool(props.get("WILL_FAIL", False)),
            "pass_regex": list(props.get("PASS_REGULAR_EXPRESSION", [])),
        })
    return tests


def exact_names_regex(names):
    """A ctest -R regex that matches exactly these test names. CMake's regex language has no
    escapes for every character Python's re.escape writes, so only its own specials are escaped."""
    special = set("^$.[]()*+?|\\")
    return "^(" + "|".join("".join("\\" + c if c in special else c for c in n) for n in names) + ")$"


def run_ctest(build_dir, label_regex=None, jobs=2, timeout=300, exclude_regex=None,
              name_regex=None):
    """{test name: (status, output)} of one ctest run; status is passed, failed or skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, "results.xml")
        cmd = ["ctest", "--test-dir", build_dir, "-j", str(jobs), "--timeout", str(timeout),
               "--output-junit", junit]
        if label_regex:
            cmd += ["-L", label_regex]
        if exclude_regex:
            cmd += ["-E", exclude_regex]
        if name_regex:
            cmd += ["-R", name_regex]
        subprocess.run(cmd, capture_output=True, text=True)
        if not os.path.exists(junit):
            return {}
        results = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            status = case.get("status", "run")
            if case.find("failure") is not None or case.find("error") is not None:
                status = "failed"
            elif case.find("skipped") is not None or status in ("notrun", "disabled"):
                status = "skipped"
            else:
                status = "passed"
            out = case.find("system-out")
            results[case.get("name")] = (status, out.text if out is not None and out.text else "")
        return results


def stable_name(name):
    """A test's name without GoogleTest's "  # GetParam() = ..." suffix, which prints the
    parameter's raw bytes (pointers, padding) and so changes from one build to the next."""
    return name.split("  # GetParam() = ")[0]


def own_tasks(test):
    """The labNN.taskK labels of a test (its own lab's tasks)."""
    return sorted(label for label in test["labels"] if TASK_RE.match(label))


def labs_of(test):
    return sorted(label for label in test["labels"] if LAB_RE.match(label))


def read_task_table(path):
    """{test name: [labNN.taskK, ...]}: every task each test's process runs."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "\t" not in line:
                continue
            name, _, labels = line.rstrip("\n").partition("\t")
            table[stable_name(name)] = labels.split()
    return table


def messages_in(output):
    """The labNN.taskK of every 'lab NN task K: not written yet' in a test's output."""
    return sorted({f"lab{m.group(1)}.task{m.group(2)}" for m in MESSAGE_RE.finditer(output)})
