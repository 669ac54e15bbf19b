// tensor/cpu/gemm/microkernels_avx2.cpp: the AVX2 + FMA fp32 micro-kernel (6 x 16).
//
// The AVX-512 fp32 kernel at half the width: per k, load one packed row of B (16 floats = 2
// registers), broadcast each of the 6 A values, 12 fused multiply-adds into 12 accumulators;
// C through lane masks at the tile's edges. Compiled for AVX2 + FMA by a target attribute,
// whatever the -march; kernels.cpp calls it only when the CPU has both. Leaves out: bfloat16 and
// int8 (AVX2 has no dot-product instruction for them; AVX-VNNI, the 256-bit VPDPBUSD, is an
// exercise of the lab).
#include <immintrin.h>

#include "tensor/cpu/gemm/microkernels_x86.h"

#if LOOM_GEMM_X86

#define LOOM_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace loom::cpu::gemm {
namespace {

constexpr int MR = kAvx2Mr;
static_assert(kAvx2Nr == 16, "a panel row is two 8-lane registers");

// All ones in the lanes of column register v (columns 8 v .. 8 v + 7) inside the tile.
LOOM_TARGET_AVX2 inline __m256i column_mask(int cols, int v) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8 * v), lane);
}

template <int NV>
LOOM_TARGET_AVX2 void fp32_tile(int64_t k_groups, const float* a, const float* b,
                                const CTile<float>& tile) {
  __m256 t[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v)
      t[i][v] = _mm256_setzero_ps();
  for (int64_t g = 0; g < k_groups; ++g, a += MR, b += 16) {
    __m256 b_row[NV];
    for (int v = 0; v < NV; ++v)
      b_row[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 a_i = _mm256_broadcast_ss(a + i);
      for (int v = 0; v < NV; ++v)
        t[i][v] = _mm256_fmadd_ps(a_i, b_row[v], t[i][v]);
    }
  }
  const __m256 alpha = _mm256_set1_ps(tile.alpha), beta = _mm256_set1_ps(tile.beta);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (i >= tile.rows) break;
    for (int v = 0; v < NV; ++v) {
      float* row = tile.c + i * tile.ldc + 8 * v;
      const __m256i inside = column_mask(tile.cols, v);
      __m256 r = _mm256_mul_ps(alpha, t[i][v]);
      if (tile.beta != 0.0f)
        r = _mm256_fmadd_ps(alpha, t[i][v], _mm256_mul_ps(beta, _mm256_maskload_ps(row, inside)));
      _mm256_maskstore_ps(row, inside, r);
    }
  }
}

}  // namespace

void fp32_kernel_avx2(int64_t k_groups, const float* a, const float* b, const CTile<float>& tile) {
  tile.cols <= 8 ? fp32_tile<1>(k_groups, a, b, tile) : fp32_tile<2>(k_groups, a, b, tile);
}

}  // namespace loom::cpu::gemm

#endif  // LOOM_GEMM_X86
