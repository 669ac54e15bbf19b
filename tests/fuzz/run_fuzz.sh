#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh: build loom's libFuzzer targets with clang and run each for a while.
#
# Usage: tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#   targets: fuzz_csv fuzz_fasttext fuzz_tokenizer fuzz_tar fuzz_token_corpus fuzz_checkpoint
#   (default: all)
# Needs clang++ (Debian: clang-14) and its fuzzer runtime (Debian: libclang-rt-14-dev or
# libclang-common-14-dev, which ships libclang_rt.fuzzer), libarchive and libdeflate (fuzz_tar),
# python3 (the checkpoint seed). Run it under `nice` on a shared machine. Builds into $LOOM_FUZZ_DIR
# (default build-fuzz/ in the repo); corpora grow in build-fuzz/corpus/<target>/, crashing
# inputs land in build-fuzz/artifacts/. Not part of ctest: fuzzing runs for a set time.
# Exit status: non-zero if any target found a crash.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] ||
  targets=(fuzz_csv fuzz_fasttext fuzz_tokenizer fuzz_tar fuzz_token_corpus fuzz_checkpoint)
out=${LOOM_FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$out/artifacts"

# The stopword list is compiled in by CMake; do the same here.
{
  echo 'namespace loom::data::detail {'
  echo 'extern const char* const kEnglishStopwordsText;'
  printf 'const char* const kEnglishStopwordsText = R"loom('
  cat "$root/data/stopwords_en.txt"
  echo ')loom";'
  echo '}'
} > "$out/stopwords_en.cpp"

flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root")
common=("$root/data/utf8.cpp")
words="$root/data/token_corpus.cpp $root/data/big_buffer.cpp $root/data/text_pipeline.cpp"
words+=" $out/stopwords_en.cpp"
declare -A sources=(
  [fuzz_csv]="$root/data/csv.cpp"
  [fuzz_fasttext]="$root/data/fasttext.cpp"
  [fuzz_tokenizer]="$root/data/text_pipeline.cpp $out/stopwords_en.cpp"
  [fuzz_tar]="$root/data/tar_reader.cpp $root/data/imdb_reader.cpp $root/data/gunzip.cpp
              $root/data/big_buffer.cpp"
  [fuzz_token_corpus]="$words"
  [fuzz_checkpoint]="$root/apps/imdb/checkpoint_format.cpp $root/apps/imdb/config.cpp
                     $root/nn/safetensors.cpp $root/tensor/dtype.cpp $root/tensor/shape.cpp
                     $root/data/vocab.cpp $words"
)
declare -A libs=([fuzz_tar]="-larchive -ldeflate")
# A few seeds per target so the fuzzer starts from the interesting structure.
seed() { mkdir -p "$out/corpus/$1"; printf '%b' "$3" > "$out/corpus/$1/$2"; }
seed fuzz_csv header 'review,sentiment\n"a ""quoted"", text\nwith newline",positive\nplain,negative\r\n'
seed fuzz_csv series 'month,passengers\n1949-01,112\n1949-02,118.5\n'
seed fuzz_fasttext lines '__label__1 bad\n__label__2 good \xc3\xa9\n__label__3 x\nno label\n'
seed fuzz_token_corpus rows '\x1f<br />Hello, World!\nthe movie was caf\xc3\xa9 10/10\n\xe2\x82 don'"'"'t'
seed fuzz_tokenizer html '\x1f<br />Hello, World! 10/10 caf\xc3\xa9 \xe2\x82 don'"'"'t <unclosed'

# fuzz_tar starts from a real (tiny) aclImdb-shaped archive made by tar(1).
mkdir -p "$out/corpus/fuzz_tar" "$out/tar_seed/aclImdb/train/pos"
printf 'A fine film.<br />' > "$out/tar_seed/aclImdb/train/pos/0_9.txt"
tar -C "$out/tar_seed" -cf "$out/corpus/fuzz_tar/seed.tar" aclImdb
gzip -c "$out/corpus/fuzz_tar/seed.tar" > "$out/corpus/fuzz_tar/seed.tar.gz"  # in-memory path
gzip -c "$out/corpus/fuzz_tar/seed.tar" | cat - <(gzip -c < /dev/null) \
  > "$out/corpus/fuzz_tar/two-members.tgz"  # libarchive's streaming path

# fuzz_checkpoint starts from a tiny but complete checkpoint (one tensor, all four metadata
# strings), and from the same metadata as NUL-separated strings (the target's second reading).
mkdir -p "$out/corpus/fuzz_checkpoint"
python3 - "$out/corpus/fuzz_checkpoint" <<'PY'
import json, struct, sys
config = {"vocab": 4, "max_len": 3, "embed": 2, "lstm_size": 2, "seed": 42, "lr": 0.001}
vocab = {"num_words": 4, "oov": "drop", "words": ["good", "bad"], "counts": [3, 2]}
state = {"epoch": 1, "step_in_epoch": 0, "global_step": 8, "loss_sum": 0.0, "correct": 0.0,
         "seen": 0.0, "data_time": 0.1, "wait_time": 0.1, "train_time": 0.5,
         "best_val_loss": 0.69, "best_epoch": 1, "bad_epochs": 0, "finished": False,
         "rng_seed": "42", "rng_offset": "1024"}
meta = {"format": "loom-imdb-checkpoint/1", "config": json.dumps(config),
        "vocab": json.dumps(vocab), "train_state": json.dumps(state)}
header = json.dumps({"__metadata__": meta,
                     "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
header += b" " * (-len(header) % 8)
data = struct.pack("<Q", len(header)) + header + struct.pack("<2f", 0.5, -1.0)
open(sys.argv[1] + "/tiny.safetensors", "wb").write(data)
open(sys.argv[1] + "/metadata", "wb").write(
    b"\0".join(json.dumps(x).encode() for x in (config, vocab, state)))
PY

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t"
  [[ -n "${sources[$t]:-}" ]] || { echo "run_fuzz: unknown target $t" >&2; exit 2; }
  echo "== building $t"
  # shellcheck disable=SC2086
  "$cxx" "${flags[@]}" "$root/tests/fuzz/$t.cpp" "${common[@]}" ${sources[$t]} -o "$out/$t" \
    ${libs[$t]:-}
  echo "== running $t for ${seconds}s"
  if ! "$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 "$out/corpus/$t" \
      > "$out/$t.log" 2>&1; then
    echo "run_fuzz: $t FAILED; see $out/$t.log and $out/artifacts/" >&2
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$out/$t.log" || true
done
exit $status
