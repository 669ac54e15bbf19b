// tensor/cpu/random.cpp: uniform and normal fills from Philox counters.
//
// Element i uses counter offset + i (see tensor/philox.h), so the CUDA backend, which runs
// the same formula per thread, produces the same numbers for the same (seed, offset).
#include <cmath>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"
#include "tensor/philox.h"

namespace loom::cpu {

void CpuBackend::random_uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                                double low, double high) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloat<T>) {
      LOOM_FAIL("rand: expected a floating dtype, got ", dtype_name(dtype));
    } else {
      T* p = static_cast<T*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        const Philox4x32 r = philox4x32_10(seed, offset + static_cast<uint64_t>(i));
        // float64 uses 53 random bits (words 0 and 1); float32/float16 use 24 (word 0).
        const double u = std::is_same_v<T, double> ? philox_uniform01_double(r.v[0], r.v[1])
                                                   : philox_uniform01(r.v[0]);
        // One explicit fma, as cuda/kernels/random.cu does: left to the compiler, a*b+c may or may
        // not be contracted into an fma, and the two roundings differ in the last bit.
        p[i] = static_cast<T>(static_cast<ComputeT<T>>(std::fma(high - low, u, low)));
      }
    }
  });
}

void CpuBackend::random_normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                               double mean, double stddev) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloat<T>) {
      LOOM_FAIL("randn: expected a floating dtype, got ", dtype_name(dtype));
    } else {
      T* p = static_cast<T*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        const Philox4x32 r = philox4x32_10(seed, offset + static_cast<uint64_t>(i));
        const double z = philox_normal(r.v[0], r.v[1]);
        p[i] = static_cast<T>(static_cast<ComputeT<T>>(std::fma(stddev, z, mean)));
      }
    }
  });
}

}  // namespace loom::cpu
