#!/usr/bin/env bash
# tests/bench/run_lstm_bench.sh: time one IMDB training step in loom (composed, fused, fused under
# bf16 autocast) and in PyTorch CPU (fp32, torch.autocast bf16), in the same run, with 1 and 2
# threads, and print the ratios.
#
# Usage: tests/bench/run_lstm_bench.sh [BUILD_DIR] [--json OUT.json]
#   BUILD_DIR holds tests/bench/bench_lstm_step (default: build).
# Both sides run with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP/OpenBLAS threads fight over the
# cores otherwise); the PyTorch script pins OPENBLAS_NUM_THREADS to --threads and prints the BLAS
# it loaded (it must be OpenBLAS, not the reference BLAS). loom reports the median of 5
# repetitions, PyTorch the median of its timed steps. The load average is printed before and
# after: numbers taken under load are not comparable with quiet ones. Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
json_out=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json_out=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
build=${args[0]:-$root/build}
bench=$build/tests/bench/bench_lstm_step
[[ -x "$bench" ]] || { echo "run_lstm_bench: no $bench (build the bench_lstm_step target)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
when=$(date -u +%FT%TZ)
load_before=$(cat /proc/loadavg)
echo "machine: $machine; date $when"
echo "load average before: $load_before"
"$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json --benchmark_out="$tmp/loom.json" --benchmark_out_format=json >/dev/null
for t in 1 2; do
  /usr/bin/python3 "$root/tests/reference/torch_step_bench.py" --threads "$t" >"$tmp/torch$t.json"
  /usr/bin/python3 "$root/tests/reference/torch_step_bench.py" --threads "$t" --autocast bf16 \
    >"$tmp/torch_bf16_$t.json"
done
load_after=$(cat /proc/loadavg)
echo "load average after: $load_after"

/usr/bin/python3 - "$tmp" "$json_out" "$machine" "$when" "$load_before" "$load_after" <<'PY'
import json, sys, os
tmp, out, machine, when, load_before, load_after = sys.argv[1:7]
loom = {}
for b in json.load(open(os.path.join(tmp, "loom.json")))["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    # name: BM_ImdbStep/fused:1/threads:2/min_time:1.000/real_time_median
    parts = dict(p.split(":") for p in b["run_name"].split("/")[1:] if ":" in p)
    loom[(int(parts["fused"]), int(parts["threads"]))] = b["real_time"]
torch = {t: json.load(open(os.path.join(tmp, f"torch{t}.json"))) for t in (1, 2)}
torch_bf16 = {t: json.load(open(os.path.join(tmp, f"torch_bf16_{t}.json"))) for t in (1, 2)}
print(f"torch {torch[1]['torch']}, BLAS loaded: {', '.join(torch[1]['blas_loaded'])}")
print(f"{'threads':>7} {'torch ms':>9} {'loom fused':>11} {'loom composed':>14} {'fused/torch':>12} {'composed/torch':>15}")
rows = []
for t in (1, 2):
    tm, f, c = torch[t]["median_ms"], loom[(1, t)], loom[(0, t)]
    print(f"{t:>7} {tm:>9.1f} {f:>11.1f} {c:>14.1f} {f / tm:>12.2f} {c / tm:>15.2f}")
    rows.append({"threads": t, "torch_median_ms": tm, "torch_min_ms": torch[t]["min_ms"],
                 "loom_fused_median_ms": round(f, 2), "loom_composed_median_ms": round(c, 2),
                 "fused_over_torch": round(f / tm, 3), "composed_over_torch": round(c / tm, 3)})
# bfloat16: loom's fused step under bf16 autocast (impl 2) and torch.autocast("cpu", bfloat16).
print(f"{'threads':>7} {'torch bf16':>11} {'loom bf16':>10} {'bf16/fused':>11} {'bf16/torch fp32':>16}")
for row in rows:
    t = row["threads"]
    tb, b = torch_bf16[t]["median_ms"], loom[(2, t)]
    print(f"{t:>7} {tb:>11.1f} {b:>10.1f} {b / row['loom_fused_median_ms']:>11.2f} "
          f"{b / row['torch_median_ms']:>16.2f}")
    row.update({"torch_autocast_bf16_median_ms": tb, "loom_bf16_median_ms": round(b, 2),
                "loom_bf16_over_fused": round(b / row["loom_fused_median_ms"], 3),
                "loom_bf16_over_torch_fp32": round(b / row["torch_median_ms"], 3)})
if out:
    json.dump({"machine": machine, "date": when, "loadavg_before": load_before,
               "loadavg_after": load_after, "command": "tests/bench/run_lstm_bench.sh",
               "rows": rows, "torch": torch, "torch_bf16": torch_bf16}, open(out, "w"), indent=2)
PY
