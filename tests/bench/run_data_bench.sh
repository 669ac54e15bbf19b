#!/usr/bin/env bash
# tests/bench/run_data_bench.sh: time loom's data pipeline against the Python reference, in the
# same run, on the real IMDB archive, and check both produce the same encoding.
#
# Usage: tests/bench/run_data_bench.sh [BUILD_DIR] [ARCHIVE] [--json OUT.json]
#   BUILD_DIR  holds tests/bench/bench_data (default: build); or set BENCH_DATA=/path/to/bench_data
#   ARCHIVE    default: $LOOM_IMDB_DATA (as for apps/imdb), else
#              ../shared/data/aclImdb_v1_labeled.tar.gz beside the repo
# loom runs with 1 and 2 threads (best of 3 each), Python once per repeat (best of 2); the ratio
# is Python's best total over loom's best total. Not run by ctest.
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
archive=${args[1]:-${LOOM_IMDB_DATA:-$root/../shared/data/aclImdb_v1_labeled.tar.gz}}
bench=${BENCH_DATA:-$build/tests/bench/bench_data}
python=/usr/bin/python3

[[ -x "$bench" ]] || { echo "run_data_bench: no bench_data at $bench (build the bench_data target)" >&2; exit 2; }
[[ -f "$archive" ]] || { echo "run_data_bench: no archive at $archive (pass it or set LOOM_IMDB_DATA)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "archive: $archive"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

"$bench" "$archive" --threads 1,2 --dump "$tmp/loom.txt" | tee "$tmp/loom.jsonl"
for _ in 1 2; do "$bench" "$archive" --threads 1,2 | tee -a "$tmp/loom.jsonl"; done
for _ in 1 2; do
  "$python" "$root/tests/reference/data_pipeline.py" "$archive" --stopwords --dump "$tmp/py.txt" \
    | tee -a "$tmp/py.jsonl"
done

if cmp -s "$tmp/loom.txt" "$tmp/py.txt"; then same=true; else same=false; fi

"$python" - "$tmp/loom.jsonl" "$tmp/py.jsonl" "$same" "$json_out" "$archive" <<'PY'
import json, subprocess, sys, datetime
loom_file, py_file, same, out, archive = sys.argv[1:6]
loom = [json.loads(l) for l in open(loom_file) if '"impl"' in l]
py = [json.loads(l) for l in open(py_file) if l.strip()]
best_py = min(r["total_s"] for r in py)
best_py_cpu = min(r["cpu_s"] for r in py)
machine = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True,
                         capture_output=True, text=True).stdout.strip()
result = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
          "machine": machine, "cores": __import__("os").cpu_count(),
          "load_average_after": open("/proc/loadavg").read().split()[:3],
          "archive": archive, "encodings_identical": same == "true",
          "python_best_total_s": best_py, "python_best_cpu_s": best_py_cpu, "loom": {}}
for t in sorted({r["threads"] for r in loom}):
    runs = [r for r in loom if r["threads"] == t]
    best = min(runs, key=lambda r: r["total_s"])
    best_cpu = min(r["cpu_s"] for r in runs)
    result["loom"][str(t)] = dict(best, speedup_vs_python=best_py / best["total_s"],
                                  best_cpu_s=best_cpu, cpu_ratio_vs_python=best_py_cpu / best_cpu)
    print(f"loom {t} thread(s): best {best['total_s']:.3f} s wall -> {best_py / best['total_s']:.1f}x "
          f"faster than Python ({best_py:.2f} s); CPU {best_cpu:.2f} s vs {best_py_cpu:.2f} s "
          f"-> {best_py_cpu / best_cpu:.1f}x less CPU")
print("encodings identical (vocabulary and every id of the 50,000 rows):", same)
if out:
    result["python_runs"] = py
    result["loom_runs"] = loom
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote", out)
PY
