// tests/cuda/test_kernels.h: tiny kernels for gpu_runtime_test.cpp (defined in test_kernels.cu,
// compiled only in CUDA builds). They exist to exercise the launch path every loom launcher
// uses: launch_for + grid_stride + LOOM_CUDA_CHECK_LAUNCH.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace loom::cuda::test_kernels {

// out[i] = i for i in [0, n), launched through the grid helper with `block_size` threads.
void fill_iota(float* out, int64_t n, int block_size, cudaStream_t stream);

// The same kernel launched with `block_size` threads and *no* helper checks, so an invalid
// configuration reaches the runtime and must be caught by LOOM_CUDA_CHECK_LAUNCH.
void fill_iota_unchecked(float* out, int64_t n, int block_size, cudaStream_t stream);

}  // namespace loom::cuda::test_kernels
