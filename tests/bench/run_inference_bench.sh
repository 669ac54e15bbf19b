#!/usr/bin/env bash
# tests/bench/run_inference_bench.sh: loom's inference path against PyTorch 1.13 on the same
# weights, side by side in one run, and the goals of docs/results/inference-cpu.md.
#
# Usage: tests/bench/run_inference_bench.sh --checkpoint CKPT [BUILD_DIR] [--rounds R]
#          [--queries N] [--min-seconds S] [--samples N] [--out-dir DIR]
#   CKPT: a float32 checkpoint of `imdb train` (the study's model). BUILD_DIR holds apps/imdb/imdb
#   (default: build). Defaults follow MLPerf (1024 queries and 60 s per single-stream run) and
#   take about half an hour; --min-seconds 5 --rounds 3 gives a rough answer in a few minutes.
# Per round, alternating: loom fp32, PyTorch fp32 and quantize_dynamic int8, loom int8, each
# single-stream on 1 thread; then offline at batch 1000 on 2 threads (loom fp32, int8, PyTorch
# fp32); then loom's server search (fp32, 1 thread); then validation accuracy of both loom models.
# Medians over rounds; the load average is recorded beside each run. Writes
# DIR/inference-cpu.json and DIR/inference-cpu.md (default DIR: docs/results). Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build ckpt="" rounds=3 queries=1024 min_seconds=60 samples=25000
out_dir=$root/docs/results
while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) ckpt=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --out-dir) out_dir=$2; shift 2 ;;
    *) build=$1; shift ;;
  esac
done
imdb=$build/apps/imdb/imdb
[[ -x "$imdb" ]] || { echo "run_inference_bench: no $imdb (build the imdb target)" >&2; exit 2; }
[[ -f "$ckpt" ]] || { echo "run_inference_bench: --checkpoint CKPT is required" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
torch_bench=$root/tests/reference/torch_inference_bench.py
loadavg() { cut -d' ' -f1 /proc/loadavg; }

"$imdb" quantize --checkpoint "$ckpt" --out "$tmp/int8.safetensors"
ss="--scenario single-stream --queries $queries --min-seconds $min_seconds --threads 1"
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds (load $(loadavg))"
  "$imdb" bench --checkpoint "$ckpt" $ss --json "$tmp/loom_fp32_ss_$r.json"
  /usr/bin/python3 "$torch_bench" "$ckpt" --threads 1 --int8 --scenarios single-stream \
    --queries "$queries" --min-seconds "$min_seconds" >"$tmp/torch_ss_$r.json"
  echo "$(loadavg)" >"$tmp/torch_ss_load_$r"
  "$imdb" bench --checkpoint "$tmp/int8.safetensors" $ss --json "$tmp/loom_int8_ss_$r.json"
done
off="--scenario offline --samples $samples --batch 1000 --threads 2"
"$imdb" bench --checkpoint "$ckpt" $off --json "$tmp/loom_fp32_off.json"
/usr/bin/python3 "$torch_bench" "$ckpt" --threads 2 --scenarios offline \
  --offline-samples "$samples" >"$tmp/torch_off.json"
echo "$(loadavg)" >"$tmp/torch_off_load"
"$imdb" bench --checkpoint "$tmp/int8.safetensors" $off --json "$tmp/loom_int8_off.json"
"$imdb" bench --checkpoint "$ckpt" --scenario server --queries "$queries" --threads 1 \
  --latency-bound 10 --search-steps 6 --json "$tmp/loom_fp32_server.json"
"$imdb" eval --checkpoint "$ckpt" --threads 2 --json "$tmp/acc_fp32.json" >/dev/null
"$imdb" eval --checkpoint "$tmp/int8.safetensors" --threads 2 --json "$tmp/acc_int8.json" >/dev/null

/usr/bin/python3 - "$tmp" "$rounds" "$out_dir" "$ckpt" "$queries" "$min_seconds" <<'PY'
import json, os, statistics, subprocess, sys, time
tmp, rounds, out_dir, ckpt, queries, min_seconds = sys.argv[1:7]
rounds = int(rounds)
J = lambda name: json.load(open(os.path.join(tmp, name)))
med = statistics.median
loom32 = [J(f"loom_fp32_ss_{r}.json") for r in range(1, rounds + 1)]
loom8 = [J(f"loom_int8_ss_{r}.json") for r in range(1, rounds + 1)]
torch = [J(f"torch_ss_{r}.json") for r in range(1, rounds + 1)]
p90 = {
    "loom_fp32": med(x["latency"]["p90_ms"] for x in loom32),
    "loom_int8": med(x["latency"]["p90_ms"] for x in loom8),
    "torch_fp32": med(x["fp32_single_stream"]["p90_ms"] for x in torch),
    "torch_int8": med(x["int8_single_stream"]["p90_ms"] for x in torch),
}
off = {"loom_fp32": J("loom_fp32_off.json")["value"], "loom_int8": J("loom_int8_off.json")["value"],
       "torch_fp32": J("torch_off.json")["fp32_offline"]["samples_per_s"]}
acc = {"fp32": J("acc_fp32.json")["accuracy"], "int8": J("acc_int8.json")["accuracy"]}
server = J("loom_fp32_server.json")
ratios = {"loom_fp32_over_torch_fp32_p90": p90["loom_fp32"] / p90["torch_fp32"],
          "loom_int8_over_loom_fp32_p90": p90["loom_int8"] / p90["loom_fp32"],
          "loom_offline_over_torch_offline": off["loom_fp32"] / off["torch_fp32"],
          "int8_accuracy_drop_points": 100 * (acc["fp32"] - acc["int8"])}
goals = {"fp32 p90 <= 0.15x torch fp32": ratios["loom_fp32_over_torch_fp32_p90"] <= 0.15,
         "int8 p90 <= 0.6x loom fp32": ratios["loom_int8_over_loom_fp32_p90"] <= 0.6,
         "int8 accuracy within 0.3 point": abs(ratios["int8_accuracy_drop_points"]) <= 0.3,
         "offline >= 4x torch fp32": ratios["loom_offline_over_torch_offline"] >= 4}
loads = {"single_stream_rounds": [[x["load_average_1min"] for x in loom32],
                                  [x["load_average_1min"] for x in loom8],
                                  [float(open(os.path.join(tmp, f"torch_ss_load_{r}")).read())
                                   for r in range(1, rounds + 1)]],
         "offline": [J("loom_fp32_off.json")["load_average_1min"],
                     J("loom_int8_off.json")["load_average_1min"],
                     float(open(os.path.join(tmp, "torch_off_load")).read())]}
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": f"{model}, {os.cpu_count()} cores",
          "checkpoint": ckpt, "rounds": rounds, "queries": int(queries), "min_seconds": float(min_seconds),
          "torch": torch[0]["torch"], "p90_ms": p90, "offline_samples_per_s": off, "val_accuracy": acc,
          "server_fp32": {"max_rate_qps": server["value"], "latency_bound_ms": server["latency_bound_ms"]},
          "ratios": ratios, "goals_met": goals, "load_average_1min": loads,
          "runs": {"loom_fp32_ss": loom32, "loom_int8_ss": loom8, "torch_ss": torch}}
