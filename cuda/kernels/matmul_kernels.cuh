// cuda/kernels/matmul_kernels.cuh: the one kernel of cuda/kernels/matmul.cu, scale_c_kernel (k == 0 is not a
// GEMM: C = beta * C, or 0). Internal to cuda/ and tests/cuda/.
//
// Why a header of its own: the kernel uses nothing of CUDA but the grid-stride loop, so
// tests/cuda/matmul_kernels_emulation_test.cpp runs this very body on the CPU under emulation
// (tests/cuda/cuda_emulation.h) against the CPU backend's matmul with k == 0. Keep it that way:
// no other CUDA API in this file. Under nvcc, grid_stride comes from cuda/kernels/launch.cuh and
// to_compute / to_out / ComputeT's __half case from cuda/kernels/kernel_util.cuh (cuda/kernels/kernel_convert.cuh);
// the emulation test gets them through tests/cuda/kernel_util_host.h — kernel_convert.cuh's own
// in a CUDA build, so the __half instantiation runs there too.
//
// Leaves out: the launcher and the cuBLAS calls (cuda/kernels/matmul.cu; their arguments are
// cuda/kernels/gemm_mapping.h's, tested on the CPU by tests/cuda/gemm_mapping_test.cpp).
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
