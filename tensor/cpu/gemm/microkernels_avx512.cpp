// tensor/cpu/gemm/microkernels_avx512.cpp: the AVX-512 micro-kernels: fp32 (VFMADD231PS),
// bf16 x bf16 -> fp32 (VDPBF16PS) and u8 x s8 -> s32 (VPDPBUSD), one loop shape for all three.
//
// Per k group: load one packed row of the B panel (32 lanes = 2 registers), then for each of the
// 10 rows broadcast A's group (1 float, 2 bfloat16 or 4 bytes: always 32 bits) to all 16 lanes
// and multiply-accumulate into that row's 2 accumulators. The kernels differ only in what one
// lane does per instruction: 1 multiply-add (FMA), 2 (VDPBF16PS), 4 (VPDPBUSD): bfloat16's 2x
// and VNNI's 4x per instruction. The 20 accumulators stay in registers for the whole k loop (the
// row loops are unrolled); C is touched once, through lane masks at the tile's edges, and a
// tile of at most 16 columns runs one register per row. Each function carries its instruction
// set as a target attribute: the file builds whatever the -march, and kernels.cpp calls a
// function only when the CPU has its instructions. The bf16 kernel also has an entry that reads
// A unpacked (run_a_in_place, microkernel.h) and a vector packer for a transposed A: the LSTM's
// per-step and weight-gradient products, where packing A took a large share of the time.
#include <immintrin.h>

#include <cstring>

#include "tensor/cpu/gemm/microkernels_x86.h"
#include "tensor/cpu/gemm/pack.h"

#if LOOM_GEMM_X86

#define LOOM_TARGET_AVX512F __attribute__((target("avx2,fma,avx512f")))
#define LOOM_TARGET_AVX512_BF16 __attribute__((target("avx2,fma,avx512f,avx512bf16")))
#define LOOM_TARGET_AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512vnni")))

