// data/sampler.cpp: the four samplers (see sampler.h).
#include "data/sampler.h"

#include <numeric>

#include "data/split.h"
#include "tensor/error.h"

namespace loom::data {

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  LOOM_CHECK(n >= 0, "SequentialSampler: n must be >= 0, got ", n);
}

std::vector<int64_t> SequentialSampler::indices(int64_t) const {
  std::vector<int64_t> v(static_cast<size_t>(n_));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

RandomSampler::RandomSampler(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  LOOM_CHECK(n >= 0, "RandomSampler: n must be >= 0, got ", n);
}

std::vector<int64_t> RandomSampler::indices(int64_t epoch) const {
  return permutation(n_, mix_seed(seed_, static_cast<uint64_t>(epoch)));
}

SubsetSampler::SubsetSampler(std::vector<int64_t> rows, bool shuffle, uint64_t seed)
    : rows_(std::move(rows)), shuffle_(shuffle), seed_(seed) {}

std::vector<int64_t> SubsetSampler::indices(int64_t epoch) const {
  if (!shuffle_) return rows_;
  std::vector<int64_t> order = rows_;
  shuffle(order, mix_seed(seed_, static_cast<uint64_t>(epoch)));
  return order;
}

DistributedSampler::DistributedSampler(int64_t n, int rank, int world, bool shuffle, uint64_t seed)
    : n_(n), rank_(rank), world_(world), shuffle_(shuffle), seed_(seed) {
  LOOM_CHECK(world >= 1 && rank >= 0 && rank < world,
             "DistributedSampler: need 0 <= rank < world, got rank ", rank, " world ", world);
  LOOM_CHECK(n >= 1, "DistributedSampler: n must be >= 1, got ", n);
}

int64_t DistributedSampler::size() const {
  return (n_ + world_ - 1) / world_;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_) shuffle(order, mix_seed(seed_, static_cast<uint64_t>(epoch)));
  const int64_t per_rank = size();
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank; ++k) {
    // Position in the padded order; positions past n wrap around to the start.
    const int64_t pos = k * world_ + rank_;
    mine.push_back(order[static_cast<size_t>(pos % n_)]);
  }
  return mine;
}

}  // namespace loom::data
