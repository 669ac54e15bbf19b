// data/split.h: seeded shuffles and train/validation splits that are the same on every platform.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined (libstdc++ and libc++
// give different orders for the same seed), so loom uses its own: the splitmix64 generator
// (Steele, Lea, Flood 2014) and a Fisher-Yates shuffle with rejection sampling for an unbiased
// draw in [0, bound). tests/reference/data_pipeline.py implements the same few lines in Python.
// Left out: stratified splits, k-fold.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/example.h"

namespace loom::data {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0: rejects the top sliver that would bias `% bound`.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // = 2^64 mod bound
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

 private:
  uint64_t state_;
};

// Fisher-Yates: for i = n-1 down to 1, swap v[i] with v[below(i + 1)].
void shuffle(std::vector<int64_t>& v, uint64_t seed);

// A shuffled 0..n-1.
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

// Mixes a seed with an epoch number (samplers use it so each epoch has its own order).
uint64_t mix_seed(uint64_t seed, uint64_t epoch);

struct SplitIndices {
  std::vector<int64_t> train;       // dataset rows
  std::vector<int64_t> validation;  // dataset rows (the official test set for official_split)
};

// p = permutation(n, seed); validation = the last round(n * validation_fraction) rows of p, train
// the rest, both in p's order. 0 < validation_fraction < 1; both parts must be non-empty.
SplitIndices random_split(int64_t n, double validation_fraction, uint64_t seed);

// aclImdb's own split: train = rows with Split::Train, validation = rows with Split::Test,
// in dataset order. Throws when either is empty (e.g. a CSV has no official split).
SplitIndices official_split(const std::vector<TextExample>& examples);
// The same from each row's split alone (a corpus read without keeping its TextExamples).
SplitIndices official_split(const std::vector<Split>& splits);

// Counts of each label value among `rows` (all rows when empty).
struct ClassBalance {
  std::vector<std::pair<float, int64_t>> counts;  // (label, count), label ascending
  int64_t total = 0;
  std::string to_string() const;  // e.g. "label 0: 12500 (50.0%), label 1: 12500 (50.0%)"
};
ClassBalance class_balance(const std::vector<float>& labels, const std::vector<int64_t>& rows = {});
ClassBalance class_balance(const std::vector<TextExample>& examples,
                           const std::vector<int64_t>& rows = {});

}  // namespace loom::data
