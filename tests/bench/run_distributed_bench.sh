#!/usr/bin/env bash
# tests/bench/run_distributed_bench.sh: data-parallel IMDB training on 1 and 2 processes (one
# thread each, same global batch of 100), in the same run: samples/s, speedup, efficiency, and
# the time of the gradient all-reduce. Not run by ctest.
#
# Usage: tests/bench/run_distributed_bench.sh [BUILD_DIR] [--json OUT.json] [--procs "1 2"]
#   BUILD_DIR holds tests/bench/bench_distributed (default: build).
# speedup(N) = samples/s with N processes / samples/s with 1; efficiency = speedup / N.
# Each process runs one thread (OMP_NUM_THREADS=1), so N processes need N free cores: on a
# loaded machine the numbers say more about the load than about loom (the load average is
# printed before and after). allreduce_ms includes waiting for the slowest rank to arrive.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
json_out=""
procs="1 2"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json_out=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
build=${args[0]:-$root/build}
bench=$build/tests/bench/bench_distributed
[[ -x "$bench" ]] || { echo "run_distributed_bench: no $bench (build the bench_distributed target)" >&2; exit 2; }
command -v mpiexec >/dev/null || { echo "run_distributed_bench: no mpiexec on PATH (openmpi-bin)" >&2; exit 2; }
# nproc honours OMP_NUM_THREADS: ask it without.
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) cores"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
# Open MPI refuses root unless told (CI containers run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

when=$(date -u +%FT%TZ)
load_before=$(cat /proc/loadavg)
echo "machine: $machine; date $when"
echo "load average before: $load_before"
for n in $procs; do
  # The one-rank-only benchmarks (BM_LocalStep, BM_EmbeddingBackward) feed the scaling model;
  # with N ranks they would only measure the ranks competing for the cores.
  filter=.
  [[ $n -gt 1 ]] && filter='BM_DdpStep|BM_AllReduce'
  mpiexec -n "$n" --oversubscribe --allow-run-as-root "$bench" --benchmark_filter="$filter" \
    --benchmark_repetitions=3 --benchmark_format=json --benchmark_out="$tmp/w$n.json" \
    --benchmark_out_format=json >/dev/null
done
load_after=$(cat /proc/loadavg)
echo "load average after: $load_after"

python3 - "$tmp" "$json_out" "$machine" "$when" "$load_before" "$load_after" $procs <<'PY'
import json, os, statistics, sys
tmp, out, machine, when, load_before, load_after = sys.argv[1:7]
procs = [int(p) for p in sys.argv[7:]]

def runs(n):
    """name -> list of per-repetition runs (iteration rows only, not aggregates)."""
    rows = {}
    for b in json.load(open(os.path.join(tmp, f"w{n}.json")))["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        rows.setdefault(b["run_name"].split("/iterations")[0], []).append(b)
    return rows

med = lambda xs: statistics.median(xs)
data = {n: runs(n) for n in procs}
base = med([r["samples_per_s"] for r in data[procs[0]]["BM_DdpStep"]]) * procs[0]
steps, allreduce = [], []
print(f"{'procs':>5} {'step ms':>8} {'samples/s':>10} {'speedup':>8} {'efficiency':>10} {'allreduce ms':>13}")
for n in procs:
    step = data[n]["BM_DdpStep"]
    sps = med([r["samples_per_s"] for r in step])
    speedup = sps / base
    row = {"procs": n, "step_ms_median": round(med([r["real_time"] for r in step]), 2),
           "samples_per_s_median": round(sps, 1), "speedup": round(speedup, 3),
           "efficiency": round(speedup / n, 3),
           "allreduce_ms_median": round(med([r["allreduce_ms"] for r in step]), 3)}
    steps.append(row)
    print(f"{n:>5} {row['step_ms_median']:>8.1f} {sps:>10.1f} {speedup:>8.2f} {row['efficiency']:>10.2f} {row['allreduce_ms_median']:>13.3f}")
    names = [k for k in data[n] if k.startswith("BM_AllReduce/")]
    for name in sorted(names, key=lambda k: int(k.split("/")[1])):
        rs = data[n][name]
        floats = int(name.split("/")[1])
        allreduce.append({"procs": n, "floats": floats, "bytes": 4 * floats,
                          "time_us_median": round(med([r["real_time"] for r in rs]), 2),
                          "busbw_GBps_median": round(med([r["busbw"] for r in rs]) / 1e9, 3)})
print(f"{'procs':>5} {'floats':>9} {'MB':>6} {'all-reduce us':>14} {'busbw GB/s':>11}")
for a in allreduce:
    print(f"{a['procs']:>5} {a['floats']:>9} {a['bytes'] / 1e6:>6.2f} {a['time_us_median']:>14.1f} {a['busbw_GBps_median']:>11.3f}")
# One process: the step at B/N rows (compute only) and the embedding's backward.
one = data[1] if 1 in data else {}
by_rows = lambda prefix: sorted(
    ((int(k.split("/")[1]), med([r["real_time"] for r in v])) for k, v in one.items()
     if k.startswith(prefix + "/")), reverse=True)
local_steps = [{"rows": r, "step_ms_median": round(t, 3)} for r, t in by_rows("BM_LocalStep")]
emb_backward = [{"rows": r, "time_us_median": round(t, 2)}
                for r, t in by_rows("BM_EmbeddingBackward")]
for s in local_steps:
    print(f"one process, {s['rows']:>3} rows: step {s['step_ms_median']:.2f} ms (no all-reduce)")
for e in emb_backward:
    print(f"one process, {e['rows']:>3} rows: embedding backward {e['time_us_median']:.1f} us")
if out:
    json.dump({"machine": machine, "date": when, "loadavg_before": load_before,
               "loadavg_after": load_after, "command": "tests/bench/run_distributed_bench.sh",
               "model": "IMDB: Embedding(500,100) -> fused LSTM(100) -> Linear(100,1), Adam, "
                        "global batch 100, T 100, float32, 1 thread per process",
               "steps": steps, "allreduce": allreduce, "local_steps": local_steps,
               "embedding_backward": emb_backward}, open(out, "w"), indent=2)
    print(f"wrote {out}")
PY
