// tests/docs/context/docs/labs/10-gemm.h: what the samples of docs/labs/10-gemm.md take from
// the code they were lifted from: the GEMM's headers (tensor/cpu/gemm/), the AVX-512 kernels'
// file-local names (microkernels_avx512.cpp) and the helpers of tests/tensor/gemm_test.cpp.
#pragma once

#include <immintrin.h>

#include <random>

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm/bf16_bits.h"
#include "tensor/cpu/gemm/gemm.h"
#include "tensor/cpu/gemm/microkernel_reference.h"
#include "tensor/cpu/gemm/microkernels_x86.h"
#include "tensor/cpu/gemm/pack.h"
#include "tensor/cpu/threads.h"

using namespace loom::cpu;
using namespace loom::cpu::gemm;

// tensor/cpu/gemm/microkernels_avx512.cpp
#define LOOM_TARGET_AVX512F __attribute__((target("avx2,fma,avx512f")))
#define LOOM_TARGET_AVX512_BF16 __attribute__((target("avx2,fma,avx512f,avx512bf16")))
constexpr int MR = kAvx512Mr;
LOOM_TARGET_AVX512F __m512i broadcast_group(const void* group);
template <int NV>
LOOM_TARGET_AVX512F void store_tile(const __m512 (&t)[MR][NV], const CTile<float>& tile);

// tests/tensor/gemm_test.cpp
template <typename T>
std::vector<T> random_values(int64_t n, std::mt19937& rng);
