#!/usr/bin/env bash
# tests/bench/run_gpu_bench.sh: the GPU training-step benchmark (lab 08, section 8), in one go.
# Builds nothing: it runs an existing build's programs and writes one JSON file.
#
# First run on a GPU machine (H100/H200, sm_90), from the repository root, one command:
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_CUDA=ON \
#         -DCMAKE_CUDA_ARCHITECTURES=90 &&
#   cmake --build build-gpu -j16 --target bench_gpu_step imdb imdb_gpu_test cuda_device_tests \
#         cuda_parity_tests cuda_lstm_persistent_tests cuda_loss_scale_parity_tests \
#         cuda_adam_parity_tests cuda_graph_io_tests cuda_gemm_mapping_tests \
#         cuda_sync_debug_tests cuda_kernel_emulation_tests cuda_tensor_kernel_emulation_tests &&
#   tests/bench/run_gpu_bench.sh build-gpu --quick --out /tmp/gpu-step.json
# (the targets are exactly the programs `ctest -L cuda` runs; a missing one shows as "Not Run"
# and marks the tests FAILED). Under a 10-minute limit per command, run the two cmake lines
# first and the script in a second command: the build folder stays between the two.
#
# Usage: tests/bench/run_gpu_bench.sh [BUILD_DIR] [options]
#   BUILD_DIR        a CUDA build (default: build) holding tests/bench/bench_gpu_step and
#                    tests/cuda/* (the targets above)
#   --out FILE       results file (default: docs/results/gpu-step-<device>.json)
#   --quick          3 warm-up and 10 timed steps per configuration (default 10 and 50)
#   --no-tests       skip `ctest -L cuda` (run by default, before the benchmark)
#   --sanitize       also run compute-sanitizer memcheck and racecheck over every CUDA test
#                    program (slow: minutes; see docs/labs/08-cuda.md for a debug build to use)
#   --python PY      the Python with a CUDA PyTorch (default: the first of python3,
#                    /usr/bin/python3 that has one)
#
# What it runs, each configuration in its own process (a crash or a CUDA error in one cannot
# spoil the others; each gets a time limit):
#   loom  bench_gpu_step for hidden 100 and 64, fp32 and fp16, LSTM composed / fused /
#         persistent eager and fused / persistent graphed (static inputs); and, at hidden 100
#         fp32, the fused step fed by an UploadQueue and by the dataset kept on the device,
#         eager and graphed, and the fused step with the atomic index_add;
#   torch tests/reference/torch_gpu_step_bench.py for hidden 100 and 64, fp32 (true fp32: TF32
#         off) and AMP.
# A configuration that cannot run (no persistent LSTM in the build, no torch with CUDA, no
# device) is recorded with "status": "skipped" and its reason; a failing one with "error".
# The JSON holds the device (nvidia-smi), driver, date, commit, the exact commands, every
# result, and a summary: per (hidden, precision) PyTorch's median, loom's best median and the
# speed-up. docs/labs/08-cuda.md, section 8, says how to read it.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
args_given="$*"
build="$root/build"
out=""
quick=0
run_tests=1
sanitize=0
python=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-tests) run_tests=0; shift ;;
    --sanitize) sanitize=1; shift ;;
    --python) python=$2; shift 2 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    -*) echo "run_gpu_bench: unknown option $1" >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
  esac
done
bench="$build/tests/bench/bench_gpu_step"
[[ -x "$bench" ]] || { echo "run_gpu_bench: no $bench (build the bench_gpu_step target in a CUDA build)" >&2; exit 2; }
if [[ $quick == 1 ]]; then warmup=3; steps=10; else warmup=10; steps=50; fi

# cuBLAS must be found at run time; the build's RUNPATH names the build machine's CUDA folder.
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" "${CUDA_HOME:-/usr/local/cuda}/lib" /usr/local/cuda/lib64; do
  [[ -d "$d" ]] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
missing=$(ldd "$bench" 2>/dev/null | grep "not found" || true)
[[ -n "$missing" ]] && echo "run_gpu_bench: warning: libraries not found for bench_gpu_step:"$'\n'"$missing" >&2

