// cuda/kernels/index_kernels.cuh: the kernels of index.cu: the bounds check, index_select's
// gather, index_add's atomic kernel, and the deterministic path's iota and segment kernels.
// Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, atomicAdd and atomicMin, so tests/cuda/index_kernels_emulation_test.cpp runs
// these bodies on the CPU (the emulation stands in for the atomics, __half's included).
//
// Leaves out: the launchers, and the CUB sort / run-length encode / scan that compute the
// segments the segment kernel reads (index.cu; the emulation test computes them on the host).
#pragma once

#include <cstdint>

#include "cuda/kernels/launch.cuh"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // to_compute, to_out
#endif

namespace loom::cuda::index_kernels {

// ---- kernels -----------------------------------------------------------------------------

// Records the smallest k with index[k] outside [0, rows) in *error.
// static (as the iota kernel below): internal linkage, as in the anonymous namespace it came
// from, so the emulation test's host copy of this body never meets nvcc's host stub of the same
// name at link time (template kernels' stubs are local already).
static __global__ void check_index_kernel(const int64_t* __restrict__ index, int64_t K,
                                          int64_t rows, unsigned long long* error) {
  for (int64_t k : grid_stride(K)) {
    const int64_t r = index[k];
    if (r < 0 || r >= rows) atomicMin(error, static_cast<unsigned long long>(k));
  }
}

// out [outer, K, inner] = src [outer, rows, inner] at the rows index[k]; moves words.
template <typename W>
__global__ void index_select_kernel(const W* __restrict__ src, const int64_t* __restrict__ index,
                                    W* __restrict__ out, int64_t outer, int64_t rows, int64_t inner,
                                    int64_t K) {
  for (int64_t t : grid_stride(outer * K * inner)) {
    const int64_t i = t % inner, k = (t / inner) % K, o = t / (inner * K);
    const int64_t r = index[k];
    if (r < 0 || r >= rows) continue;  // reported by check_index_kernel
    out[t] = src[(o * rows + r) * inner + i];
  }
}

// Fast path: dst[o, index[k], i] += src[o, k, i] with one atomic per source element.
// CUDA's native atomicAdd for float, double, int32 and __half (sm_70+); a template, so this
// header needs no __half declaration.
template <typename T>
__device__ __forceinline__ void atomic_add(T* p, T v) {
  atomicAdd(p, v);
}
// int64 has no atomicAdd of its own (preferred over the template: not a template).
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
  // Two's complement: adding the unsigned bit pattern is the signed addition (mod 2^64).
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <typename T>
__global__ void index_add_atomic_kernel(T* __restrict__ dst, const int64_t* __restrict__ index,
                                        const T* __restrict__ src, int64_t outer, int64_t rows,
                                        int64_t inner, int64_t K) {
  for (int64_t t : grid_stride(outer * K * inner)) {
    const int64_t i = t % inner, k = (t / inner) % K, o = t / (inner * K);
    const int64_t r = index[k];
    if (r < 0 || r >= rows) continue;
    atomic_add(dst + (o * rows + r) * inner + i, src[t]);
  }
}

// positions[k] = k: the values the radix sort carries along with the keys.
static __global__ void iota_kernel(int64_t* __restrict__ positions, int64_t K) {
  for (int64_t k : grid_stride(K))
    positions[k] = k;
}

// One addition with the CPU's rounding: in the compute type, rounded back to T every time.
template <typename T>
__device__ __forceinline__ T add_rounded(T acc, T v) {
  return to_out<T>(to_compute(acc) + to_compute(v));
}

// Deterministic path: thread (o, s, i) adds segment s of the sorted positions onto
// dst[o, unique_rows[s], i], in position order. Launched for K segments (the most there can
// be); threads past the real number of segments (*num_segments) have nothing to do.
template <typename T>
__global__ void index_add_segments_kernel(T* __restrict__ dst, const T* __restrict__ src,
                                          const int64_t* __restrict__ unique_rows,
                                          const int* __restrict__ seg_start,
                                          const int* __restrict__ seg_count,
                                          const int* __restrict__ num_segments,
                                          const int64_t* __restrict__ sorted_positions,
                                          int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  const int64_t segments = *num_segments;
  for (int64_t t : grid_stride(outer * K * inner)) {
    const int64_t i = t % inner, s = (t / inner) % K, o = t / (inner * K);
    if (s >= segments) continue;
    const int64_t r = unique_rows[s];
    if (r < 0 || r >= rows) continue;
    T* to = dst + (o * rows + r) * inner + i;
    T acc = *to;
    const int64_t begin = seg_start[s], end = begin + seg_count[s];
    for (int64_t p = begin; p < end; ++p) {
      acc = add_rounded(acc, src[(o * K + sorted_positions[p]) * inner + i]);
    }
    *to = acc;
  }
}

}  // namespace loom::cuda::index_kernels
