// cuda/kernels/loss_scale_kernels.cuh: the dynamic loss scaler's two kernels
// (unscale_and_check_kernel, update_scale_kernel), the by-value buffer table and the host code
// that fills it. Launched by loss_scale.cu. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond threadIdx,
// blockIdx, blockDim, gridDim and __syncthreads_or, so
// tests/cuda/loss_scale_kernels_emulation_test.cpp runs these bodies on the CPU against the CPU
// backend's, float16 gradients included in a CUDA build.
//
// Leaves out: the launchers (loss_scale.cu).
#pragma once

#include <cstdint>

#include "cuda/kernels/multi_tensor.cuh"
#include "tensor/kernels/loss_scale_update.h"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // ComputeT, to_compute, to_out
#endif

namespace loom::cuda::loss_scale_kernels {

constexpr int kMaxBuffers = 64;  // buffers per launch: the table below is ~1.6 KB of arguments
constexpr int kBlock = 256;
constexpr int kPerThread = 4;
constexpr int64_t kTile = int64_t{kBlock} * kPerThread;  // elements one block handles per step

// The launch's buffer table, passed by value. Buffer i is ptr[i][0 .. tiles.count[i]); `tiles`
// says which tiles it owns (cuda/kernels/multi_tensor.cuh).
template <typename T>
struct UnscaleTable {
  T* ptr[kMaxBuffers];
  TileMap<kMaxBuffers, kTile> tiles;
};

// The table of buffers [first, first + n) of the call's (grads, counts) (n <= kMaxBuffers), as
// launch_unscale_chunk passes it.
template <typename T>
void fill_table(UnscaleTable<T>& table, void* const* grads, const int64_t* counts, int first,
                int n) {
  table.tiles.build(n, [&](int i) { return counts[first + i]; });
  for (int i = 0; i < n; ++i)
    table.ptr[i] = static_cast<T*>(grads[first + i]);
}

// ---- kernels -----------------------------------------------------------------------------

template <typename T>
__global__ void __launch_bounds__(kBlock)
    unscale_and_check_kernel(const UnscaleTable<T> table, const float* inv_scale,
                             float* found_inf) {
  using C = ComputeT<T>;
  const C inv = static_cast<C>(*inv_scale);
  const int64_t tiles = table.tiles.tiles();
  bool bad = false;
  // The loop bound is the same for every thread of a block, so all of them reach
  // __syncthreads_or below.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int i = table.tiles.owner(tile);
    T* p = table.ptr[i];
    const int64_t end = table.tiles.end(i, tile);
    for (int64_t e = table.tiles.begin(i, tile) + threadIdx.x; e < end; e += kBlock) {
      const C v = to_compute(p[e]);
      bad |= !isfinite(v);  // before the multiply, as the CPU does
      p[e] = to_out<T>(v * inv);
    }
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) *found_inf = 1.0f;
}

// The scaler's state machine, one thread: tensor/kernels/loss_scale_update.h, as on the CPU.
// static: internal linkage, as in the anonymous namespace it came from, so the emulation test's
// host copy of this body never meets nvcc's host stub of the same name at link time.
static __global__ void update_scale_kernel(float* scale, int64_t* counters, const float* found_inf,
                                           const AmpScaleUpdate a) {
  kernels::update_loss_scale(scale, counters, *found_inf != 0.0f, a);
}

}  // namespace loom::cuda::loss_scale_kernels
