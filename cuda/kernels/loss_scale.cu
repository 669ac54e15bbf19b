// cuda/kernels/loss_scale.cu: the dynamic loss scaler's two kernels on the GPU (lab 07). CPU twin:
// tensor/cpu/cpu_amp.cpp (matmul_mixed, the third method of that file, is in cuda/kernels/matmul.cu).
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
// with a grid-stride loop, finding its buffer by binary search (cuda/kernels/multi_tensor.cuh's TileMap,
// shared with cuda/kernels/adam.cu). So big and small buffers share the grid evenly and an empty buffer
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
// The kernels, their table and the host code that fills it are in cuda/kernels/loss_scale_kernels.cuh, which
// uses so little of CUDA that tests/cuda/amp_kernels_emulation_test.cpp runs them on the CPU;
// this file keeps the launchers.
//
// Left out: vectorized (16-byte) loads in unscale (it is one multiply per element, run once per
// step over the parameters: memory bound but small); mixing dtypes in one call (the contract has
// one dtype for all buffers).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cuda/kernels/loss_scale_kernels.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"

namespace loom::cuda {
namespace {

using namespace amp;  // the kernels, table and constants of cuda/kernels/loss_scale_kernels.cuh

// ---- host launchers ----------------------------------------------------------------------

// Launches the kernel for buffers [first, first + n) (n <= kMaxBuffers).
template <typename T>
void launch_unscale_chunk(void* const* grads, const int64_t* counts, int first, int n,
                          const float* inv_scale, float* found_inf, cudaStream_t stream) {
  UnscaleTable<T> table{};
  fill_table(table, grads, counts, first, n);
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
