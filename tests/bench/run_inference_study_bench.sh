#!/usr/bin/env bash
# tests/bench/run_inference_study_bench.sh: `imdb study --inference` into docs/results/, the
# report that puts loom fp32, int8, a structured-pruned model, a distilled student (fp32 and
# int8) and PyTorch 1.13 fp32 / quantize_dynamic int8 on the same weights side by side.
#
# Usage: tests/bench/run_inference_study_bench.sh --checkpoint CKPT [BUILD_DIR] [--pruned P]
#          [--student S] [--min-seconds S] [--samples N] [--finetune-epochs E] [--out-dir DIR]
#   CKPT: a float32 checkpoint of the study's model. Without --pruned / --student the study
#   makes them (`--make-missing`: prune 50% structured, distill a 32-unit student; that trains,
#   a few minutes per epoch on 2 cores). BUILD_DIR holds apps/imdb/imdb (default: build).
# The PyTorch rows run /usr/bin/python3 (tests/reference/torch_inference_bench.py, called by the
# app); without torch they are listed as skipped. Writes DIR/inference-study-cpu/report.md,
# report.json and accuracy_vs_latency.png (default DIR: docs/results), and prints the load
# average before and after. Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build ckpt="" extra=() min_seconds=10 samples=5000 epochs=2
out_dir=$root/docs/results
while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) ckpt=$2; shift 2 ;;
    --pruned) extra+=(--pruned "$2"); shift 2 ;;
    --student) extra+=(--student "$2"); shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --finetune-epochs) epochs=$2; shift 2 ;;
    --out-dir) out_dir=$2; shift 2 ;;
    *) build=$1; shift ;;
  esac
done
imdb=$build/apps/imdb/imdb
[[ -x "$imdb" ]] || { echo "run_inference_study_bench: no $imdb (build the imdb target)" >&2; exit 2; }
[[ -f "$ckpt" ]] || { echo "run_inference_study_bench: --checkpoint CKPT is required" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load before: $(cat /proc/loadavg)"
"$imdb" study --inference --checkpoint "$ckpt" "${extra[@]}" --make-missing \
  --finetune-epochs "$epochs" --min-seconds "$min_seconds" --samples "$samples" --threads 2 \
  --out "$tmp/study"
echo "load after: $(cat /proc/loadavg)"
mkdir -p "$out_dir/inference-study-cpu"
cp "$tmp/study/report.md" "$tmp/study/report.json" "$out_dir/inference-study-cpu/"
if [[ -f "$tmp/study/accuracy_vs_latency.png" ]]; then
  cp "$tmp/study/accuracy_vs_latency.png" "$out_dir/inference-study-cpu/"
fi
echo "wrote $out_dir/inference-study-cpu/report.md"
