#!/usr/bin/env bash
# .ci/student_edition.sh: the student edition of the labs, checked (docs/labs/tools/README.md).
# Writes it to build/student, builds it (CUDA and benchmarks off, no warnings) and checks
# that each test running a cut lab task fails with "lab NN task K: not written yet" and every
# other test passes. Run by .ci/run after the full tree's tests; with ccache (CCACHE_BASEDIR at
# the checkout) the edition reuses the full build's objects for every file it did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
python3 docs/labs/tools/student_edition.py build/student
cmake -S build/student -B build/student/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLOOM_CUDA=OFF -DLOOM_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
# No warnings allowed: the log is searched rather than building with -Werror, which would change
# every compile command and so miss ccache's copies of the full build's objects.
cmake --build build/student/build -j"$(nproc)" | tee build/student/build.log
if grep -n "warning:" build/student/build.log; then
  echo "student edition: the stubs leave compiler warnings (above)" >&2
  exit 1
fi
python3 docs/labs/tools/check_student_edition.py --edition build/student \
  --build-dir build/student/build -j"$(nproc)"
echo "student edition: written, built and checked in $(($(date +%s) - start)) s"
