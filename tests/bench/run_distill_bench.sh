#!/usr/bin/env bash
# tests/bench/run_distill_bench.sh: distilled students against the same students trained alone;
# writes docs/results/distillation-cpu.{json,md}.
#
# Usage: tests/bench/run_distill_bench.sh [BUILD_DIR] [--teacher CKPT] [--students "32 64"]
#          [--epochs N] [--train-limit N] [--val-limit N] [--temperature T] [--alpha A]
#          [--threads T] [--test]
#   BUILD_DIR holds apps/imdb/imdb (default: build). Without --teacher, one is trained first:
#     imdb train --vocab 5000 --max-len 200 --lstm-size 128 --pooling max-mean --lstm fused
#                --epochs 3 --patience 1
#   (a stronger model than the baseline that trains in minutes on 2 cores; the strong preset's
#   model takes over an hour here).
# For every student size H: `imdb distill --lstm-size H --alpha A` and the same with --alpha 0
# (the labels alone, same loop, epochs, seed and rows). Each run also times an eval-mode pass over
# the validation rows for the teacher and the student, alternating (medians of 3). --test: then
# `imdb eval --on test` scores the teacher and every student once on aclImdb's official test half
# (for a teacher trained with --split official-val, e.g. the strong preset: the students inherit
# its split, so the held-out rows are training reviews and the test half was never seen). Not run
# by ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build
teacher=""
students="32 64"
epochs=3
limit=0
val_limit=0
temperature=2
alpha=0.5
threads=2
test=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --teacher) teacher=$2; shift 2 ;;
    --students) students=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --train-limit) limit=$2; shift 2 ;;
    --val-limit) val_limit=$2; shift 2 ;;
    --temperature) temperature=$2; shift 2 ;;
    --alpha) alpha=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --test) test=1; shift ;;
    *) build=$1; shift ;;
  esac
done
imdb=$build/apps/imdb/imdb
[[ -x "$imdb" ]] || { echo "run_distill_bench: no imdb at $imdb (build the imdb target)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$root/docs/results
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -z "$teacher" ]]; then
  "$imdb" train --vocab 5000 --max-len 200 --lstm-size 128 --pooling max-mean --lstm fused \
    --epochs 3 --patience 1 --threads "$threads" --out "$work/teacher"
  teacher=$work/teacher/best.safetensors
fi
for h in $students; do
  for a in "$alpha" 0; do
    "$imdb" distill --teacher "$teacher" --lstm-size "$h" --epochs "$epochs" \
      --train-limit "$limit" --val-limit "$val_limit" --temperature "$temperature" --alpha "$a" --threads "$threads" \
      --out "$work/student-$h-$a.safetensors" --json "$work/student-$h-$a.json" | tail -1
    echo "\"$(cut -d' ' -f1-3 /proc/loadavg)\"" > "$work/student-$h-$a.load"
  done
done

if [[ $test == 1 ]]; then
  "$imdb" eval --checkpoint "$teacher" --on test --threads "$threads" --json "$work/teacher.test" >/dev/null
  for f in "$work"/student-*.safetensors; do
    "$imdb" eval --checkpoint "$f" --on test --threads "$threads" --json "${f%.safetensors}.test" >/dev/null
  done
fi

/usr/bin/python3 - "$work" "$out" "$teacher" "$(git -C "$root" rev-parse --short HEAD)" <<'PY'
import glob, json, os, subprocess, sys, datetime
work, out, teacher, commit = sys.argv[1:5]
def test_accuracy(path):
    return json.load(open(path))["accuracy"] if os.path.exists(path) else None
teacher_test = test_accuracy(os.path.join(work, "teacher.test"))
runs = []
for f in sorted(glob.glob(os.path.join(work, "student-*.json"))):
    r = json.load(open(f))
    r["load_average"] = json.load(open(f[:-5] + ".load"))
    r["test_accuracy"] = test_accuracy(f[:-5] + ".test")
    r["teacher_test_accuracy"] = teacher_test
    runs.append(r)
runs.sort(key=lambda r: (r["student_lstm_size"], -r["alpha"]))
machine = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True, capture_output=True,
                         text=True).stdout.strip()
json.dump({"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
           "machine": machine, "cores": os.cpu_count(), "teacher": teacher, "runs": runs},
          open(os.path.join(out, "distillation-cpu.json"), "w"), indent=1)
def percent(x):
    return "%.2f%%" % (100 * x) if x is not None else "-"
lines = ["| student | alpha | T | epochs | val acc | teacher val acc | test acc | teacher test acc | forward teacher | forward student | speedup | load average |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in runs:
    lines.append("| LSTM %d, max_len %d | %g | %g | %d | %.2f%% | %.2f%% (LSTM %d) | %s | %s | %.3f s | %.3f s | %.2fx | %s |" % (
        r["student_lstm_size"], r["student_max_len"], r["alpha"], r["temperature"], r["epochs"],
        100 * r["val_accuracy"], 100 * r["teacher_val_accuracy"], r["teacher_lstm_size"],
        percent(r["test_accuracy"]), percent(r["teacher_test_accuracy"]),
        r["teacher_val_forward_seconds"], r["student_val_forward_seconds"],
        r["teacher_val_forward_seconds"] / r["student_val_forward_seconds"], r["load_average"]))
t = runs[0]
page = f"""# `imdb distill` on the CPU: distilled students against the same students trained alone

Written by `tests/bench/run_distill_bench.sh` on {datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")},
commit {commit}, {machine}, {os.cpu_count()} cores, {t["threads"]} threads (the machine was
shared: load averages in the table; the times are noisy, the ratios beside each other less so).

Teacher: `{teacher}`, LSTM {t["teacher_lstm_size"]}, validation accuracy
**{100 * t["teacher_val_accuracy"]:.2f}%** on the {t["val_rows"]} validation reviews below. Each
student is the teacher's configuration with a smaller `--lstm-size`, trained by `imdb distill`
for {t["epochs"]} epochs with the same seed, rows and loop; alpha 0 is the same student on the
labels alone. "forward": one eval-mode pass over the validation reviews, batch 100, teacher and
student timed alternately in the same process (medians of 3); speedup = teacher / student.
"test acc": `imdb eval --on test`, once per model, when the script ran with --test ("-" without).

""" + "\n".join(lines) + "\n"
open(os.path.join(out, "distillation-cpu.md"), "w").write(page)
print(page)
PY
