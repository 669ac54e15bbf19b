#!/usr/bin/env python3
# tests/bench/make_synthetic_fasttext.py: writes a synthetic corpus shaped like the Amazon reviews
# polarity dataset (train.ft.txt.bz2 / test.ft.txt.bz2), for benchmarks. Never commit its output.
#
# Shape: one review a line, "__label__1 <title>: <text>" (negative) or "__label__2 ..." (positive),
# half of each, shuffled; review lengths log-normal around 80 words (5..250); words drawn from a
# Zipf law (exponent 1) over a vocabulary of made-up words; a planted signal: each review holds a
# few sentiment words, 80% of them from its own class's list, so a model can learn something.
# Compressed by the bzip2 program (one stream, as the real files are), or gzip, or not at all.
#
# Usage: make_synthetic_fasttext.py OUT_DIR [--train 3600000] [--test 400000] [--words 100000]
#                                   [--seed 1] [--compress bz2|gz|none]
import argparse
import os
import subprocess
import sys

import numpy as np


def make_words(rng, n):
    """n distinct made-up words; the most frequent (first) ones tend to be short, as in English."""
    cons, vow = list("bcdfghjklmnprstvwz"), list("aeiou")
    words, seen = [], set()
    while len(words) < n:
        syll = 1 + min(int(rng.exponential(0.4 + 2.0 * len(words) / n)), 4)
        w = "".join(rng.choice(cons) + rng.choice(vow) + (rng.choice(cons) if rng.random() < 0.3
                                                          else "") for _ in range(syll))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def write_split(path, rows, words, cdf, signal, rng, compress, chunk=20000):
    level = {"bz2": ["bzip2", "-9", "-c"], "gz": ["gzip", "-6", "-c"], "none": ["cat"]}[compress]
    with open(path, "wb") as out:
        proc = subprocess.Popen(level, stdin=subprocess.PIPE, stdout=out)
        vocab = np.array([w.encode() for w in words], dtype=object)
        pos, neg = signal
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            labels = rng.integers(0, 2, n)
            lengths = np.clip(rng.lognormal(np.log(70.0), 0.5, n), 5, 250).astype(np.int64)
            ids = np.searchsorted(cdf, rng.random(int(lengths.sum())))
            ends = np.cumsum(lengths)
            lines = []
            for i in range(n):
                toks = list(vocab[ids[ends[i] - lengths[i]:ends[i]]])
                own, other = (pos, neg) if labels[i] else (neg, pos)
                for _ in range(1 + int(rng.integers(0, 4))):
                    src = own if rng.random() < 0.8 else other
                    toks[int(rng.integers(0, len(toks)))] = src[int(rng.integers(0, len(src)))]
                title = min(len(toks) - 1, 2 + int(rng.integers(0, 4)))
                toks[0] = toks[0].capitalize()
                toks[title - 1] += b":"
                lines.append(b"__label__%d %s" % (labels[i] + 1, b" ".join(toks)))
            proc.stdin.write(b"\n".join(lines) + b"\n")
        proc.stdin.close()
        if proc.wait() != 0:
            sys.exit(f"make_synthetic_fasttext: {level[0]} failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--train", type=int, default=3600000)
    ap.add_argument("--test", type=int, default=400000)
    ap.add_argument("--words", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compress", choices=["bz2", "gz", "none"], default="bz2")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    words = make_words(rng, a.words)
    weights = 1.0 / (np.arange(a.words) + 2.7)  # Zipf-Mandelbrot, exponent 1
    cdf = np.cumsum(weights) / weights.sum()
    mid = rng.permutation(np.arange(100, 2100))  # sentiment words: mid-frequency ranks
    signal = ([words[i].encode() for i in mid[:200]], [words[i].encode() for i in mid[200:400]])
    os.makedirs(a.out_dir, exist_ok=True)
    ext = "" if a.compress == "none" else "." + a.compress
    for name, rows in (("train", a.train), ("test", a.test)):
        path = os.path.join(a.out_dir, f"{name}.ft.txt{ext}")
        write_split(path, rows, words, cdf, signal, rng, a.compress)
        print(f"{path}: {rows} reviews, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