if [[ -z "$python" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
      python=$p; break
    fi
  done
  [[ -z "$python" ]] && python=python3  # the torch script then reports "skipped" and why
fi

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
gpu_name=${gpu%%,*}
driver=${gpu#*, }
if [[ -z "$gpu" ]]; then
  gpu_name="no-gpu"; driver="none"
  # Without a GPU every configuration is "skipped": do not litter docs/results with that.
  [[ -z "$out" ]] && { echo "run_gpu_bench: nvidia-smi sees no GPU; pass --out FILE to record the skips anyway" >&2; exit 2; }
fi
slug=$(echo "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed 's/[^a-z0-9]\+/-/g; s/^-//; s/-$//')
[[ -z "$out" ]] && out="$root/docs/results/gpu-step-$slug.json"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit+local-changes"
when=$(date -u +%FT%TZ)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "device: $gpu_name, driver $driver; date $when; commit $commit; python $python"

# ---- tests first: numbers from a backend that fails its tests mean nothing -----------------
tests_status="not run"
if [[ $run_tests == 1 ]]; then
  echo "== ctest -L cuda"
  if (cd "$build" && timeout 300 ctest -L cuda --output-on-failure >"$tmp/ctest.log" 2>&1); then
    tests_status="passed"
  else
    tests_status="FAILED (exit $?)"
  fi
  grep -E "tests passed|tests failed|Not Run|Failed|Skipped" "$tmp/ctest.log" | tail -40
fi

sanitize_results=()
if [[ $sanitize == 1 ]]; then
  cs=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  for prog in "$build"/tests/cuda/cuda_*tests; do
    [[ -x "$prog" ]] || continue
    for tool in memcheck racecheck; do
      echo "== compute-sanitizer --tool $tool $(basename "$prog")"
      if [[ ! -x "$cs" ]]; then
        sanitize_results+=("$(basename "$prog") $tool: skipped (no compute-sanitizer)")
        continue
      fi
      timeout 600 "$cs" --tool "$tool" --error-exitcode 1 "$prog" >"$tmp/cs.log" 2>&1
      rc=$?
      tail -3 "$tmp/cs.log"
      sanitize_results+=("$(basename "$prog") $tool: exit $rc, $(grep -m1 'ERROR SUMMARY\|RACECHECK SUMMARY' "$tmp/cs.log" || echo 'no summary')")
    done
  done
fi

# ---- the benchmark grid ---------------------------------------------------------------------
run_one() {  # run_one <file> <command...>: one JSON line appended to <file>, whatever happens
  local file=$1; shift
  echo "$*" >>"$tmp/commands.txt"
  local line rc
  line=$(timeout 240 "$@" 2>"$tmp/stderr.txt" | tail -1)
  rc=$?  # with pipefail: the program's status (124: timed out), not tail's
  if [[ "$line" != \{* ]]; then  # crashed before printing its JSON: record why
    line=$("$python" -c 'import json, sys; print(json.dumps({"status": "error",
      "reason": "exit " + sys.argv[1] + ": " + open(sys.argv[2], errors="replace").read()[-600:],
      "command": sys.argv[3]}))' "$rc" "$tmp/stderr.txt" "$*")
  fi
  echo "$line" >>"$file"
  echo "  $(echo "$line" | cut -c1-200)"
}

common=(--warmup "$warmup" --steps "$steps")
for h in 100 64; do
  for prec in fp32 fp16; do
    for lstm in composed fused persistent; do
      echo "== loom $lstm H=$h $prec"
      run_one "$tmp/loom.jsonl" "$bench" --lstm "$lstm" --hidden "$h" --precision "$prec" "${common[@]}"
    done
    for lstm in fused persistent; do
      echo "== loom $lstm H=$h $prec graphed"
      run_one "$tmp/loom.jsonl" "$bench" --lstm "$lstm" --hidden "$h" --precision "$prec" --graph "${common[@]}"
    done
  done
done
for input in queue resident; do
  for g in "" --graph; do
    echo "== loom fused H=100 fp32 input $input $g"
    run_one "$tmp/loom.jsonl" "$bench" --lstm fused --hidden 100 --precision fp32 --input "$input" $g "${common[@]}"
  done
done
echo "== loom fused H=100 fp32 index_add atomic"
run_one "$tmp/loom.jsonl" "$bench" --lstm fused --hidden 100 --precision fp32 --index-add atomic "${common[@]}"
for h in 100 64; do
  for prec in fp32 amp; do
    echo "== torch cuDNN H=$h $prec"
    run_one "$tmp/torch.jsonl" "$python" "$root/tests/reference/torch_gpu_step_bench.py" \
      --hidden "$h" --precision "$prec" --warmup "$warmup" --steps "$steps"
  done
done

# ---- one JSON file and a summary ------------------------------------------------------------
printf '%s\n' "${sanitize_results[@]+"${sanitize_results[@]}"}" >"$tmp/sanitize.txt"
mkdir -p "$(dirname "$out")"
"$python" - "$tmp" "$out" "$gpu_name" "$driver" "$when" "$commit" "$tests_status" "$args_given" <<'PY'
import json, os, sys
tmp, out, gpu, driver, when, commit, tests, args_given = sys.argv[1:9]
def lines(name):
    path = os.path.join(tmp, name)
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    for r in rows:  # a run that crashed before printing its JSON only has status and reason
        r.setdefault("framework", name.split(".")[0])
    return rows
loom, torch = lines("loom.jsonl"), lines("torch.jsonl")
commands = open(os.path.join(tmp, "commands.txt")).read().splitlines()
sanitize = [l for l in open(os.path.join(tmp, "sanitize.txt")).read().splitlines() if l]
summary = []
for h in (100, 64):
    for prec, tprec in (("fp32", "fp32"), ("fp16", "amp")):
        t = [r for r in torch if r.get("status") == "ok" and r["hidden"] == h and r["precision"] == tprec]
        l = [r for r in loom if r.get("status") == "ok" and r.get("hidden") == h
             and r.get("precision") == prec and r.get("input") == "static"]
        row = {"hidden": h, "precision": prec}
        if t:
            row["torch_median_ms"] = round(t[0]["median_ms"], 3)
        if l:
            best = min(l, key=lambda r: r["median_ms"])
            row["loom_best_median_ms"] = round(best["median_ms"], 3)
            row["loom_best"] = best["lstm"] + (" graphed" if best["graph"] else "")
            for r in sorted(l, key=lambda r: r["median_ms"]):
                row[f"loom_{r['lstm']}{'_graph' if r['graph'] else ''}_ms"] = round(r["median_ms"], 3)
        if t and l:
            row["speedup_vs_torch"] = round(t[0]["median_ms"] / best["median_ms"], 2)
        summary.append(row)
result = {"device": gpu, "driver": driver, "date": when, "commit": commit,
          "command": ("tests/bench/run_gpu_bench.sh " + args_given).strip(),
          "ctest_cuda": tests, "compute_sanitizer": sanitize or "not run",
          "summary": summary, "loom": loom, "torch": torch, "commands": commands}
json.dump(result, open(out, "w"), indent=1)
print(f"\n{'H':>4} {'prec':>5} {'torch ms':>9} {'loom best ms':>13} {'speed-up':>9}  best loom")
for r in summary:
    print(f"{r['hidden']:>4} {r['precision']:>5} {r.get('torch_median_ms', float('nan')):>9.3f} "
          f"{r.get('loom_best_median_ms', float('nan')):>13.3f} {r.get('speedup_vs_torch', float('nan')):>9.2f}  "
          f"{r.get('loom_best', '-')}")
skipped = [r for r in loom + torch if r.get("status") != "ok"]
for r in skipped:
    print(f"{r.get('status')}: {r.get('framework', '?')} {r.get('lstm', '')} H={r.get('hidden', '?')} "
          f"{r.get('precision', '')}{' graphed' if r.get('graph') else ''} "
          f"input {r.get('input', 'static')}: {r.get('reason', '')[:200]}")
print(f"ctest -L cuda: {tests}")
for s in sanitize:
    print("compute-sanitizer:", s)
print("wrote", out)
PY
