#!/usr/bin/env python3
"""tests/style/conventions.py: the code conventions a reader relies on, checked on every file.

Checks every C++/CUDA source under the project's code folders:
  1. the first line is `// <path>: <summary>` naming the file itself;
  2. the header comment (the comment block at the top) is at most MAX_HEADER lines;
  3. every function defined at namespace scope (clang-formatted code: the definition starts in
     column 0 and ends with a `}` in column 0) is at most MAX_FUNCTION lines;
  4. no tracker words ("issue 6", "item 3c", "the lead", "this session") in code or docs: code
     says what it does and why, not which ticket asked for it;
  5. a table of names (`const char* ... names[] = {`) is followed by a static_assert on its size
     within 3 lines, so a new enum value cannot read past its end;
  6. file names: CPU and CUDA twins share a stem (no `cpu_`/`cuda_` prefix in tensor/cpu/ and
     cuda/, cpu_features excepted: it has no twin); every test source under tests/ is `*_test.cpp`
     (benchmarks, fuzz targets, doc samples and the programs in TEST_PROGRAMS excepted).
Usage: conventions.py [ROOT]. Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

MAX_HEADER = 16  # the path line + about 15 lines
MAX_FUNCTION = 80
CODE_DIRS = ["tensor", "autograd", "nn", "cuda", "data", "apps", "tests"]
DOC_DIRS = ["docs", "tensor", "autograd", "nn", "cuda", "data", "apps", "tests"]
SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")
TRACKER = re.compile(r"\b(issue\s+#?\d+|item\s+\d+[a-z]?|the lead\b|this session\b|session\s+\d+)",
                     re.IGNORECASE)
NAME_TABLE = re.compile(r"const\s+char\s*\*\s*(const\s+)?\w*[Nn]ames\w*\s*\[\]\s*=")
# Sources under tests/ that are programs a test runs, not tests themselves.
TEST_PROGRAMS = {"tests/distributed/mpi_test_main.cpp", "tests/distributed/failure_program.cpp"}
NOT_FUNCTION = re.compile(r"^(namespace|struct|class|enum|union|extern|template\s*<[^>]*>\s*(struct|class))\b")


def sources(root, dirs, exts):
    for d in dirs:
        for base, _, files in os.walk(os.path.join(root, d)):
            if "/build" in base or "/.git" in base:
                continue
            for f in sorted(files):
                if f.endswith(exts):
                    yield os.path.join(base, f)


def header_problems(rel, lines):
    out = []
    if not lines or not lines[0].startswith("// " + rel + ":") and not lines[0].startswith(
            "// " + rel + " "):
        out.append(f"{rel}:1: first line must be `// {rel}: <summary>`")
    n = 0
    for line in lines:
        if not line.startswith("//"):
            break
        n += 1
    if n > MAX_HEADER:
        out.append(f"{rel}:1: header comment is {n} lines (at most {MAX_HEADER}; essays belong "
                   "in the labs)")
    return out


def function_problems(rel, lines):
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        starts = (line[:1] not in ("", " ", "}", "#", "/", "\t") and "(" in line
                  and not NOT_FUNCTION.match(line) and not line.rstrip().endswith(";"))
        if starts:
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{") and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith("{"):
                k = j + 1
                while k < len(lines) and not lines[k].startswith("}"):
                    k += 1
                length = k - i + 1
                if length > MAX_FUNCTION:
                    name = line.split("(")[0].split()[-1] if line.split("(")[0].split() else line
                    out.append(f"{rel}:{i + 1}: function {name} is {length} lines (at most "
                               f"{MAX_FUNCTION})")
                i = k
        i += 1
    return out


def table_problems(rel, lines):
    out = []
    for i, line in enumerate(lines):
        if NAME_TABLE.search(line) and not any("static_assert" in l for l in lines[i + 1:i + 5]):
            out.append(f"{rel}:{i + 1}: a table of names without a static_assert on its size")
    return out


def name_problems(rel):
    base = os.path.basename(rel)
    if (rel.startswith("tensor/cpu/") or rel.startswith("cuda/")) and \
            base.startswith(("cpu_", "cuda_")) and not base.startswith("cpu_features."):
        return [f"{rel}: twins share a file stem; drop the cpu_/cuda_ prefix"]
    if rel.startswith("tests/") and rel.endswith(".cpp") and not rel.endswith("_test.cpp") and \
            not rel.startswith(("tests/bench/", "tests/fuzz/", "tests/docs/")) and \
            rel not in TEST_PROGRAMS:
        return [f"{rel}: a test source is named *_test.cpp"]
    return []


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    problems = []
    for path in sources(root, CODE_DIRS, SOURCE_EXT):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        problems += header_problems(rel, lines)
        problems += function_problems(rel, lines)
        problems += table_problems(rel, lines)
        problems += name_problems(rel)
    for path in list(sources(root, DOC_DIRS, SOURCE_EXT + (".md", ".txt", ".sh", ".py", ".sbatch"))) + [
            os.path.join(root, "README.md")]:
        rel = os.path.relpath(path, root)
        if rel.startswith("docs/results/") or rel == "tests/style/conventions.py":
            continue  # measured records keep their history; this file names the words
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = TRACKER.search(line)
                if m:
                    problems.append(f"{rel}:{n}: tracker word '{m.group(0)}'")
    for p in problems:
        print(p)
    print(f"conventions: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
