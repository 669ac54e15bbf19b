#!/usr/bin/env bash
# tests/bench/run_seq2cnn_bench.sh: the full-size Seq2CNN forward, loom against PyTorch 1.13 CPU
# (torch.nn.Conv1d) on the same weights and the same aclImdb test reviews, side by side in one run:
# batch-1 latency (p50, p90 over the reviews) and batched throughput, 1 thread each.
#
# Usage: tests/bench/run_seq2cnn_bench.sh [BUILD_DIR] [--reviews N] [--rounds R] [--data PATH]
#                                         [--weights CKPT] [--batch B] [--out-dir docs/results]
#   BUILD_DIR holds tests/bench/bench_seq2cnn (default: build; configure with
#   -DLOOM_BENCHMARKS=ON). N test reviews (default 40) sampled with a fixed seed; R rounds
#   (default 2), each timing loom (trimmed: the padding-window trick), PyTorch, loom plain (every
#   window) and loom int8 (int8 convolutions, trimmed) in turn, so that a change in load hits all
#   four; each review's time is its median over the rounds. The float logits must agree (max
#   |diff| is printed; int8's differs by its quantization error).
# Writes OUT_DIR/seq2cnn-bench-cpu.json and .md, with the load average before and after: numbers
# taken under load are not comparable with quiet ones. Not run by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
reviews=40 rounds=2 batch=32 data=${LOOM_IMDB_DATA:-$root/../shared/data/aclImdb_v1_labeled.tar.gz} weights="" \
  out_dir=$root/docs/results
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reviews) reviews=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --weights) weights=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --out-dir) out_dir=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
build=${args[0]:-$root/build}
bench=$build/tests/bench/bench_seq2cnn
[[ -x "$bench" ]] || { echo "run_seq2cnn_bench: no $bench (build the bench_seq2cnn target)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
when=$(date -u +%FT%TZ)
"$bench" prepare --data "$data" --reviews "$reviews" --out "$tmp" ${weights:+--weights "$weights"}
load_before=$(cat /proc/loadavg)
echo "machine: $machine; date $when; load average before: $load_before"
for r in $(seq 1 "$rounds"); do
  "$bench" time "$tmp" --mode trimmed --threads 1 --json "$tmp/loom_trimmed_$r.json"
  /usr/bin/python3 "$root/tests/reference/torch_seq2cnn_bench.py" "$tmp" --threads 1 >"$tmp/torch_$r.json"
  "$bench" time "$tmp" --mode plain --threads 1 --json "$tmp/loom_plain_$r.json"
  "$bench" time "$tmp" --mode int8 --threads 1 --json "$tmp/loom_int8_$r.json"
  echo "round $r done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
# Offline throughput: every review once, in batches of $batch.
"$bench" time "$tmp" --mode trimmed --threads 1 --batch "$batch" --json "$tmp/loom_batched.json"
"$bench" time "$tmp" --mode int8 --threads 1 --batch "$batch" --json "$tmp/loom_int8_batched.json"
/usr/bin/python3 "$root/tests/reference/torch_seq2cnn_bench.py" "$tmp" --threads 1 --batch "$batch" \
  >"$tmp/torch_batched.json"
load_after=$(cat /proc/loadavg)
echo "load average after: $load_after"

mkdir -p "$out_dir"
/usr/bin/python3 - "$tmp" "$rounds" "$out_dir" "$machine" "$when" "$load_before" "$load_after" <<'PY'
import json, os, statistics, sys
tmp, rounds, out_dir, machine, when, load_before, load_after = sys.argv[1:8]
rounds = int(rounds)
def load(name):
    return json.load(open(os.path.join(tmp, name)))
def per_review(prefix):
    runs = [load(f"{prefix}_{r}.json") for r in range(1, rounds + 1)]
    return [statistics.median(run["ms"][i] for run in runs) for i in range(len(runs[0]["ms"]))], runs[0]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
sides = {k: per_review(k) for k in ("loom_trimmed", "torch", "loom_plain", "loom_int8")}
ref = sides["torch"][1]["logits"]
diff = {k: max(abs(a - b) for a, b in zip(v[1]["logits"], ref)) for k, v in sides.items()}
rows = {k: {"p50_ms": round(pct(v[0], 50), 2), "p90_ms": round(pct(v[0], 90), 2),
            "mean_ms": round(statistics.mean(v[0]), 2), "max_abs_logit_diff_vs_torch": diff[k]}
        for k, v in sides.items()}
batched = {k: load(f"{k}_batched.json") for k in ("loom", "torch", "loom_int8")}
for k, b in batched.items():
    rows[f"{k}_batched"] = {"batch": b["batch"], "reviews_per_s": round(b["reviews"] / (sum(b["ms"]) / 1000), 2)}
t90 = rows["torch"]["p90_ms"]
summary = {"loom_trimmed_p90_over_torch_p90": round(rows["loom_trimmed"]["p90_ms"] / t90, 3),
           "loom_plain_p90_over_torch_p90": round(rows["loom_plain"]["p90_ms"] / t90, 3),
           "loom_int8_p90_over_torch_p90": round(rows["loom_int8"]["p90_ms"] / t90, 3),
           "loom_int8_batched_over_torch_batched_throughput":
               round(rows["loom_int8_batched"]["reviews_per_s"] / rows["torch_batched"]["reviews_per_s"], 3),
           "loom_batched_over_torch_batched_throughput":
               round(rows["loom_batched"]["reviews_per_s"] / rows["torch_batched"]["reviews_per_s"], 3)}
result = {"machine": machine, "date": when, "loadavg_before": load_before, "loadavg_after": load_after,
          "command": "tests/bench/run_seq2cnn_bench.sh", "reviews": len(sides["torch"][0]),
          "rounds": rounds, "threads": 1, "torch": sides["torch"][1]["torch"], "rows": rows,
          "summary": summary}
json.dump(result, open(os.path.join(out_dir, "seq2cnn-bench-cpu.json"), "w"), indent=2)
lines = [
    "# Seq2CNN full-size forward on the CPU: loom against PyTorch 1.13 (generated)",
    "",
    f"Written by `tests/bench/run_seq2cnn_bench.sh` on {when}; {machine}; 1 thread each;",
    f"{result['reviews']} aclImdb test reviews (seeded sample), {rounds} rounds alternating the four",
    f"forwards, each review's time its median over the rounds. torch {result['torch']}.",
    f"Load average before: {load_before}; after: {load_after} (numbers under load are not comparable",
    "with quiet ones).",
    "",
    "| forward | p50 ms | p90 ms | mean ms | max abs logit diff vs torch |",
    "|---|---|---|---|---|",
]
for k, name in (("torch", "PyTorch torch.nn.Conv1d, every window"),
                ("loom_plain", "loom, every window"),
                ("loom_trimmed", "loom, padding-window trick"),
                ("loom_int8", "loom int8 convolutions, padding-window trick")):
    r = rows[k]
    lines.append(f"| {name} | {r['p50_ms']} | {r['p90_ms']} | {r['mean_ms']} | {r['max_abs_logit_diff_vs_torch']:.2e} |")
lines += ["", f"Batch-1 p90, loom (trick) / PyTorch: **{summary['loom_trimmed_p90_over_torch_p90']}** "
          f"(goal <= 0.3); loom int8 (trick) / PyTorch: **{summary['loom_int8_p90_over_torch_p90']}**; "
          f"loom (every window) / PyTorch: {summary['loom_plain_p90_over_torch_p90']}.",
          f"Offline throughput (batches of {rows['loom_batched']['batch']}): loom {rows['loom_batched']['reviews_per_s']} "
          f"reviews/s, PyTorch {rows['torch_batched']['reviews_per_s']} reviews/s "
          f"({summary['loom_batched_over_torch_batched_throughput']}x); loom int8 "
          f"{rows['loom_int8_batched']['reviews_per_s']} reviews/s "
          f"({summary['loom_int8_batched_over_torch_batched_throughput']}x)."]
open(os.path.join(out_dir, "seq2cnn-bench-cpu.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
