#!/usr/bin/env bash
# tests/bench/run_airline_bench.sh: run `airline study` (the project's sequential and parallel
# versions alternating, then the forecaster over 5 seeds) and write docs/results/airline-cpu.json,
# airline-cpu.md and airline-cpu.png.
#
# Usage: tests/bench/run_airline_bench.sh [BUILD_DIR] [--repeats N] [--data CSV]
#   BUILD_DIR holds apps/airline/airline (default: build). The sequential/parallel speedup is the
# ratio of the medians of N alternating runs each (default 7). The load average is written beside
# the numbers: a speedup measured on a busy machine is not comparable with a quiet one. Runs with
# OMP_WAIT_POLICY=PASSIVE. Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build
repeats=7
data=$root/../shared/data/airline-passengers.csv
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) build=$1; shift ;;
  esac
done
bin=$build/apps/airline/airline
[[ -x "$bin" ]] || { echo "run_airline_bench: no $bin (build the airline target)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$root/docs/results
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
when=$(date -u +%FT%TZ)
load_before=$(cat /proc/loadavg)
start=$(date +%s.%N)
"$bin" study --data "$data" --out "$tmp" --repeats "$repeats" | tee "$tmp/stdout.txt"
seconds=$(echo "$(date +%s.%N) - $start" | bc)
load_after=$(cat /proc/loadavg)
echo "load average before: $load_before; after: $load_after; whole study ${seconds}s"
/usr/bin/python3 "$root/apps/airline/plot_forecast.py" "$data" "$tmp" "$results/airline-cpu.png"
/usr/bin/python3 - "$tmp" "$results" "$machine" "$when" "$load_before" "$load_after" \
  "$seconds" "$repeats" <<'PY'
import json, os, sys
tmp, results, machine, when, load_before, load_after, seconds, repeats = sys.argv[1:9]
j = json.load(open(os.path.join(tmp, "airline-study.json")))
j["run"] = {"machine": machine, "date": when, "load_before": load_before,
            "load_after": load_after, "study_seconds": float(seconds), "repeats": int(repeats)}
json.dump(j, open(os.path.join(results, "airline-cpu.json"), "w"), indent=2)
c, f = j["classifier"], j["forecast"]
o, a = f["rmse_one_step"], f["rmse_ahead"]
med = lambda v: sorted(v)[len(v) // 2]
lines = [
    "# airline: the project's study and the forecast (CPU)",
    "",
    f"Written by tests/bench/run_airline_bench.sh on {machine}, {when}; load average "
    f"{load_before.split()[0]} before, {load_after.split()[0]} after; the whole `airline study` "
    f"took {float(seconds):.1f} s. JSON: airline-cpu.json; plot: airline-cpu.png.",
    "",
    "## Sequential (composed RNN, 1 thread) vs parallel (fused RNN, "
    f"{c['parallel_threads']} threads), float64",
    "",
    "| epoch | train loss (both) | valid loss (both) |",
    "|---|---|---|",
]
lines += [f"| {r['epoch']} | {r['train']} | {r['valid']} |" for r in c["sequential"]]
lines += [
    "",
    f"Losses bit-identical: {c['losses_identical']}; final weights bit-identical: "
    f"{c['weights_identical']}. Median of {len(c['seconds_sequential'])} alternating runs: "
    f"sequential {med(c['seconds_sequential']):.3f} s, parallel {med(c['seconds_parallel']):.3f} s, "
    f"speedup {c['speedup_median']:.2f}x.",
    "",
    "## Forecast RMSE (thousands of passengers)",
    "",
    "| method | one step, months 96-143 | 12 months from month 132 |",
    "|---|---|---|",
    f"| persistence | {o['persistence']:.2f} | {a['persistence']:.2f} |",
    f"| seasonal naive | {o['seasonal_naive']:.2f} | {a['seasonal_naive']:.2f} |",
    f"| Holt-Winters additive | {o['holt_winters_additive']:.2f} | {a['holt_winters_additive']:.2f} |",
    f"| Holt-Winters multiplicative | {o['holt_winters_multiplicative']:.2f} | "
    f"{a['holt_winters_multiplicative']:.2f} |",
    "| SARIMA(0,1,1)(0,1,1)12 on log (quoted, not computed) | 14.0 | 18.6 |",
    f"| {f['config']['cell']}, {f['config'].get('members', 1)} nets averaged (mean +- sd, {f['config']['seeds']} seeds) | {o['model_mean']:.2f} +- "
    f"{o['model_sd']:.2f} | {a['model_mean']:.2f} +- {a['model_sd']:.2f} |",
    "",
    "Per seed, one step: " + ", ".join(f"{v:.2f}" for v in o["model_per_seed"]) +
    "; 12 months: " + ", ".join(f"{v:.2f}" for v in a["model_per_seed"]) + ".",
]
open(os.path.join(results, "airline-cpu.md"), "w").write("\n".join(lines) + "\n")
print(os.path.join(results, "airline-cpu.md"))
PY
