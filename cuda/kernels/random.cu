// cuda/kernels/random.cu: uniform and normal fills from Philox counters. CPU twin: tensor/cpu/random.cpp.
//
// Element i of a fill drawn at generator offset `offset` is philox4x32_10(seed, offset + i)
// (tensor/philox.h, the same header-only code the CPU runs), so no thread carries RNG state
// and the numbers do not depend on the launch configuration: a CUDA tensor from (seed, offset)
// equals the CPU one. Per dtype, exactly as the CPU:
//   uniform: float64 u from words 0 and 1 (53 bits), float32/float16 u from word 0 (24 bits);
//            value = low + (high - low) * u in double, then double -> float (-> half).
//   normal:  z = philox_normal(word 0, word 1) (Box-Muller, cosine branch), mean + stddev * z.
//
// Bit-exactness. The affine step is written as one fma(): GCC contracts the CPU's
// `low + (high - low) * u` into an FMA on machines that have one (loom builds with
// -march=native), and nvcc does by default; spelling it out keeps the GPU side from depending
// on compiler flags. With that, uniform fills match the CPU bit for bit. normal fills also go
// through log, sqrt and cos in double, where CUDA's libdevice and glibc may differ by an ulp, so
// they match to a relative 1e-15 in float64 and almost always exactly in float32 (a
// one-double-ulp difference flips a float rounding only near a tie).
//
// The kernels are in cuda/kernels/random_kernels.cuh (run on the CPU under emulation by
// tests/cuda/random_kernels_emulation_test.cpp); this file keeps the launchers.
//
// Left out: dropout masks (the dropout op draws a uniform fill and compares, or gets its own
// fused kernel later), the sine branch of Box-Muller (it would halve the Philox calls but
// change the CPU's convention).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/runtime/check.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/random_kernels.cuh"

namespace loom::cuda {

using namespace random_fill;  // the kernels of cuda/kernels/random_kernels.cuh

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
