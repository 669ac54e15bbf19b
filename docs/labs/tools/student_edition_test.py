#!/usr/bin/env python3
"""docs/labs/tools/student_edition_test.py: the marker parser and the stubs of
student_edition.py, on tiny trees this test writes (ctest: lab_tools_selftest, label docs).
Python 3 standard library only.
"""
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_student_edition as cse  # noqa: E402
import ctest_runs  # noqa: E402
import student_edition as se  # noqa: E402

GOOD = """// a.cpp: a file.
#include "tensor/error.h"

int twice(int x, int unused_by_stub) {
  // BEGIN LAB 01 TASK 1 uses(x, unused_by_stub)
  return 2 * x + 0 * unused_by_stub;
  // END LAB 01 TASK 1
}
"""


def errors_of(text):
    try:
        se.parse_regions("f.cpp", text.split("\n"))
    except se.MarkerError as e:
        return str(e)
    return ""


class Markers(unittest.TestCase):
    def test_a_good_region(self):
        (r,) = se.parse_regions("a.cpp", GOOD.split("\n"))
        self.assertEqual((r.label, r.begin, r.end, r.uses), ("lab01.task1", 5, 7,
                                                            ["x", "unused_by_stub"]))

    def test_nested(self):
        msg = errors_of("// BEGIN LAB 01 TASK 1\n// BEGIN LAB 01 TASK 2\n")
        self.assertIn("f.cpp:2:", msg)
        self.assertIn("do not nest", msg)

    def test_mismatched_numbers(self):
        msg = errors_of("x\n// BEGIN LAB 01 TASK 1\n// END LAB 01 TASK 2\n")
        self.assertIn("f.cpp:3: END LAB 01 TASK 2 closes BEGIN LAB 01 TASK 1 (line 2)", msg)

    def test_end_without_begin(self):
        self.assertIn("f.cpp:1: END LAB 03 TASK 1 without a BEGIN",
                      errors_of("// END LAB 03 TASK 1\n"))

    def test_never_closed(self):
        self.assertIn("f.cpp:2: BEGIN LAB 04 TASK 2 is never closed",
                      errors_of("\n  // BEGIN LAB 04 TASK 2\nint x;\n"))

    def test_malformed(self):
        for bad in ("// BEGIN LAB 1 TASK 1", "// begin lab 01 task 1", "x; // END LAB 01 TASK 1",
                    "// BEGIN LAB 01 TASK 1 uses x"):
            self.assertIn("f.cpp:1: malformed marker", errors_of(bad + "\n"), bad)


