#!/usr/bin/python3
"""tests/reference/data_pipeline.py: loom's data pipeline in plain Python (standard library only).

The reference for data/: the same steps, the same order, the same ids, so tests/bench/
run_data_bench.sh can (1) time loom against it and (2) check that both produce identical
encodings of the 50,000 IMDB reviews.

  read     aclImdb .tar.gz via tarfile; {train,test}/{pos,neg}/<id>_<rating>.txt; bytes decoded
           as UTF-8 with errors="replace" (what data/utf8.h does); sorted by (split, label, id)
  clean    re.sub("<[^>]*>", " "), then ASCII-only: A-Z -> a-z, digits, punctuation, whitespace
           and control characters -> " " (non-ASCII kept); split on " "; stopwords dropped
           (data/stopwords_en.txt) when --stopwords
  vocab    counted on the official train rows in order; sorted by count, stable (ties keep first
           occurrence, as Keras' Tokenizer); the num_words - 1 most frequent get ids 1.. (0 = pad)
  encode   out-of-vocabulary words dropped; pad and truncate 'pre' to max_len (Keras defaults)

Also: `--permutation N SEED` prints splitmix64 + Fisher-Yates permutation(N, SEED) as data/split.h
defines it (the C++ tests hold the output as a golden value).

Output (--dump FILE): first line the vocabulary words in id order, then one line per review with
its max_len ids, space-separated. Timings go to stdout as one JSON line.
Usage: /usr/bin/python3 tests/reference/data_pipeline.py ARCHIVE [--num-words 500] [--max-len 100]
           [--stopwords] [--dump FILE]
"""
import argparse
import json
import os
import re
import tarfile
import time

MASK = (1 << 64) - 1
HERE = os.path.dirname(os.path.abspath(__file__))
STOPWORDS_FILE = os.path.join(HERE, "..", "..", "data", "stopwords_en.txt")
REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
TAG = re.compile(r"<[^>]*>")


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound


def permutation(n, seed):
    p = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n, 1, -1):
        j = rng.below(i)
        p[i - 1], p[j] = p[j], p[i - 1]
    return p


def read_aclimdb(path):
    rows = []
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            m = REVIEW.search(member.name)
            if not m:
                continue
            text = tar.extractfile(member).read().decode("utf-8", errors="replace")
            split, label, rid, rating = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
            rows.append((0 if split == "train" else 1, 1 if label == "pos" else 0, rid, text))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


def make_table():
    table = {}
    for c in range(128):
        ch = chr(c)
        if "A" <= ch <= "Z":
            table[c] = ch.lower()
        elif "a" <= ch <= "z":
            continue
        else:  # digits, punctuation, whitespace, control (NUL included), DEL
            table[c] = " "
    return str.maketrans(table)


def load_stopwords():
    with open(STOPWORDS_FILE, encoding="utf-8") as f:
        return {w.strip() for w in f if w.strip() and not w.startswith("#")}


def clean(text, table, stop):
    text = TAG.sub(" ", text).translate(table)
    return [t for t in text.split(" ") if t and t not in stop]


def fit_vocab(docs, num_words):
    counts = {}
    for doc in docs:
        for w in doc:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first occurrence wins ties
    return [w for w, _ in ranked[: num_words - 1]]


def encode(doc, index, max_len):
    ids = [index[w] for w in doc if w in index]
    ids = ids[-max_len:]
    return [0] * (max_len - len(ids)) + ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?")
    ap.add_argument("--num-words", type=int, default=500)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--stopwords", action="store_true")
    ap.add_argument("--dump")
    ap.add_argument("--permutation", nargs=2, type=int, metavar=("N", "SEED"))
    args = ap.parse_args()
    if args.permutation:
        print(" ".join(map(str, permutation(*args.permutation))))
        return
    if not args.archive:
        ap.error("ARCHIVE is required")

    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = read_aclimdb(args.archive)
    t1 = time.perf_counter()
    table, stop = make_table(), (load_stopwords() if args.stopwords else set())
    docs = [clean(r[3], table, stop) for r in rows]
    t2 = time.perf_counter()
    words = fit_vocab([d for d, r in zip(docs, rows) if r[0] == 0], args.num_words)
    index = {w: i + 1 for i, w in enumerate(words)}
    t3 = time.perf_counter()
    encoded = [encode(d, index, args.max_len) for d in docs]
    t4 = time.perf_counter()
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            f.write(" ".join(words) + "\n")
            for row in encoded:
                f.write(" ".join(map(str, row)) + "\n")
    print(json.dumps({"impl": "python", "reviews": len(rows), "read_s": t1 - t0,
                      "clean_tokenize_s": t2 - t1, "vocab_s": t3 - t2, "encode_s": t4 - t3,
                      "total_s": t4 - t0, "cpu_s": time.process_time() - cpu0}))


if __name__ == "__main__":
    main()