os.makedirs(out_dir, exist_ok=True)
json.dump(result, open(os.path.join(out_dir, "inference-cpu.json"), "w"), indent=2)
md = [f"# Inference on the CPU: loom against PyTorch {result['torch']} (written by tests/bench/run_inference_bench.sh)", "",
      f"{result['date']}, {result['machine']}; checkpoint `{ckpt}`; {rounds} rounds of single-stream "
      f"(>= {queries} queries and >= {min_seconds} s each, 1 thread), medians of the rounds' p90.", "",
      "| | loom fp32 | loom int8 | PyTorch fp32 | PyTorch int8 (quantize_dynamic) |", "|---|---|---|---|---|",
      f"| single-stream p90, ms | {p90['loom_fp32']:.3f} | {p90['loom_int8']:.3f} | {p90['torch_fp32']:.3f} | {p90['torch_int8']:.3f} |",
      f"| offline, reviews/s (batch 1000, 2 threads) | {off['loom_fp32']:.0f} | {off['loom_int8']:.0f} | {off['torch_fp32']:.0f} | |",
      f"| validation accuracy | {100*acc['fp32']:.2f}% | {100*acc['int8']:.2f}% | | |", "",
      f"Server (loom fp32, 1 thread): {server['value']:.0f} queries/s with p99 <= {server['latency_bound_ms']} ms.", "",
      "| goal | measured | met |", "|---|---|---|",
      f"| loom fp32 p90 <= 0.15x PyTorch fp32 | {ratios['loom_fp32_over_torch_fp32_p90']:.3f}x | {goals['fp32 p90 <= 0.15x torch fp32']} |",
      f"| loom int8 p90 <= 0.6x loom fp32 | {ratios['loom_int8_over_loom_fp32_p90']:.3f}x | {goals['int8 p90 <= 0.6x loom fp32']} |",
      f"| int8 accuracy within 0.3 point | {ratios['int8_accuracy_drop_points']:+.2f} points | {goals['int8 accuracy within 0.3 point']} |",
      f"| offline >= 4x PyTorch fp32 | {ratios['loom_offline_over_torch_offline']:.2f}x | {goals['offline >= 4x torch fp32']} |", "",
      f"Load average (1 min) during the runs: single-stream {loads['single_stream_rounds']}, offline {loads['offline']}.",
      "loom's times include cleaning and encoding the review text; PyTorch's are the forward alone.",
      "Both sides alternate within each round, so load hits them alike on average; a load average",
      "above the core count (2) stretches every time, PyTorch's many small ops more than loom's one",
      "loop, and puts scheduler delays of tens of ms into every p99 (then the server search finds",
      "no rate within its 10 ms bound). Rerun in a quiet window before quoting a ratio."]
open(os.path.join(out_dir, "inference-cpu.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
