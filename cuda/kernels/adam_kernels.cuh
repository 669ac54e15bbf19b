// cuda/kernels/adam_kernels.cuh: the two kernels of the fused Adam/AdamW step (adam_kernel,
// advance_steps_kernel), their by-value tables and the host code that fills them. Launched by
// adam.cu. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond threadIdx,
// blockIdx, blockDim, gridDim, __syncthreads and a static __shared__ variable, so
// tests/cuda/adam_kernels_emulation_test.cpp runs these bodies on the CPU.
//
// Leaves out: the launchers (adam.cu).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/multi_tensor.cuh"
#include "tensor/fused_kernels.h"  // AdamParam, AdamHyper
#include "tensor/kernels/adam_update.h"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // Pack, kPackOf
#endif

namespace loom::cuda::adam_kernels {

constexpr int kMaxParams = 48;  // parameters per launch: the table below is ~2.7 KB of arguments
constexpr int kBlock = 256;
constexpr int kPerThread = 4;                            // elements per thread per tile
constexpr int64_t kTile = int64_t{kBlock} * kPerThread;  // elements one block handles per step
constexpr int kStepThreads = 64;                         // the counter kernel: >= kMaxParams
static_assert(kStepThreads >= kMaxParams, "one thread per parameter's step counter");

// The step counters of one launch's parameters (what the counter kernel needs).
struct StepTable {
  int64_t* step[kMaxParams];
  int num;
};

// The launch's parameter table, passed by value. Parameter i has tiles.count[i] elements in
// p[i], g[i], m[i], v[i]; `tiles` says which tiles it owns (cuda/kernels/multi_tensor.cuh).
template <typename T>
struct AdamTable {
  T* p[kMaxParams];
  const T* g[kMaxParams];
  T* m[kMaxParams];
  T* v[kMaxParams];
  TileMap<kMaxParams, kTile> tiles;
  StepTable steps;
};
// Kernel arguments are limited to 4 KB (the table, the hyper-parameters and the flag pointer).
static_assert(sizeof(AdamTable<double>) + sizeof(AdamHyper) + sizeof(void*) <= 4096,
              "AdamTable must fit the 4 KB kernel parameter space");

using kernels::AdamConstants;

// The table of parameters params[0 .. n) (n <= kMaxParams), as launch_chunk passes it.
template <typename T>
void fill_table(AdamTable<T>& table, const AdamParam* params, int n) {
  table.steps.num = n;
  table.tiles.build(n, [&](int i) { return params[i].numel; });
  for (int i = 0; i < n; ++i) {
    table.p[i] = static_cast<T*>(params[i].param);
    table.g[i] = static_cast<const T*>(params[i].grad);
    table.m[i] = static_cast<T*>(params[i].exp_avg);
    table.v[i] = static_cast<T*>(params[i].exp_avg_sq);
    table.steps.step[i] = params[i].step;
  }
}

// ---- kernels -----------------------------------------------------------------------------

// Whether `ptr` is a multiple of Bytes (kernel_util.cuh's is_aligned, on the device).
template <std::size_t Bytes>
__device__ __forceinline__ bool aligned_to(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % Bytes == 0;
}

template <typename T, bool Decoupled>
__global__ void __launch_bounds__(kBlock)
    adam_kernel(const AdamTable<T> table, const AdamHyper h, const float* found_inf) {
  // The loss scaler saw inf/NaN: skip the whole step. Every thread reads the same flag, so the
  // whole block returns (no thread is left waiting at a barrier below).
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  __shared__ AdamConstants<T> shared_consts;
  constexpr int P = kPackOf<T>;  // elements per 16-byte access: 4 floats, 2 doubles
  static_assert(kPerThread % P == 0, "a thread's elements are whole packs");
  using Vec = Pack<T, P>;
  const int64_t tiles = table.tiles.tiles();
  int current = -1;  // the parameter whose constants are in shared_consts
  // The loop bound and `i` below are the same for every thread of a block, so all of them
  // reach the __syncthreads() calls.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int i = table.tiles.owner(tile);
    if (i != current) {
      __syncthreads();  // every thread is done with the previous parameter's constants
      if (threadIdx.x == 0) {
        shared_consts = kernels::adam_constants<T>(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay,
                                                   *table.steps.step[i] + 1);
      }
      __syncthreads();
      current = i;
    }
    const AdamConstants<T> c = shared_consts;
    T* p = table.p[i];
    const T* g = table.g[i];
    T* m = table.m[i];
    T* v = table.v[i];
    const int64_t begin = table.tiles.begin(i, tile), end = table.tiles.end(i, tile);
    const bool aligned = aligned_to<sizeof(Vec)>(p) && aligned_to<sizeof(Vec)>(g) &&
                         aligned_to<sizeof(Vec)>(m) && aligned_to<sizeof(Vec)>(v);
    if (aligned && end - begin == kTile) {
      // Pack j of thread x starts at element (j * kBlock + x) * P: consecutive threads touch
      // consecutive 16-byte words (coalesced).
#pragma unroll
      for (int j = 0; j < kPerThread / P; ++j) {
        const int64_t e = begin + (int64_t{j} * kBlock + threadIdx.x) * P;
        Vec pv = *reinterpret_cast<const Vec*>(p + e);
        const Vec gv = *reinterpret_cast<const Vec*>(g + e);
        Vec mv = *reinterpret_cast<const Vec*>(m + e);
        Vec vv = *reinterpret_cast<const Vec*>(v + e);
#pragma unroll
        for (int k = 0; k < P; ++k)
          kernels::adam_update<T, Decoupled>(pv.v[k], gv.v[k], mv.v[k], vv.v[k], c);
        *reinterpret_cast<Vec*>(p + e) = pv;
        *reinterpret_cast<Vec*>(m + e) = mv;
        *reinterpret_cast<Vec*>(v + e) = vv;
      }
    } else {
      for (int64_t e = begin + threadIdx.x; e < end; e += kBlock) {
        T pe = p[e], me = m[e], ve = v[e];
        kernels::adam_update<T, Decoupled>(pe, g[e], me, ve, c);
        p[e] = pe;
        m[e] = me;
        v[e] = ve;
      }
    }
  }
}

// Advances every counter of the launch by one, unless the step was skipped. Runs after
// adam_kernel on the same stream, so every block of that kernel has read the old values.
// static: internal linkage, as in the anonymous namespace it came from, so the emulation test's
// host copy of this body never meets nvcc's host stub of the same name at link time.
static __global__ void advance_steps_kernel(const StepTable steps, const float* found_inf) {
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  for (int i = threadIdx.x; i < steps.num; i += blockDim.x)
    ++*steps.step[i];
}

}  // namespace loom::cuda::adam_kernels
