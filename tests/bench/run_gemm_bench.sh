#!/usr/bin/env bash
# tests/bench/run_gemm_bench.sh: the packed GEMM (fp32, bf16, int8) against Eigen, loom's Eigen
# backend and OpenBLAS sgemm, 1 and 2 threads, and the roofline (peak multiply-add rates, memory
# bandwidth), in one run of bench_gemm; prints the tables of docs/results/gemm-cpu.md.
#
# Usage: tests/bench/run_gemm_bench.sh [BUILD_DIR] [--write] [--repetitions N] [--filter REGEX]
#   BUILD_DIR holds tests/bench/bench_gemm (default: build).
#   --write   keeps the Google Benchmark JSON as docs/results/gemm-cpu.json and replaces the
#             measured section of docs/results/gemm-cpu.md (between its two marker lines).
#   --filter  passed to --benchmark_filter (a quick look at a few rows; do not --write with it).
# Every row is the median of N repetitions (default 5) over wall time. OMP_WAIT_POLICY=PASSIVE
# (spinning OpenMP/OpenBLAS threads fight over the cores otherwise). The load average is recorded
# before and after: numbers taken under load are not comparable with quiet ones. Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
write=0
reps=5
filter=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --write) write=1; shift ;;
    --repetitions) reps=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
build=${args[0]:-$root/build}
bench=$build/tests/bench/bench_gemm
[[ -x "$bench" ]] || { echo "run_gemm_bench: no $bench (build the bench_gemm target)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  commit="$commit (with uncommitted changes)"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run_gemm_bench: $machine, commit $commit, load average before: $load_before" >&2
"$bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.2 ${filter:+--benchmark_filter="$filter"} \
  --benchmark_out="$tmp/gemm.json" --benchmark_out_format=json >/dev/null 2>"$tmp/stderr" ||
  { cat "$tmp/stderr" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$tmp/gemm.json" "$machine" "$commit" "$load_before" "$load_after" "$reps" \
  "$write" "$root/docs/results" <<'PY'
import json, re, sys
src, machine, commit, load_before, load_after, reps, write, results = sys.argv[1:9]
data = json.load(open(src))
ctx = data["context"]
ctx.update({"loom_machine": machine, "loom_commit": commit, "loom_loadavg_before": load_before,
            "loom_loadavg_after": load_after,
            "loom_command": "tests/bench/run_gemm_bench.sh --write"})
rates = {}  # (name, "m x k x n" or "", threads) -> median GOP/s (GB/s for the triad)
for b in data["benchmarks"]:
    # With repetitions Google Benchmark reports aggregates; one repetition reports the run itself.
    if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
        continue
    parts = b["run_name"].split("/")   # gemm/loom_fp32/m:100/k:100/n:400/threads:1/level:-1/...
    fields = dict(p.split(":") for p in parts if ":" in p)
    shape = " x ".join(fields[d] for d in ("m", "k", "n")) if "m" in fields else ""
    rates[("/".join(parts[:2]), shape, int(fields["threads"]))] = b.get("GOP/s", b.get("GB/s")) / 1e9

def cell(v, digits=1):
    return f"{v:.{digits}f}" if v else "n/a"

def ratio(a, b):
    return cell(a / b, 2) if a and b else "n/a"

out = [f"Machine: {machine}. Commit {commit}, {ctx['date']}. Kernels: {ctx.get('loom_kernels')}.",
       f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. "
       f"Medians of {reps} repetitions. Command: `tests/bench/run_gemm_bench.sh --write`.", "",
       "### Roofline (GOP/s; the triad in GB/s)", "", "| | 1 thread | 2 threads |", "|---|---:|---:|"]
for name in ("peak/fma256", "peak/fma512", "peak/dpbf16", "peak/dpbusd", "kernel/fp32",
             "kernel/bf16", "kernel/int8", "stream/triad"):
    if (name, "", 1) in rates:
        out.append(f"| {name} | {cell(rates[(name, '', 1)])} | {cell(rates.get((name, '', 2)))} |")
steps = ["naive", "loom_fp32_reference", "loom_fp32_avx2", "loom_fp32"]
out += ["", "### The lab's staircase, 1 thread (GFLOP/s)", "",
        "| shape (m x k x n) | " + " | ".join(steps) + " |", "|---|" + "---:|" * len(steps)]
for s in ("100 x 100 x 400", "1024 x 1024 x 1024"):
    out.append(f"| {s} | " + " | ".join(cell(rates.get((f"gemm/{st}", s, 1))) for st in steps) + " |")
impls = ["loom_fp32", "loom_bf16", "loom_int8", "eigen", "loom_eigen", "openblas"]
out += ["", "### GEMM (GOP/s) and the ratios of the goals", "",
        "| shape (m x k x n) | threads | " + " | ".join(impls)
        + " | fp32 / eigen | bf16 / fp32 | int8 / fp32 |", "|---|---:|" + "---:|" * (len(impls) + 3)]
for s in ("100 x 100 x 400", "100 x 400 x 100", "10000 x 100 x 400", "1024 x 1024 x 1024"):
    for t in (1, 2):
        r = {i: rates.get((f"gemm/{i}", s, t)) for i in impls}
        out.append(f"| {s} | {t} | " + " | ".join(cell(r[i]) for i in impls)
                   + f" | {ratio(r['loom_fp32'], r['eigen'])} | {ratio(r['loom_bf16'], r['loom_fp32'])}"
                   + f" | {ratio(r['loom_int8'], r['loom_fp32'])} |")
text = "\n".join(out)
print(text)
if write == "1":
    json.dump(data, open(f"{results}/gemm-cpu.json", "w"), indent=1)
    page = open(f"{results}/gemm-cpu.md").read()
    begin, end = "<!-- run_gemm_bench: begin -->", "<!-- run_gemm_bench: end -->"
    if begin not in page or end not in page:
        sys.exit(f"run_gemm_bench: {results}/gemm-cpu.md lacks the lines {begin} and {end}")
    head, rest = page.split(begin, 1)
    page = head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1]
    open(f"{results}/gemm-cpu.md", "w").write(page)
    print(f"\nrun_gemm_bench: wrote {results}/gemm-cpu.json and {results}/gemm-cpu.md", file=sys.stderr)
PY
