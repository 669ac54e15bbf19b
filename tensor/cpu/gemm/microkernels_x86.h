// tensor/cpu/gemm/microkernels_x86.h: the vector micro-kernels (AVX2, AVX-512) and their
// register blocks.
//
// Each keeps the contract of microkernel.h. They are compiled for their instruction set whatever
// the build's -march (function target attributes), so calling one on a CPU without it is an
// illegal instruction: only kernels.cpp calls them, after checking cpu_features().
// LOOM_GEMM_X86 is 1 where they exist (x86-64 with GCC or Clang).
#pragma once

#include <cstdint>

#include "tensor/cpu/gemm/microkernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_GEMM_X86 1
#else
#define LOOM_GEMM_X86 0
#endif

namespace loom::cpu::gemm {

// AVX2 + FMA: 16 registers of 8 floats. 6 x 16 keeps 12 accumulators, 2 B vectors and the
// broadcast A value in registers (15 of 16).
constexpr int kAvx2Mr = 6, kAvx2Nr = 16;
void fp32_kernel_avx2(int64_t k_groups, const float* a, const float* b, const CTile<float>& tile);

// AVX-512: 32 registers of 16 lanes. 10 x 32 keeps 20 accumulators, 2 B vectors and the
// broadcast A group in registers. 20 independent sums are more than the 8 the FMA units need in
// flight (2 per cycle, 4 cycles each), and 10 divides the LSTM's batches of 100 rows (12 would
// compute 108); more rows would spend registers without making the loop faster.
constexpr int kAvx512Mr = 10, kAvx512Nr = 32;
void fp32_kernel_avx512(int64_t k_groups, const float* a, const float* b, const CTile<float>& tile);
void bf16_kernel_avx512(int64_t k_groups, const uint16_t* a, const uint16_t* b,
                        const CTile<float>& tile);
void bf16_kernel_avx512_a_in_place(int64_t k_groups, const uint16_t* a, int64_t lda,
                                   const uint16_t* b, const CTile<float>& tile);
void u8s8_kernel_avx512(int64_t k_groups, const uint8_t* a, const int8_t* b,
                        const CTile<int32_t>& tile);
// pack_a<uint16_t, kAvx512Mr> (pack.h) with a vector loop for a transposed A (same panels).
void pack_a_bf16_avx512(const MatrixView<uint16_t>& a, int64_t first, int64_t count, int64_t k0,
                        int64_t depth, uint16_t* packed);

}  // namespace loom::cpu::gemm