class Edition(unittest.TestCase):
    def write_tree(self, root, files):
        for rel, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)

    def make(self, files, labs=""):
        src = tempfile.mkdtemp()
        self.write_tree(src, files)
        out = os.path.join(tempfile.mkdtemp(), "edition")
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
            code = se.main([out, "--source", src] + (["--labs", labs] if labs else []))
        return code, out, err.getvalue()

    def read(self, out, rel):
        with open(os.path.join(out, rel)) as f:
            return f.read()

    def test_stub_keeps_markers_and_uses_names(self):
        code, out, _ = self.make({"a.cpp": GOOD, "README.md": "# loom\n",
                                  "docs/labs/instructor/01.md": "answers\n"})
        self.assertEqual(code, 0)
        text = self.read(out, "a.cpp")
        self.assertIn("  // BEGIN LAB 01 TASK 1 uses(x, unused_by_stub)\n  (void)x;\n"
                      "  (void)unused_by_stub;\n"
                      "  ::std::fputs(\"lab 01 task 1: not written yet\\n\", stderr);\n"
                      "  throw ::loom::Error(\"lab 01 task 1: not "
                      "written yet\");\n  // END LAB 01 TASK 1\n", text)
        self.assertNotIn("2 * x", text)
        self.assertTrue(self.read(out, "README.md").startswith("> **Student edition.**"))
        self.assertFalse(os.path.exists(os.path.join(out, "docs/labs/instructor")))

    def test_cuda_stub_traps_on_the_device_and_adds_the_include(self):
        cu = "#include <cstdint>\n__global__ void k(int* y) {\n  // BEGIN LAB 08 TASK 1 " \
             "uses(y)\n  *y = 1;\n  // END LAB 08 TASK 1\n}\n"
        code, out, _ = self.make({"k.cuh": cu})
        text = self.read(out, "k.cuh")
        self.assertEqual(code, 0)
        self.assertIn('#include <cstdint>\n#include "tensor/error.h"\n', text)
        self.assertIn("#ifdef __CUDA_ARCH__\n  __trap();\n#else\n  ::std::fputs(", text)

    def test_only_the_chosen_labs_are_cut(self):
        two = GOOD + GOOD.replace("LAB 01 TASK 1", "LAB 02 TASK 1").replace("twice", "thrice")
        code, out, _ = self.make({"a.cpp": two}, labs="2")
        text = self.read(out, "a.cpp")
        self.assertEqual(code, 0)
        self.assertIn("return 2 * x", text)
        self.assertIn("lab 02 task 1: not written yet", text)

    def test_a_bad_marker_writes_nothing_and_names_the_line(self):
        code, out, err = self.make({"b.h": "int f();\n// BEGIN LAB 05 TASK 1\n"})
        self.assertEqual(code, 1)
        self.assertIn("b.h:2: BEGIN LAB 05 TASK 1 is never closed", err)
        self.assertFalse(os.path.exists(out))


class Checker(unittest.TestCase):
    TABLE = {"t_cut": ["lab01.task1"], "t_other": []}
    TESTS = [{"name": "t_cut", "labels": ["lab01"]}, {"name": "t_other", "labels": ["lab02"]}]
    SAID = "lab 01 task 1: not written yet"

    def test_a_failure_without_the_message_is_a_problem(self):
        results = {"t_cut": ("failed", "mpiexec: could not start"), "t_other": ("passed", "")}
        problems, per_lab = cse.check(self.TESTS, results, self.TABLE, {"01", "02"})
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith("t_cut: failed without saying"))
        self.assertEqual(per_lab["lab01"], [1, 0, 0, 0])

    def test_a_second_run_alone_decides(self):
        results = {"t_cut": ("failed", "mpiexec: could not start"), "t_other": ("passed", "")}
        problems, _ = cse.check(self.TESTS, results, self.TABLE, {"01", "02"})
        asked = []

        def alone(names):
            asked.append(names)
            return {"t_cut": ("failed", self.SAID)}

        with redirect_stderr(io.StringIO()) as err:
            again = cse.judge_again(["t_cut", "t_other"], problems, results, alone)
        self.assertEqual(asked, [["t_cut"]])  # only the suspect runs again
        self.assertIn("mpiexec: could not start", err.getvalue())  # the first output is shown
        self.assertEqual(cse.check(self.TESTS, again, self.TABLE, {"01", "02"})[0], [])
        # A cut that is wrong stays wrong on the second run.
        with redirect_stderr(io.StringIO()):
            again = cse.judge_again(["t_cut", "t_other"], problems, results,
                                    lambda names: {"t_cut": ("failed", "segfault")})
        self.assertEqual(len(cse.check(self.TESTS, again, self.TABLE, {"01", "02"})[0]), 1)

    def test_exact_names_regex(self):
        import re
        names = ["a.b/c  # GetParam() = (4-byte object <00>)", "d[1]+e"]
        rx = re.compile(ctest_runs.exact_names_regex(names))
        for n in names:
            self.assertTrue(rx.match(n), n)
        for n in ("a.b/c", "axb/c  # GetParam() = (4-byte object <00>)", "d[1]+ef", "xd[1]+e"):
            self.assertFalse(rx.match(n), n)


if __name__ == "__main__":
    unittest.main()