namespace loom::cpu::gemm {
namespace {

constexpr int MR = kAvx512Mr;
static_assert(kAvx512Nr == 32, "a panel row is two 16-lane registers");

// The lanes of column register v (columns 16 v .. 16 v + 15) that fall inside the tile.
inline __mmask16 column_mask(int cols, int v) {
  const int n = cols - 16 * v;
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 32 bits of packed A (one k group of one row), copied to all 16 lanes.
LOOM_TARGET_AVX512F inline __m512i broadcast_group(const void* group) {
  int32_t bits;
  std::memcpy(&bits, group, sizeof bits);
  return _mm512_set1_epi32(bits);
}

// C = alpha t (beta == 0: C not read) or fma(alpha, t, beta C) on the tile's rows and columns,
// for the fp32 and bf16 kernels; NV registers (16 columns each) per row.
template <int NV>
LOOM_TARGET_AVX512F inline void store_tile(const __m512 (&t)[MR][NV], const CTile<float>& tile) {
  const __m512 alpha = _mm512_set1_ps(tile.alpha), beta = _mm512_set1_ps(tile.beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= tile.rows) break;
    for (int v = 0; v < NV; ++v) {
      float* row = tile.c + i * tile.ldc + 16 * v;
      const __mmask16 inside = column_mask(tile.cols, v);
      __m512 r = _mm512_mul_ps(alpha, t[i][v]);
      if (tile.beta != 0.0f) {
        const __m512 c = _mm512_maskz_loadu_ps(inside, row);
        r = _mm512_fmadd_ps(alpha, t[i][v], _mm512_mul_ps(beta, c));
      }
      _mm512_mask_storeu_ps(row, inside, r);
    }
  }
}

// The fp32 kernel on NV of the panel's two column registers (NV = 1: a tile of <= 16 columns
// does half the work).
template <int NV>
LOOM_TARGET_AVX512F void fp32_tile(int64_t k_groups, const float* a, const float* b,
                                   const CTile<float>& tile) {
  __m512 t[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v)
      t[i][v] = _mm512_setzero_ps();
  for (int64_t g = 0; g < k_groups; ++g, a += MR, b += 32) {
    __m512 b_row[NV];
    for (int v = 0; v < NV; ++v)
      b_row[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 a_i = _mm512_set1_ps(a[i]);
      for (int v = 0; v < NV; ++v)
        t[i][v] = _mm512_fmadd_ps(a_i, b_row[v], t[i][v]);
    }
  }
  store_tile<NV>(t, tile);
}

// VDPBF16PS t, a, b: per lane, t += a_odd * b_odd, then t += a_even * b_even (microkernel.h).
// A is a packed panel (lda == 0: group g of row i at a[2 (g MR + i)]) or, IN_PLACE, the matrix
// as stored (group g of row i at a[i lda + 2 g]): the same values in the same order either way.
template <int NV, bool IN_PLACE>
LOOM_TARGET_AVX512_BF16 void bf16_tile(int64_t k_groups, const uint16_t* a, int64_t lda,
                                       const uint16_t* b, const CTile<float>& tile) {
  __m512 t[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v)
      t[i][v] = _mm512_setzero_ps();
  for (int64_t g = 0; g < k_groups; ++g, a += IN_PLACE ? 2 : 2 * MR, b += 64) {
    __m512bh b_row[NV];  // 16 lanes of bfloat16 pairs each
    for (int v = 0; v < NV; ++v)
      b_row[v] = (__m512bh)_mm512_loadu_si512(b + 32 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512bh a_i = (__m512bh)broadcast_group(a + (IN_PLACE ? i * lda : 2 * i));
      for (int v = 0; v < NV; ++v)
        t[i][v] = _mm512_dpbf16_ps(t[i][v], a_i, b_row[v]);
    }
  }
  store_tile<NV>(t, tile);
}

// VPDPBUSD t, a, b: per lane, t += the 4 products of unsigned bytes of a and signed bytes of b,
// each product widened to 32 bits first (no intermediate saturation), the sum wrapping. ROWS
// (1 or MR) is how many of the panel's rows are computed: a GEMV-shaped product (one row of
// A: an LSTM step at batch 1) runs ROWS = 1 and skips the 9 zero rows of its panel. Each row's
// sum is the same either way, so the bits do not change.
template <int NV, int ROWS>
LOOM_TARGET_AVX512_VNNI void u8s8_tile(int64_t k_groups, const uint8_t* a, const int8_t* b,
                                       const CTile<int32_t>& tile) {
  __m512i t[ROWS][NV];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
    for (int v = 0; v < NV; ++v)
      t[i][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < k_groups; ++g, a += 4 * MR, b += 128) {
    __m512i b_row[NV];  // 16 lanes of signed byte quads each
    for (int v = 0; v < NV; ++v)
      b_row[v] = _mm512_loadu_si512(b + 64 * v);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      const __m512i a_i = broadcast_group(a + 4 * i);
      for (int v = 0; v < NV; ++v)
        t[i][v] = _mm512_dpbusd_epi32(t[i][v], a_i, b_row[v]);
    }
  }
  const __m512i alpha = _mm512_set1_epi32(tile.alpha), beta = _mm512_set1_epi32(tile.beta);
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i) {
    if (i >= tile.rows) break;
    for (int v = 0; v < NV; ++v) {
      int32_t* row = tile.c + i * tile.ldc + 16 * v;
      const __mmask16 inside = column_mask(tile.cols, v);
      __m512i r = _mm512_mullo_epi32(alpha, t[i][v]);  // wrapping, like the reference
      if (tile.beta != 0)
        r = _mm512_add_epi32(r, _mm512_mullo_epi32(beta, _mm512_maskz_loadu_epi32(inside, row)));
      _mm512_mask_storeu_epi32(row, inside, r);
    }
  }
}

}  // namespace

