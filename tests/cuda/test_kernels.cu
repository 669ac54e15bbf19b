// tests/cuda/test_kernels.cu: the kernels of test_kernels.h. Kernels first, then launchers.
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.cuh"
#include "tests/cuda/test_kernels.h"

namespace loom::cuda::test_kernels {

// ---- kernels ---------------------------------------------------------------------------------

__global__ void fill_iota_kernel(float* out, int64_t n) {
  for (int64_t i : grid_stride(n))
    out[i] = static_cast<float>(i);
}

// ---- launchers -------------------------------------------------------------------------------

void fill_iota(float* out, int64_t n, int block_size, cudaStream_t stream) {
  if (n == 0) return;
  const LaunchConfig cfg = launch_for(n, block_size, "fill_iota");
  fill_iota_kernel<<<cfg.grid, cfg.block, 0, stream>>>(out, n);
  LOOM_CUDA_CHECK_LAUNCH();
}

void fill_iota_unchecked(float* out, int64_t n, int block_size, cudaStream_t stream) {
  fill_iota_kernel<<<1, block_size, 0, stream>>>(out, n);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace loom::cuda::test_kernels
