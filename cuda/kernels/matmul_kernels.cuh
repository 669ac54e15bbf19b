// cuda/kernels/matmul_kernels.cuh: the one kernel of matmul.cu, scale_c_kernel (k == 0 is not a
// GEMM: C = beta * C, or 0). Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, so tests/cuda/matmul_kernels_emulation_test.cpp runs this body on the CPU
// against the CPU backend's matmul with k == 0.
//
// Leaves out: the launcher and the cuBLAS calls (matmul.cu; their arguments are gemm_mapping.h's).
#pragma once

#include <cstdint>

#include "cuda/kernels/kernel_types.h"
#include "cuda/kernels/launch.cuh"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // to_compute, to_out, ComputeT<__half>
#endif

namespace loom::cuda::matmul_kernels {

// ---- kernels -----------------------------------------------------------------------------

// k == 0: C[b, r, col] = beta == 0 ? 0 : beta * C[b, r, col] for the m x n block of each batch
// (rows of C may be padded: ldc >= n; the padding is not touched).
template <typename T>
__global__ void scale_c_kernel(T* __restrict__ c, int64_t batch, int64_t m, int64_t n, int64_t ldc,
                               int64_t stride_c, ComputeT<T> beta) {
  for (int64_t t : grid_stride(batch * m * n)) {
    const int64_t col = t % n, r = (t / n) % m, b = t / (m * n);
    T* p = c + b * stride_c + r * ldc + col;
    *p = beta == ComputeT<T>(0) ? to_out<T>(0) : to_out<T>(beta * to_compute(*p));
  }
}

}  // namespace loom::cuda::matmul_kernels
