#!/usr/bin/env bash
# tests/bench/run_pipeline_bench.sh: pipeline (model) parallelism on the IMDB model, side by side
# in one run: `imdb train` on 1 process vs 2 pipeline stages (2 processes) with 1, 2 and 4
# micro-batches, for the one-layer model (stage 1 = the head only) and the two-layer one (one
# LSTM layer per stage). Rounds alternate the layouts; medians per layout. Not run by ctest.
#
# Usage: tests/bench/run_pipeline_bench.sh [BUILD_DIR] [--data PATH] [--rounds N]
#          [--json OUT.json] [--md OUT.md]
#   BUILD_DIR holds apps/imdb/imdb (default: build). Data: --data, else $LOOM_IMDB_DATA, else
#   ../shared/data/aclImdb_v1_labeled.tar.gz beside the checkout.
# step ms = batch / (training samples per second of the epoch), the slowest rank's time. Each
# process runs one thread; 2 processes need 2 free cores, so on a loaded machine the numbers
# measure the load (the load average is written beside them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
json_out=""
md_out=""
rounds=3
data=${LOOM_IMDB_DATA:-$root/../shared/data/aclImdb_v1_labeled.tar.gz}
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json_out=$2; shift 2 ;;
    --md) md_out=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
build=${args[0]:-$root/build}
imdb=$build/apps/imdb/imdb
[[ -x "$imdb" ]] || { echo "run_pipeline_bench: no $imdb (build the imdb target)" >&2; exit 2; }
[[ -e "$data" ]] || { echo "run_pipeline_bench: no data at $data (give --data)" >&2; exit 2; }
command -v mpiexec >/dev/null || { echo "run_pipeline_bench: no mpiexec on PATH (openmpi-bin)" >&2; exit 2; }
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) cores"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The IMDB model at its real sizes (vocab 500, 100 tokens, embed 100, LSTM 100, batch 100),
# dropout off (the same work in every layout), 3000 training rows = 30 steps, one epoch.
common=(--data "$data" --train-limit 3000 --val-limit 200 --epochs 1 --threads 1 --lstm fused
        --spatial-dropout 0 --lstm-dropout 0 --recurrent-dropout 0)
# name | processes | extra flags
layouts=(
  "L1_plain|1|--lstm-layers 1"
  "L1_S2_M1|2|--lstm-layers 1 --pipeline-stages 2 --micro-batches 1"
  "L1_S2_M4|2|--lstm-layers 1 --pipeline-stages 2 --micro-batches 4"
  "L2_plain|1|--lstm-layers 2"
  "L2_S2_M1|2|--lstm-layers 2 --pipeline-stages 2 --micro-batches 1"
  "L2_S2_M2|2|--lstm-layers 2 --pipeline-stages 2 --micro-batches 2"
  "L2_S2_M4|2|--lstm-layers 2 --pipeline-stages 2 --micro-batches 4"
)

when=$(date -u +%FT%TZ)
echo "machine: $machine; date $when"
: > "$tmp/runs.txt"
for ((r = 1; r <= rounds; r++)); do
  for entry in "${layouts[@]}"; do
    IFS='|' read -r name procs extra <<< "$entry"
    out="$tmp/$name-$r"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # shellcheck disable=SC2086
    if [[ $procs == 1 ]]; then
      "$imdb" train "${common[@]}" $extra --out "$out" > "$out.log" 2>&1
    else
      mpiexec -n "$procs" --oversubscribe --allow-run-as-root "$imdb" train "${common[@]}" \
        $extra --out "$out" > "$out.log" 2>&1
    fi
    echo "$name $r $out/metrics.jsonl $load" >> "$tmp/runs.txt"
    echo "round $r $name done (load $load)"
  done
done

