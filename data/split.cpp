// data/split.cpp: shuffles, splits and the class-balance report (see split.h).
#include "data/split.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>

#include "tensor/error.h"

namespace loom::data {

void shuffle(std::vector<int64_t>& v, uint64_t seed) {
  SplitMix64 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  LOOM_CHECK(n >= 0, "permutation: n must be >= 0, got ", n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  shuffle(p, seed);
  return p;
}

uint64_t mix_seed(uint64_t seed, uint64_t epoch) {
  SplitMix64 rng(seed ^ (epoch * 0xD1B54A32D192ED03ULL));
  return rng.next();
}

SplitIndices random_split(int64_t n, double validation_fraction, uint64_t seed) {
  LOOM_CHECK(validation_fraction > 0.0 && validation_fraction < 1.0,
             "random_split: validation_fraction must be in (0, 1), got ", validation_fraction);
  const auto n_val =
      static_cast<int64_t>(std::llround(static_cast<double>(n) * validation_fraction));
  LOOM_CHECK(n_val > 0 && n_val < n, "random_split: ", n, " rows with validation_fraction ",
             validation_fraction, " leave an empty part (need at least one row in each)");
  const std::vector<int64_t> p = permutation(n, seed);
  SplitIndices s;
  s.train.assign(p.begin(), p.end() - n_val);
  s.validation.assign(p.end() - n_val, p.end());
  return s;
}

SplitIndices official_split(const std::vector<TextExample>& examples) {
  std::vector<Split> splits;
  splits.reserve(examples.size());
  for (const auto& e : examples)
    splits.push_back(e.split);
  return official_split(splits);
}

SplitIndices official_split(const std::vector<Split>& splits) {
  SplitIndices s;
  for (size_t i = 0; i < splits.size(); ++i) {
    if (splits[i] == Split::Train) s.train.push_back(static_cast<int64_t>(i));
    if (splits[i] == Split::Test) s.validation.push_back(static_cast<int64_t>(i));
  }
  LOOM_CHECK(!s.train.empty() && !s.validation.empty(), "official_split: the data has ",
             s.train.size(), " train and ", s.validation.size(),
             " test rows; the official split needs both (aclImdb has them, CSV/fastText do not)");
  return s;
}

ClassBalance class_balance(const std::vector<float>& labels, const std::vector<int64_t>& rows) {
  std::map<float, int64_t> counts;
  const size_t n = rows.empty() ? labels.size() : rows.size();
  for (size_t k = 0; k < n; ++k) {
    const int64_t r = rows.empty() ? static_cast<int64_t>(k) : rows[k];
    LOOM_CHECK(r >= 0 && r < static_cast<int64_t>(labels.size()), "class_balance: row ", r,
               " out of range [0, ", labels.size(), ")");
    ++counts[labels[static_cast<size_t>(r)]];
  }
  ClassBalance b;
  b.counts.assign(counts.begin(), counts.end());
  b.total = static_cast<int64_t>(n);
  return b;
}

ClassBalance class_balance(const std::vector<TextExample>& examples,
                           const std::vector<int64_t>& rows) {
  std::vector<float> labels(examples.size());
  for (size_t i = 0; i < examples.size(); ++i)
    labels[i] = examples[i].label;
  return class_balance(labels, rows);
}

std::string ClassBalance::to_string() const {
  std::ostringstream out;
  for (size_t k = 0; k < counts.size(); ++k) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%",
                  total > 0 ? 100.0 * static_cast<double>(counts[k].second) / total : 0.0);
    out << (k ? ", " : "") << "label " << counts[k].first << ": " << counts[k].second << " (" << pct
        << ")";
  }
  if (counts.empty()) out << "no rows";
  return out.str();
}

}  // namespace loom::data
