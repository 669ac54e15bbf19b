// tensor/generator.h: an explicit, seedable source of random numbers.
//
// A Generator is a (seed, offset) pair. Each draw of n numbers uses Philox counters
// offset .. offset+n-1 and then advances offset by n, so a run is reproducible from the
// seed alone and does not depend on thread count or device (see tensor/philox.h).
#pragma once

#include <cstdint>

namespace loom {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves n counters and returns the first; what rand()/randn() call before filling.
  uint64_t advance(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  // One number on the host (for shuffles, dropout masks, ...); advances the offset by 1.
  double uniform();  // [0, 1)
  double normal();   // mean 0, std 1

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The process-wide generator used when a factory is given none (not thread-safe).
Generator& default_generator();
// Re-seeds the default generator (and resets its offset).
void manual_seed(uint64_t seed);

}  // namespace loom
