#!/usr/bin/env python3
"""docs/labs/tools/student_edition.py: write the student edition of loom to a folder.

The solutions of the labs' tasks sit in the source between two comment lines,

    // BEGIN LAB 02 TASK 3              (optionally: // BEGIN LAB 02 TASK 3 uses(root, depth))
    ...the code a student writes...
    // END LAB 02 TASK 3

The student edition keeps both marker lines and replaces what is between them by a stub that
throws loom::Error("lab 02 task 3: not written yet"), so the tree still builds and each task's
tests fail with that message. `uses(a, b)` names parameters or locals that only the cut code
read: the stub casts them to void, so the edition compiles without unused-variable warnings.
In CUDA code (.cu, .cuh, or a region whose file marks functions LOOM_HOST_DEVICE) the stub
traps on the device and throws on the host.

Usage:
    student_edition.py OUT [--source DIR] [--labs 01,02]   write the edition to OUT
    student_edition.py --list [--source DIR]               check the markers, list the regions
    student_edition.py OUT --probe                          (tools) keep every solution, but
        append "labNN.taskK" to $LOOM_LAB_PROBE the first time a process enters a region (how
        tests/lab_tasks.txt is made: record_task_labels.py), and throw the stub's message there
        when $LOOM_LAB_CUT is "all" or names the label (the student edition at run time).

The edition leaves out docs/labs/instructor/ and build folders, and starts README.md with a note.
Markers are checked first: an unbalanced, nested or mismatched marker is an error naming the
file and line, and nothing is written. Python 3 standard library only.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

SOURCE_SUFFIXES = (".cpp", ".cc", ".h", ".hpp", ".cu", ".cuh", ".in")
CUDA_SUFFIXES = (".cu", ".cuh")
LEFT_OUT = ("docs/labs/instructor/",)
BEGIN_RE = re.compile(r"^(\s*)// BEGIN LAB (\d\d) TASK (\d+)(?: uses\(([A-Za-z0-9_, ]*)\))?\s*$")
END_RE = re.compile(r"^\s*// END LAB (\d\d) TASK (\d+)\s*$")
# Anything that looks like a marker but is not one exactly is an error, not silently kept.
LOOKS_LIKE_MARKER_RE = re.compile(r"//\s*(BEGIN|END)\s+LAB\b", re.IGNORECASE)
STUDENT_NOTE = """> **Student edition.** The solutions of the labs' tasks are cut out of this copy of loom:
> each `// BEGIN LAB NN TASK K` ... `// END LAB NN TASK K` region now throws
> "lab NN task K: not written yet". Each lab page's "Your tasks" section says what to write;
> `python3 docs/labs/tools/grade.py --build-dir build --lab NN` grades it.

"""


class MarkerError(Exception):
    pass


class Region:
    def __init__(self, path, begin, end, lab, task, uses, indent):
        self.path, self.begin, self.end = path, begin, end  # 1-based lines of the two markers
        self.lab, self.task, self.uses, self.indent = lab, task, uses, indent

    @property
    def label(self):
        return f"lab{self.lab}.task{self.task}"


def parse_regions(path, lines):
    """The regions of one file (lines without newlines); raises MarkerError on a bad marker."""
    regions, open_region = [], None
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN_RE.match(line), END_RE.match(line)
        if begin:
            if open_region:
                raise MarkerError(f"{path}:{number}: BEGIN LAB {begin.group(2)} TASK "
                                  f"{begin.group(3)} inside the region opened at line "
                                  f"{open_region[0]} (regions do not nest)")
            uses = [u.strip() for u in (begin.group(4) or "").split(",") if u.strip()]
            open_region = (number, begin.group(2), int(begin.group(3)), uses, begin.group(1))
        elif end:
            if not open_region:
                raise MarkerError(f"{path}:{number}: END LAB {end.group(1)} TASK {end.group(2)} "
                                  "without a BEGIN")
            start, lab, task, uses, indent = open_region
            if (end.group(1), int(end.group(2))) != (lab, task):
                raise MarkerError(f"{path}:{number}: END LAB {end.group(1)} TASK {end.group(2)} "
                                  f"closes BEGIN LAB {lab} TASK {task} (line {start})")
            regions.append(Region(path, start, number, lab, task, uses, indent))
            open_region = None
        elif LOOKS_LIKE_MARKER_RE.search(line):
            raise MarkerError(f"{path}:{number}: malformed marker {line.strip()!r} (expected "
                              "'// BEGIN LAB NN TASK K' or '// END LAB NN TASK K', alone on its "
                              "line)")
    if open_region:
        raise MarkerError(f"{path}:{open_region[0]}: BEGIN LAB {open_region[1]} TASK "
                          f"{open_region[2]} is never closed")
    return regions


def source_files(root):
    """Relative paths of the repository's files: git's list when there is one, else a walk."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
        files = [f for f in out.decode().split("\0") if f]
        return sorted(f for f in files if os.path.isfile(os.path.join(root, f)))
    except (OSError, subprocess.CalledProcessError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith((".git", "build"))]
            for name in filenames:
                files.append(os.path.relpath(os.path.join(dirpath, name), root))
        return sorted(files)


def scanned(rel):
    return rel.endswith(SOURCE_SUFFIXES) and not rel.startswith("docs/labs/tools/")


def collect(root):
    """{relative path: (lines, regions)} for every source file with at least one region."""
    found = {}
    for rel in source_files(root):
        if not scanned(rel):
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        regions = parse_regions(rel, lines)
        if regions:
            found[rel] = (lines, regions)
    return found


def is_cuda_code(rel, lines):
    return rel.endswith(CUDA_SUFFIXES) or any("LOOM_HOST_DEVICE" in line for line in lines)


