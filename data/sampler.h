// data/sampler.h: which dataset rows an epoch visits, and in what order.
//
// A Sampler is a pure function of the epoch number: indices(epoch) returns the same list for the
// same (sampler, epoch), so a resumed run replays exactly, and several threads may call it.
//   SequentialSampler   0, 1, ..., n-1 every epoch
//   RandomSampler       a permutation seeded by mix_seed(seed, epoch) (split.h: same on every
//                       platform)
//   DistributedSampler  rank r of w takes every w-th row of the (optionally shuffled) epoch
//                       order, the order padded by wrapping around to a multiple of w so every rank
//                       runs the same number of batches (PyTorch's DistributedSampler does the
//                       same)
// Left out: weighted sampling, bucketing by length.
#pragma once

#include <cstdint>
#include <vector>

namespace loom::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The dataset rows of epoch `epoch`, in visiting order.
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;
  // indices(e).size() for every e.
  virtual int64_t size() const = 0;
};

class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

class RandomSampler : public Sampler {
 public:
  RandomSampler(int64_t n, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
  uint64_t seed_;
};

// A sampler over a subset: rows[k] for k in the inner order (e.g. a split's train rows).
class SubsetSampler : public Sampler {
 public:
  SubsetSampler(std::vector<int64_t> rows, bool shuffle, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }

 private:
  std::vector<int64_t> rows_;
  bool shuffle_;
  uint64_t seed_;
};

class DistributedSampler : public Sampler {
 public:
  // 0 <= rank < world; shuffle with the same seed on every rank (the ranks must agree).
  DistributedSampler(int64_t n, int rank, int world, bool shuffle, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override;  // ceil(n / world)

 private:
  int64_t n_;
  int rank_, world_;
  bool shuffle_;
  uint64_t seed_;
};

}  // namespace loom::data
