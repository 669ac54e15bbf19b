// tensor/cpu/gemm/bf16_bits.h: bfloat16 as a 16-bit pattern, and its conversions to and from
// float (round to nearest, ties to even).
//
// bfloat16 is the upper half of a float32: 1 sign bit, the same 8 exponent bits (so the same
// range, up to 3.4e38), and 7 of the 23 stored significand bits (unit roundoff 2^-8 ~ 3.9e-3).
// Widening is exact (append 16 zero bits); narrowing rounds the dropped 16 bits to nearest, ties
// to even, like VCVTNEPS2BF16, except that subnormals are kept (the instruction flushes them).
// Leaves out: a bfloat16 class with arithmetic (the GEMM needs only the bits).
#pragma once

#include <cstdint>
#include <cstring>

namespace loom::cpu::gemm {

inline float bf16_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  // NaN: keep the sign and the top payload bits, and set the quiet bit, so that rounding cannot
  // carry a NaN's payload into the exponent (which would make it an infinity).
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  // Round to nearest even: add 0x7fff, plus 1 when the kept part is odd, then truncate. A carry
  // out of the significand bumps the exponent, which is right (and gives inf past the largest).
  const uint32_t kept_lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + kept_lsb) >> 16);
}

// dst[i] = float_to_bf16(src[i]) for i in [0, n).
inline void floats_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = float_to_bf16(src[i]);
}

}  // namespace loom::cpu::gemm
