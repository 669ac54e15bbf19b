// tensor/cpu/gemm/microkernel_reference.h: the scalar micro-kernels, the contract of
// microkernel.h written out in plain C++ for every element type and any mr x nr.
//
// These are the specification: the vector kernels (microkernels_avx2.cpp,
// microkernels_avx512.cpp) must give exactly their bits on the same packed panels
// (tests/tensor/gemm_test.cpp), and a CPU without the instructions runs them.
// Leaves out: speed (the compiler may vectorise them; nothing here asks it to).
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/cpu/gemm/bf16_bits.h"
#include "tensor/cpu/gemm/microkernel.h"

namespace loom::cpu::gemm {

// Integer sums wrap modulo 2^32, as VPDPBUSD does (signed overflow would be undefined in C++).
inline int32_t wrapping_add(int32_t x, int32_t y) {
  return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
}
inline int32_t wrapping_mul(int32_t x, int32_t y) {
  return static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(y));
}

// t + (the dot product of one k group of a and b), in the order of microkernel.h.
inline float dot_group(float t, const float* a, const float* b) {
  return std::fma(*a, *b, t);
}
inline float dot_group(float t, const uint16_t* a, const uint16_t* b) {
  t = std::fma(bf16_to_float(a[1]), bf16_to_float(b[1]), t);
  return std::fma(bf16_to_float(a[0]), bf16_to_float(b[0]), t);
}
inline int32_t dot_group(int32_t t, const uint8_t* a, const int8_t* b) {
  int32_t quad = 0;  // at most 4 * 255 * 128 in magnitude: no overflow here
  for (int e = 0; e < 4; ++e)
    quad += static_cast<int32_t>(a[e]) * static_cast<int32_t>(b[e]);
  return wrapping_add(t, quad);
}

// The new value of one C element from its sum t (microkernel.h).
inline float update_element(float t, float alpha, float beta, const float* c) {
  return beta == 0.0f ? alpha * t : std::fma(alpha, t, beta * *c);
}
inline int32_t update_element(int32_t t, int32_t alpha, int32_t beta, const int32_t* c) {
  const int32_t scaled = wrapping_mul(alpha, t);
  return beta == 0 ? scaled : wrapping_add(scaled, wrapping_mul(beta, *c));
}

template <int MR, int NR, typename TA, typename TB, typename TC>
void reference_kernel(int64_t k_groups, const TA* a, const TB* b, const CTile<TC>& tile) {
  // BEGIN LAB 10 TASK 1 uses(k_groups, a, b, tile)
  constexpr int G = kGroup<TA>;
  static_assert(kGroup<TB> == G, "A and B pack the same number of k values per lane");
  TC t[MR][NR] = {};
  for (int64_t g = 0; g < k_groups; ++g) {
    const TA* a_g = a + g * MR * G;  // this group's values of the MR rows
    const TB* b_g = b + g * NR * G;  // and of the NR columns
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        t[i][j] = dot_group(t[i][j], a_g + i * G, b_g + j * G);
  }
  for (int i = 0; i < tile.rows; ++i)
    for (int j = 0; j < tile.cols; ++j) {
      TC* c = tile.c + i * tile.ldc + j;
      *c = update_element(t[i][j], tile.alpha, tile.beta, c);
    }
  // END LAB 10 TASK 1
}

}  // namespace loom::cpu::gemm
