#!/usr/bin/env bash
# tests/bench/run_dp_epoch_bench.sh: one epoch of `imdb train` on a fastText corpus (.bz2) with 1
# and with 2 processes (one thread each), alternating, `--rounds` times: the epoch time each
# reports (training + validation, reading excluded), the median ratio, and the read time. Not run
# by ctest.
#
# Usage: tests/bench/run_dp_epoch_bench.sh CORPUS_DIR [BUILD_DIR] [--train-limit N]
#                                          [--rounds R] [--json OUT.json]
#   CORPUS_DIR holds train.ft.txt.bz2 and test.ft.txt.bz2 (tests/bench/make_synthetic_fasttext.py
#   writes them: `make_synthetic_fasttext.py /tmp/corpus --train 120000 --test 20000`).
# Each process runs one thread, so 2 processes need 2 free cores: run it on an idle machine (the
# load average is printed before and after).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=""; build="$root/build"; limit=50000; rounds=2; json_out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --train-limit) limit=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    *) if [[ -z "$corpus" ]]; then corpus=$1; else build=$1; fi; shift ;;
  esac
done
[[ -n "$corpus" ]] || { sed -n '7,9p' "$0" >&2; exit 2; }
for f in train.ft.txt.bz2 test.ft.txt.bz2; do
  [[ -f "$corpus/$f" ]] || { echo "run_dp_epoch_bench: no $corpus/$f" >&2; exit 2; }
done
imdb=$build/apps/imdb/imdb
[[ -x "$imdb" ]] || { echo "run_dp_epoch_bench: no $imdb (build the imdb target)" >&2; exit 2; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(train --data "$corpus/train.ft.txt.bz2" --test "$corpus/test.ft.txt.bz2"
      --train-limit "$limit" --val-limit 5000 --epochs 1 --threads 1 --lstm fused)
when=$(date -u +%FT%TZ)
load_before=$(cat /proc/loadavg)
echo "load average before: $load_before"
for r in $(seq 1 "$rounds"); do
  "$imdb" "${args[@]}" --out "$tmp/p1_$r" > "$tmp/p1_$r.log" 2>&1
  mpiexec -n 2 --oversubscribe --allow-run-as-root "$imdb" "${args[@]}" --out "$tmp/p2_$r" \
    > "$tmp/p2_$r.log" 2>&1
  echo "round $r done"
done
load_after=$(cat /proc/loadavg)
echo "load average after: $load_after"

python3 - "$tmp" "$rounds" "$json_out" "$when" "$load_before" "$load_after" "$limit" <<'PY'
import json, re, statistics, sys
tmp, rounds, out, when, lb, la, limit = sys.argv[1:8]
rounds = int(rounds)

def epoch(procs, r):
    with open(f"{tmp}/p{procs}_{r}/metrics.jsonl") as f:
        return json.loads(f.readline())

def read_line(procs, r):
    """The app's own report of reading the corpus (time and peak memory), as printed."""
    text = open(f"{tmp}/p{procs}_{r}.log").read()
    lines = [l for l in text.splitlines() if re.search(r"read|peak", l, re.I)]
    return lines[:3]

rows = {p: [epoch(p, r) for r in range(1, rounds + 1)] for p in (1, 2)}
med = lambda p, k: statistics.median(m[k] for m in rows[p])
ratio = statistics.median(a["epoch_time_s"] / b["epoch_time_s"] for a, b in zip(rows[1], rows[2]))
for p in (1, 2):
    print(f"{p} process{'es' if p > 1 else ''}: epoch {med(p, 'epoch_time_s'):.2f} s, "
          f"{med(p, 'samples_per_s'):.0f} samples/s, communication {med(p, 'comm_time_s'):.2f} s, "
          f"val acc {med(p, 'val_acc'):.4f}")
print(f"speedup per epoch (median of {rounds} paired rounds): {ratio:.2f}x")
for l in read_line(1, 1):
    print("1 process, reading:", l.strip())
if out:
    json.dump({"date": when, "loadavg_before": lb, "loadavg_after": la, "train_limit": int(limit),
               "command": "tests/bench/run_dp_epoch_bench.sh", "one_process": rows[1],
               "two_processes": rows[2], "speedup_per_epoch_median": ratio,
               "read_report_one_process": read_line(1, 1)}, open(out, "w"), indent=2)
    print(f"wrote {out}")
PY