def stub(region, cuda):
    """The lines that replace a region's body."""
    ind = region.indent
    out = [f"{ind}(void){name};" for name in region.uses]
    message = f"lab {region.lab} task {region.task}: not written yet"
    # Printed before the throw: a throw inside an OpenMP region ends the program (std::terminate)
    # without its message, and the student (and the CI check) must still see which task it was.
    say = f'::std::fputs("{message}\\n", stderr);'
    throw = f'throw ::loom::Error("{message}");'
    if cuda:
        out += ["#ifdef __CUDA_ARCH__", f"{ind}__trap();", "#else", ind + say, ind + throw, "#endif"]
    else:
        out += [ind + say, ind + throw]
    return out


def probe(region):
    # One line per process and region: a function-local static runs its initializer once.
    return [f'{region.indent}LOOM_LAB_PROBE("{region.label}", "lab {region.lab} task {region.task}: '
            'not written yet");']


PROBE_HELPER = r"""#ifndef LOOM_LAB_PROBE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifdef __CUDA_ARCH__
#define LOOM_LAB_PROBE(label, message)
#else
// Appends `label` to $LOOM_LAB_PROBE; says whether $LOOM_LAB_CUT ("all", or labels) cuts it.
inline bool loom_lab_probe_record(const char* label) {
  if (const char* path = std::getenv("LOOM_LAB_PROBE")) {
    if (std::FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "%s\n", label);
      std::fclose(f);
    }
  }
  const char* cut = std::getenv("LOOM_LAB_CUT");
  return cut && (std::strcmp(cut, "all") == 0 || std::strstr(cut, label));
}
#define LOOM_LAB_PROBE(label, message)                                          \
  do {                                                                          \
    static const bool loom_lab_cut = loom_lab_probe_record(label);              \
    if (loom_lab_cut) throw ::loom::Error(message);                             \
  } while (0)
#endif
#endif""".split("\n")


def insert_after_includes(lines, extra):
    """lines with `extra` after the last top-level #include (or the header comment)."""
    depth, top_level = 0, []  # includes outside any #if block (not inside `#ifdef __CUDACC__`)
    for i, line in enumerate(lines):
        if re.match(r"#\s*if", line):
            depth += 1
        elif re.match(r"#\s*endif", line):
            depth -= 1
        elif line.startswith("#include") and depth == 0:
            top_level.append(i)
    last = max(top_level, default=None)
    if last is None:
        last = next((i for i, line in enumerate(lines) if not line.startswith("//")), 0) - 1
    return lines[:last + 1] + extra + lines[last + 1:]


def transform(rel, lines, regions, labs, probing):
    out, last = [], 0
    cuda = is_cuda_code(rel, lines)
    changed = False
    for r in regions:
        if labs and r.lab not in labs:
            continue
        out += lines[last:r.begin]  # up to and including the BEGIN line
        if probing:
            out += probe(r) + lines[r.begin:r.end - 1]
        else:
            out += stub(r, cuda)
        last = r.end - 1  # the END line is kept
        changed = True
    out += lines[last:]
    if not changed:
        return lines
    if probing:
        out = insert_after_includes(out, PROBE_HELPER)
    if not any(re.match(r'#include "tensor/error.h"', line) for line in out):
        out = insert_after_includes(out, ['#include "tensor/error.h"'])
    if not probing and not any(re.match(r"#include <cstdio>", line) for line in out):
        out = insert_after_includes(out, ["#include <cstdio>"])
    return out


def write_edition(root, dest, labs, probing):
    found = collect(root)
    root_abs, dest_abs = os.path.abspath(root), os.path.abspath(dest)
    if dest_abs == root_abs or dest_abs.startswith(root_abs + os.sep) and \
            not os.path.relpath(dest_abs, root_abs).split(os.sep)[0].startswith("build"):
        # Inside the tree only under a build folder, which git ignores, so it never copies itself.
        raise MarkerError(f"{dest}: write the edition outside the source tree or under build*/")
    for rel in source_files(root):
        if rel.startswith(LEFT_OUT) or rel.split("/")[0].startswith("build"):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if rel in found:
            lines, regions = found[rel]
            new = transform(rel, lines, regions, labs, probing)
            with open(target, "w", encoding="utf-8") as f:
                f.write("\n".join(new))
        elif rel == "README.md" and not probing:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
            with open(target, "w", encoding="utf-8") as f:
                f.write(STUDENT_NOTE + text)
        else:
            shutil.copy2(os.path.join(root, rel), target)
    return found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", nargs="?", help="folder to write the edition to (replaced)")
    p.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", "..", ".."),
                   help="the repository to read (default: the one holding this script)")
    p.add_argument("--labs", default="", help="cut only these labs, e.g. 01,02 (default: all)")
    p.add_argument("--list", action="store_true", help="check the markers and list the regions")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    labs = {f"{int(x):02d}" for x in args.labs.split(",") if x.strip()}
    try:
        if args.list:
            for rel, (_, regions) in sorted(collect(args.source).items()):
                for r in regions:
                    print(f"{r.label}\t{rel}:{r.begin}-{r.end}")
            return 0
        if not args.out:
            p.error("give OUT, the folder to write the edition to, or --list")
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        found = write_edition(args.source, args.out, labs, args.probe)
    except MarkerError as e:
        print(f"student_edition: error: {e}", file=sys.stderr)
        return 1
    regions = [r for _, rs in found.values() for r in rs]
    cut = [r for r in regions if not labs or r.lab in labs]
    what = "instrumented (probe)" if args.probe else "cut"
    print(f"student_edition: wrote {args.out}: {len(cut)} of {len(regions)} regions {what}"
          f"{' (labs ' + ','.join(sorted(labs)) + ')' if labs else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
