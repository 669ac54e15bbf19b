// cuda/kernels/random.cu: uniform and normal fills from Philox counters. CPU twin:
// tensor/cpu/random.cpp.
//
// Element i of a fill at generator offset `offset` is philox4x32_10(seed, offset + i)
// (tensor/philox.h, the code the CPU runs), so no thread carries state and the values do not
// depend on the launch configuration. The affine step is an explicit fma(), which is what GCC
// contracts the CPU's `low + (high - low) * u` into: uniform fills equal the CPU's bit for bit;
// normal fills go through libdevice's log/sqrt/cos and may differ by an ulp in float64.
// The kernels are in random_kernels.cuh; this file keeps the launchers.
//
// Leaves out: the sine branch of Box-Muller (it would change the CPU's convention), a device-side
// offset (so a captured dropout mask repeats at every replay).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/random_kernels.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {

using namespace random_kernels;  // the kernels of random_kernels.cuh

// ---- host launchers ----------------------------------------------------------------------

void CudaBackend::random_uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                                 double low, double high) {
  LOOM_CHECK(n >= 0, "rand: negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, "rand", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloat<T>) {
      LOOM_FAIL("rand: expected a floating dtype, got ", dtype_name(dtype));
    } else {
      const LaunchConfig cfg = launch_for(n, kBlock, "rand");
      random_uniform_kernel<T>
          <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<T*>(dst), n, seed, offset, low, high);
      LOOM_CUDA_CHECK_LAUNCH();
    }
  });
}

void CudaBackend::random_normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                                double mean, double stddev) {
  LOOM_CHECK(n >= 0, "randn: negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, "randn", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloat<T>) {
      LOOM_FAIL("randn: expected a floating dtype, got ", dtype_name(dtype));
    } else {
      const LaunchConfig cfg = launch_for(n, kBlock, "randn");
      random_normal_kernel<T>
          <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<T*>(dst), n, seed, offset, mean, stddev);
      LOOM_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace loom::cuda
