// cuda/kernels/adam.cu: Adam/AdamW for every parameter of a model in one kernel launch
// (FusedKernels::adam_step; CPU twin: tensor/cpu/adam.cpp; caller: tensor/adam.cpp).
//
// An Adam step reads 4 and writes 3 numbers per parameter element and does ~15 flops on them:
// memory bound, and for a small model dominated by launch latency. Written with tensor ops it is
// about 15 kernels per parameter tensor (the IMDB model has 7 tensors: ~100 launches and as
// many temporaries); here it is ONE launch for all of them, reading each element once.
//
// ---- the multi-tensor launch --------------------------------------------------------------
// The parameters are separate allocations, so the kernel needs each one's (p, g, m, v, step,
// count). As in cuda/kernels/loss_scale.cu the table goes BY VALUE as a kernel argument (AdamTable, ~2.7 KB of
// the 4 KB parameter space): no device descriptor array, no host-to-device copy, nothing a CUDA
// Graph capture has to keep alive. Capacity: kMaxParams (48) parameters per launch; a model with
// more gets one launch per 48 (still no synchronisation).
// The buffers are cut into tiles of kTile (1024) elements and each block walks tiles with a
// grid-stride loop, finding a tile's parameter by binary search (cuda/kernels/multi_tensor.cuh's TileMap,
// shared with amp.cu). A full tile whose four pointers are 16-byte
// aligned is done with 16-byte loads and stores (a float4, or two doubles, per access; tiles
// start at multiples of 1024 elements, so the base pointers decide); the last, partial tile of
// each parameter, and unaligned buffers, take the scalar loop. The per-element update is
// tensor/kernels/adam_update.h's, the function the CPU loop calls, in the same type.
//
// ---- the step count and found_inf, on the device --------------------------------------------
// The bias corrections depend on t. Passing t from the host would bake it into a captured CUDA
// Graph, and with the loss scaler the host does not even know it (a skipped step does not count,
// and the skip is decided on the device). So each parameter's count is an int64 on the device;
// the kernel reads t = *step + 1, and one thread of the block computes step_size = lr / (1 -
// beta1^t) and sqrt(1 - beta2^t) in double (exactly the CPU's expressions) into shared memory
// when the block moves to another parameter (kernels::adam_constants, as the CPU).
// Advancing the counters cannot happen inside that launch: a grid has no barrier, so a block
// that incremented *step could run before another block of the same parameter has read it. A
// second launch, one block of 64 threads on the same stream, does it after the update (stream
// order is the barrier). Both kernels first read *found_inf and return at once when it is set:
// a step the loss scaler skips writes nothing, counters included, and the host never reads the
// flag. So an optimizer step is 2 launches, whatever the number of parameters (up to 48).
//
// The kernels, their tables and the host code that fills them are in cuda/kernels/adam_kernels.cuh, which
// uses so little of CUDA that tests/cuda/adam_kernels_emulation_test.cpp runs them on the CPU;
// this file keeps the launchers.
//
// Left out: float16 parameters (master weights stay float32), amsgrad, a learning rate on the
// device (a scheduled lr changes the captured graph's argument; re-capture, or keep lr on the
// device in a later version), splitting the step of a single huge tensor differently from many
// small ones (the tile walk already balances them).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cuda/kernels/adam_kernels.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"

namespace loom::cuda {
namespace {

using namespace fused_adam;  // the kernels, tables and constants of cuda/kernels/adam_kernels.cuh

// ---- host launchers ----------------------------------------------------------------------

// Both launches for parameters params[0 .. n) (n <= kMaxParams).
template <typename T>
void launch_chunk(const AdamParam* params, int n, const AdamHyper& h,
                  const float* found_inf, cudaStream_t stream) {
  AdamTable<T> table{};
  fill_table(table, params, n);
  const int64_t tiles = table.tiles.tiles();
  if (tiles > 0) {  // all parameters empty: nothing to update, but their steps still count
    // One block per tile, capped by the grid helper; the grid-stride loop covers the rest.
    const LaunchConfig cfg = launch_for(tiles * kBlock, kBlock, "adam_step");
    if (h.decoupled)
      adam_kernel<T, true><<<cfg.grid, cfg.block, 0, stream>>>(table, h, found_inf);
    else
      adam_kernel<T, false><<<cfg.grid, cfg.block, 0, stream>>>(table, h, found_inf);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  advance_steps_kernel<<<1, kStepThreads, 0, stream>>>(table.steps, found_inf);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& h,
                            const float* found_inf) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64,
             "adam_step on cuda: float32 or float64 parameters, got ", dtype_name(dtype));
  if (num == 0) return;
  const cudaStream_t stream = op_stream();
  for (int first = 0; first < num; first += kMaxParams) {
    const int n = std::min(kMaxParams, num - first);
    if (dtype == DType::Float32)
      launch_chunk<float>(params + first, n, h, found_inf, stream);
    else
      launch_chunk<double>(params + first, n, h, found_inf, stream);
  }
}

}  // namespace loom::cuda
