// cuda/amp.cu: the dynamic loss scaler's two kernels on the GPU (lab 08). CPU twin:
// tensor/cpu/cpu_amp.cpp (matmul_mixed, the third method of that file, is in cuda/matmul.cu).
//
// amp_unscale_and_check multiplies every gradient of the model by 1/scale and raises a flag if
// any of them is inf or NaN; amp_update_scale then runs the scaler's state machine. The scale,
// the counters and the flag stay in device memory and neither launcher reads anything back, so
// a training step under mixed precision never waits for the GPU (and can be captured into a
// CUDA Graph). The contract is tensor/backend.h's; nn/amp/grad_scaler.cpp is the caller.
//
// ---- unscale: one launch over many buffers ------------------------------------------------
// The gradients are separate allocations (one per parameter), so "one pass over all of them"
// needs the kernel to know every (pointer, count). Two ways to get that table to the device:
//   (a) a device array of descriptors: allocate it, cudaMemcpyAsync the host table into it;
//   (b) pass the table BY VALUE as a kernel argument (a struct, up to 4 KB of parameters).
// loom takes (b). The arguments are copied into the launch itself, so there is no allocation,
// no memcpy, no pageable-host-memory question (an async copy from pageable memory may block the
// host, and a copy from a host array that dies when the call returns needs a pinned staging
// buffer kept alive by an event), and a captured CUDA Graph simply records the table. The cost is
// a fixed capacity: kMaxBuffers (64) buffers per launch, and a model with more parameter tensors
// gets one launch per 64 (still no synchronization). The IMDB model has 7.
//
// Inside the launch the buffers are cut into tiles of kTile elements, and each block walks tiles
// with a grid-stride loop, finding its buffer by binary search (cuda/multi_tensor.cuh's TileMap,
// shared with cuda/adam.cu). So big and small buffers share the grid evenly and an empty buffer
// costs nothing. The flag: each thread ORs its
// elements' !isfinite, each block combines with __syncthreads_or, and one thread of a block that
// saw a bad value stores 1.0f (several blocks storing the same value is harmless). Like the CPU,
// the value is tested before the multiply and the product is rounded once on store, so every
// element, and the flag, equal the CPU's bit for bit (except NaN payloads).
//
// ---- update: one thread -------------------------------------------------------------------
// The state machine is a handful of scalar operations on one float and four int64s: a <<<1, 1>>>
// kernel whose body is the CPU's, statement for statement, with the same float/double mix
// (scale * backoff_factor is a float promoted to double, rounded back to float), so the scale
// sequence is bitwise the CPU's.
//
// Left out: vectorized (16-byte) loads in unscale (it is one multiply per element, run once per
// step over the parameters: memory bound but small); mixing dtypes in one call (the contract has
// one dtype for all buffers).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cuda/check.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_util.cuh"
#include "cuda/launch.cuh"
#include "cuda/multi_tensor.cuh"

namespace loom::cuda {
namespace {

constexpr int kMaxBuffers = 64;  // buffers per launch: the table below is ~1.6 KB of arguments
constexpr int kBlock = 256;
constexpr int kPerThread = 4;
constexpr int64_t kTile = int64_t{kBlock} * kPerThread;  // elements one block handles per step

// The launch's buffer table, passed by value. Buffer i is ptr[i][0 .. tiles.count[i]); `tiles`
// says which tiles it owns (cuda/multi_tensor.cuh).
template <typename T>
struct UnscaleTable {
  T* ptr[kMaxBuffers];
  TileMap<kMaxBuffers, kTile> tiles;
};

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

// tensor/cpu/cpu_amp.cpp's CpuBackend::amp_update_scale, statement for statement.
__global__ void update_scale_kernel(float* scale, int64_t* counters, const float* found_inf,
                                    const Backend::AmpScaleUpdate a) {
  int64_t& tracker = counters[Backend::kAmpGrowthTracker];
  int64_t& consecutive = counters[Backend::kAmpConsecutiveSkips];
  if (*found_inf != 0.0f) {
    *scale = static_cast<float>(*scale * a.backoff_factor);
    tracker = 0;
    ++consecutive;
    ++counters[Backend::kAmpSkippedSteps];
    // Sticky: the first reason found is kept until the host resets it.
    if (counters[Backend::kAmpCollapsed] == 0) {
      if (*scale < a.min_scale)
        counters[Backend::kAmpCollapsed] = 1;
      else if (a.max_consecutive_skips > 0 && consecutive >= a.max_consecutive_skips)
        counters[Backend::kAmpCollapsed] = 2;
    }
    return;
  }
  consecutive = 0;
  if (++tracker >= a.growth_interval) {
    const float grown = static_cast<float>(*scale * a.growth_factor);
    if (isfinite(grown)) *scale = grown;  // at float32's top the scale just stays
    tracker = 0;
  }
}

// ---- host launchers ----------------------------------------------------------------------

// Launches the kernel for buffers [first, first + n) (n <= kMaxBuffers).
template <typename T>
void launch_unscale_chunk(void* const* grads, const int64_t* counts, int first, int n,
                          const float* inv_scale, float* found_inf, cudaStream_t stream) {
  UnscaleTable<T> table{};
  table.tiles.build(n, [&](int i) { return counts[first + i]; });
  for (int i = 0; i < n; ++i)
    table.ptr[i] = static_cast<T*>(grads[first + i]);
  const int64_t tiles = table.tiles.tiles();
  if (tiles == 0) return;
  // One block per tile, capped by the grid helper; the grid-stride loop over tiles covers the
  // rest.
  const LaunchConfig cfg = launch_for(tiles * kBlock, kBlock, "amp_unscale_and_check");
  unscale_and_check_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(table, inv_scale, found_inf);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::amp_unscale_and_check(void* const* grads, const int64_t* counts, int num,
                                        DType dtype, const float* inv_scale, float* found_inf) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16,
             "amp_unscale_and_check: gradients must be floating point, got ", dtype_name(dtype));
  LOOM_CHECK(num >= 0, "amp_unscale_and_check: negative buffer count ", num);
  LOOM_CHECK(num == 0 || (grads != nullptr && counts != nullptr),
             "amp_unscale_and_check: null grads/counts table for ", num, " buffers");
  LOOM_CHECK(inv_scale != nullptr && found_inf != nullptr,
             "amp_unscale_and_check: inv_scale and found_inf must be device pointers");
  for (int i = 0; i < num; ++i) {
    LOOM_CHECK(counts[i] >= 0, "amp_unscale_and_check: buffer ", i, " has negative count ",
               counts[i]);
    LOOM_CHECK(counts[i] == 0 || grads[i] != nullptr, "amp_unscale_and_check: buffer ", i,
               " is null with ", counts[i], " elements");
  }
  if (num == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, "amp_unscale_and_check", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat<T>) {
      for (int first = 0; first < num; first += kMaxBuffers)
        launch_unscale_chunk<T>(grads, counts, first, std::min(kMaxBuffers, num - first), inv_scale,
                                found_inf, stream);
    }
  });
}

void CudaBackend::amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                                   const AmpScaleUpdate& args) {
  LOOM_CHECK(scale != nullptr && counters != nullptr && found_inf != nullptr,
             "amp_update_scale: scale, counters and found_inf must be device pointers");
  const cudaStream_t stream = op_stream();
  update_scale_kernel<<<1, 1, 0, stream>>>(scale, counters, found_inf, args);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace loom::cuda