python3 - "$tmp/runs.txt" "$json_out" "$md_out" "$machine" "$when" "$rounds" <<'PY'
import json, statistics, sys
runs_txt, json_out, md_out, machine, when, rounds = sys.argv[1:7]
batch, T, H = 100, 100, 100
rows = {}
for line in open(runs_txt):
    name, r, path, *load = line.split()
    m = json.loads(open(path).read().splitlines()[-1])
    step_ms = 1000.0 * batch / m["samples_per_s"]
    rows.setdefault(name, []).append({"round": int(r), "step_ms": step_ms,
                                      "load_1_5_15": " ".join(load)})

def bubble(s, m):
    return (s - 1) / (m + s - 1)

def boundary_bytes(name, micro):
    # what crosses the stage boundary per micro-batch, forward (the gradient back is the same)
    rows_m = batch // micro
    return rows_m * H * 4 if name.startswith("L1") else rows_m * T * H * 4

out = {"machine": machine, "date": when, "rounds": int(rounds),
       "command": "tests/bench/run_pipeline_bench.sh", "model": "IMDB LSTM, vocab 500, 100 tokens, "
       "embed 100, hidden 100, batch 100, fused LSTM, 1 thread per process, dropout 0",
       "layouts": []}
base = {}
for name, rs in rows.items():
    med = statistics.median(r["step_ms"] for r in rs)
    if name.endswith("plain"):
        base[name[:2]] = med
for name, rs in rows.items():
    med = statistics.median(r["step_ms"] for r in rs)
    micro = int(name.split("_M")[1]) if "_M" in name else 0
    row = {"layout": name, "step_ms_median": round(med, 2),
           "step_ms_runs": [round(r["step_ms"], 2) for r in rs],
           "load_1_5_15": [r["load_1_5_15"] for r in rs],
           "vs_one_process": round(med / base[name[:2]], 3)}
    if micro:
        row["bubble_fraction"] = round(bubble(2, micro), 3)
        row["boundary_bytes_per_micro_batch"] = boundary_bytes(name, micro)
    out["layouts"].append(row)

print(f"{'layout':<10} {'step ms':>8} {'/ 1 proc':>9} {'bubble':>7} {'bytes/micro':>12}  runs")
for row in out["layouts"]:
    print(f"{row['layout']:<10} {row['step_ms_median']:>8.1f} {row['vs_one_process']:>9.2f} "
          f"{row.get('bubble_fraction', 0):>7.2f} {row.get('boundary_bytes_per_micro_batch', 0):>12}  "
          f"{row['step_ms_runs']}")
if json_out:
    json.dump(out, open(json_out, "w"), indent=2)
    print("wrote", json_out)
if md_out:
    with open(md_out, "w") as f:
        f.write("# Pipeline parallelism on the IMDB model (CPU)\n\n")
        f.write(f"`tests/bench/run_pipeline_bench.sh` on {machine}, {when}, {rounds} alternating "
                "rounds, medians. " + out["model"] + "; `imdb train --train-limit 3000 --epochs 1`, "
                "step time = batch / training samples per second (slowest rank). L1 = one LSTM "
                "layer (stage 0: embedding + LSTM, stage 1: the head), L2 = two layers (one per "
                "stage). S2 = 2 stages on 2 processes, M = micro-batches.\n\n")
        f.write("| layout | step ms (median) | step time / one process's (> 1: slower) | bubble (S-1)/(M+S-1) | bytes to the next stage per micro-batch | runs (ms) | load avg 1/5/15 per run |\n|---|---|---|---|---|---|---|\n")
        for row in out["layouts"]:
            f.write(f"| {row['layout']} | {row['step_ms_median']:.1f} | {row['vs_one_process']:.2f} | "
                    f"{row.get('bubble_fraction', '')} | {row.get('boundary_bytes_per_micro_batch', '')} | "
                    f"{', '.join(f'{x:.1f}' for x in row['step_ms_runs'])} | {'; '.join(row['load_1_5_15'])} |\n")
    print("wrote", md_out)
PY
