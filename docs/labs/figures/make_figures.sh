#!/usr/bin/env bash
# docs/labs/figures/make_figures.sh: redraws every picture of the labs into docs/labs/img/.
#
# Usage: docs/labs/figures/make_figures.sh [BUILD_DIR]   (default: build)
# Needs Debian's python3-matplotlib (PYTHON, default /usr/bin/python3) and graphviz's `dot`
# for the autograd graph, which apps/dense_demo writes (`dense_demo --dot FILE`, built in
# BUILD_DIR). The PNGs are committed, so neither the build nor CI needs these tools.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
img="$root/docs/labs/img"
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$img"

"$python" "$here/strides.py" "$img/strides.png"
"$python" "$here/lstm_bptt.py" "$img/lstm_bptt.png"
"$python" "$here/ring_allreduce.py" "$img/ring_allreduce.png"
"$python" "$here/pipeline_schedule.py" "$img/pipeline_schedule.png"

demo="$build/apps/dense_demo/dense_demo"
if [[ ! -x $demo ]]; then
  echo "make_figures: $demo not found: build it first (cmake --build $build --target dense_demo)" >&2
  exit 1
fi
command -v dot >/dev/null || { echo "make_figures: graphviz's dot is missing (apt-get install graphviz)" >&2; exit 1; }
"$demo" --dot "$img/autograd_graph.dot" >/dev/null
dot -Tpng -Gdpi=90 "$img/autograd_graph.dot" -o "$img/autograd_graph.png"
echo "make_figures: wrote $(ls "$img" | tr '\n' ' ')"
