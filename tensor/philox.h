// tensor/philox.h: the Philox4x32-10 counter-based random number generator.
//
// Philox maps (key, counter) to four 32-bit random words with no state to carry between
// draws, so element i of a random fill can be computed independently by any thread, on the
// CPU or on the GPU, and both give the same numbers. loom's convention (both backends follow
// it): element i of a fill drawn at generator offset `off` uses counter = off + i (64-bit,
// in words 0 and 1) and key = seed; uniform uses word 0, normal uses words 0 and 1
// (Box-Muller, cosine branch). Header-only; every function is LOOM_HOST_DEVICE.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/kernels/host_device.h"

namespace loom {

struct Philox4x32 {
  uint32_t v[4];
};

LOOM_HOST_DEVICE inline uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 (Salmon et al., SC'11) with the published constants.
LOOM_HOST_DEVICE inline Philox4x32 philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// A uniform float in [0, 1) from the top 24 bits of a word.
LOOM_HOST_DEVICE inline float philox_uniform01(uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// A uniform double in [0, 1) from 53 bits of two words.
LOOM_HOST_DEVICE inline double philox_uniform01_double(uint32_t w0, uint32_t w1) {
  const uint64_t bits = (static_cast<uint64_t>(w0) << 21) ^ (w1 >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal from two words (Box-Muller); 1 - u keeps the log argument in (0, 1].
LOOM_HOST_DEVICE inline double philox_normal(uint32_t w0, uint32_t w1) {
  const double u1 = 1.0 - philox_uniform01_double(w0, 0u);
  const double u2 = philox_uniform01_double(w1, 0u);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace loom
