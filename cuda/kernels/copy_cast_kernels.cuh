// cuda/kernels/copy_cast_kernels.cuh: the kernels of copy_cast.cu: fill (16-byte packs, then the
// tail), the strided gather/scatter behind compact and strided_write, and cast. Internal to cuda/
// and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, so tests/cuda/copy_cast_kernels_emulation_test.cpp runs these bodies on the
// CPU, float16 included in a CUDA build.
//
// Leaves out: the launchers and fill's host-side value conversion (copy_cast.cu).
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/kernels/kernel_types.h"
#include "cuda/kernels/launch.cuh"
#include "tensor/backend.h"  // StridedLayout, kMaxDims

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // to_compute, to_out
#endif

namespace loom::cuda::copy_cast_kernels {

// dst[0..n) = value. With vec, the first n / N elements go as N-element packs (dst is
// 16-byte aligned), then the tail one by one.
template <typename T, int N>
__global__ void fill_kernel(T* __restrict__ dst, int64_t n, T value, bool vec) {
  int64_t done = 0;
  if (vec) {
    Pack<T, N> pack;
#pragma unroll
    for (int j = 0; j < N; ++j)
      pack.v[j] = value;
    const int64_t packs = n / N;
    auto* out = reinterpret_cast<Pack<T, N>*>(dst);
    for (int64_t p : grid_stride(packs))
      out[p] = pack;
    done = packs * N;
  }
  for (int64_t i : grid_stride(n - done))
    dst[done + i] = value;
}

// The element offset of dense index i in the view `l` (sizes, strides, offset in elements).
__device__ __forceinline__ int64_t view_offset(const StridedLayout& l, int64_t i) {
  int64_t off = l.offset;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < l.ndim) {
      const int64_t size = l.sizes[d];
      off += (i % size) * l.strides[d];
      i /= size;
    }
  }
  return off;
}

// kGather: dst[i] = src[view(i)] (compact). Otherwise dst[view(i)] = src[i] (strided_write).
// The layout travels by value in the kernel's parameter space (~140 bytes).
template <typename W, bool kGather>
__global__ void strided_copy_kernel(const W* __restrict__ src, W* __restrict__ dst, StridedLayout l,
                                    int64_t total) {
  for (int64_t i : grid_stride(total)) {
    const int64_t off = view_offset(l, i);
    if (kGather) {
      dst[i] = src[off];
    } else {
      dst[off] = src[i];
    }
  }
}

// dst[i] = (D) src[i] through both compute types; bool is x != 0.
template <typename S, typename D>
__global__ void cast_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  for (int64_t i : grid_stride(n)) {
    const auto v = to_compute(src[i]);
    if constexpr (std::is_same_v<D, bool>) {
      dst[i] = v != decltype(v)(0);
    } else {
      dst[i] = to_out<D>(static_cast<ComputeT<D>>(v));
    }
  }
}

}  // namespace loom::cuda::copy_cast_kernels