// op(A)(0 .. 9, kk) of a transposed A's panel (10 adjacent values), one value a 32-bit lane:
// a masked load of 5 lanes (20 bytes, nothing past them read), widened. (The maskz forms of
// the intrinsics here and below: GCC 12 warns of an uninitialised passthrough in the others.)
LOOM_TARGET_AVX512F inline __m512i load_panel_column(const uint16_t* values) {
  static_assert(MR == 10, "5 lanes of two bfloat16 values");
  const __m256i five = _mm256_setr_epi32(-1, -1, -1, -1, -1, 0, 0, 0);
  const __m256i raw = _mm256_maskload_epi32(reinterpret_cast<const int*>(values), five);
  return _mm512_maskz_cvtepu16_epi32((1u << MR) - 1, raw);
}

// pack_a<uint16_t, MR> (pack.h) with a vector loop for a whole panel of a transposed A, whose MR
// rows are adjacent in memory: each k pair becomes MR words from two loads, a shift and an or,
// where the portable loop assembles them a value at a time (2-2.6x slower, measured alone).
// This is the A of an LSTM's weight gradients (dA^T x, dA^T h), the step's largest packing.
LOOM_TARGET_AVX512F void pack_a_bf16_avx512(const MatrixView<uint16_t>& a, int64_t first,
                                            int64_t count, int64_t k0, int64_t depth,
                                            uint16_t* packed) {
  if (a.row_stride != 1 || count != MR) {
    pack_a<uint16_t, MR>(a, first, count, k0, depth, packed);
    return;
  }
  const MatrixView<uint16_t> panel{a.at(first, k0), a.row_stride, a.col_stride};
  const __mmask16 whole = (1u << MR) - 1;
  const int64_t pairs = depth / 2;
  for (int64_t g = 0; g < pairs; ++g) {
    const __m512i even = load_panel_column(panel.at(0, 2 * g));
    const __m512i odd = load_panel_column(panel.at(0, 2 * g + 1));
    const __m512i words = _mm512_or_si512(even, _mm512_maskz_slli_epi32(whole, odd, 16));
    _mm512_mask_storeu_epi32(packed + 2 * MR * g, whole, words);
  }
  detail::copy_groups_padded<uint16_t, MR>(panel, MR, depth, pairs, (depth + 1) / 2, packed);
}

void fp32_kernel_avx512(int64_t k_groups, const float* a, const float* b,
                        const CTile<float>& tile) {
  tile.cols <= 16 ? fp32_tile<1>(k_groups, a, b, tile) : fp32_tile<2>(k_groups, a, b, tile);
}

void bf16_kernel_avx512(int64_t k_groups, const uint16_t* a, const uint16_t* b,
                        const CTile<float>& tile) {
  tile.cols <= 16 ? bf16_tile<1, false>(k_groups, a, 0, b, tile)
                  : bf16_tile<2, false>(k_groups, a, 0, b, tile);
}

void bf16_kernel_avx512_a_in_place(int64_t k_groups, const uint16_t* a, int64_t lda,
                                   const uint16_t* b, const CTile<float>& tile) {
  tile.cols <= 16 ? bf16_tile<1, true>(k_groups, a, lda, b, tile)
                  : bf16_tile<2, true>(k_groups, a, lda, b, tile);
}

void u8s8_kernel_avx512(int64_t k_groups, const uint8_t* a, const int8_t* b,
                        const CTile<int32_t>& tile) {
  if (tile.rows == 1)
    tile.cols <= 16 ? u8s8_tile<1, 1>(k_groups, a, b, tile) : u8s8_tile<2, 1>(k_groups, a, b, tile);
  else
    tile.cols <= 16 ? u8s8_tile<1, MR>(k_groups, a, b, tile)
                    : u8s8_tile<2, MR>(k_groups, a, b, tile);
}

}  // namespace loom::cpu::gemm

#endif  // LOOM_GEMM_X86
