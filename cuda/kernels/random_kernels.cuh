// cuda/kernels/random_kernels.cuh: the uniform and normal fill kernels of random.cu (Philox
// counters: element i of a fill is philox4x32_10(seed, offset + i), as on the CPU). Internal to
// cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, so tests/cuda/random_kernels_emulation_test.cpp runs these bodies on the CPU
// and compares them bit for bit with the CPU backend's fills.
//
// Leaves out: the launchers (random.cu).
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/kernels/launch.cuh"
#include "tensor/philox.h"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // ComputeT, to_out
#endif

namespace loom::cuda::random_kernels {

constexpr int kBlock = kDefaultBlockSize;

// ---- kernels -----------------------------------------------------------------------------

template <typename T>
__global__ void random_uniform_kernel(T* __restrict__ dst, int64_t n, uint64_t seed,
                                      uint64_t offset, double low, double high) {
  for (int64_t i : grid_stride(n)) {
    const Philox4x32 r = philox4x32_10(seed, offset + static_cast<uint64_t>(i));
    const double u = std::is_same_v<T, double> ? philox_uniform01_double(r.v[0], r.v[1])
                                               : static_cast<double>(philox_uniform01(r.v[0]));
    const double value = fma(high - low, u, low);
    dst[i] = to_out<T>(static_cast<ComputeT<T>>(value));
  }
}

template <typename T>
__global__ void random_normal_kernel(T* __restrict__ dst, int64_t n, uint64_t seed, uint64_t offset,
                                     double mean, double stddev) {
  for (int64_t i : grid_stride(n)) {
    const Philox4x32 r = philox4x32_10(seed, offset + static_cast<uint64_t>(i));
    const double z = philox_normal(r.v[0], r.v[1]);
    dst[i] = to_out<T>(static_cast<ComputeT<T>>(fma(stddev, z, mean)));
  }
}

}  // namespace loom::cuda::random_kernels
