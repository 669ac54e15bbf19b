// cuda/kernels/adam.cu: Adam/AdamW for every parameter of a model in one kernel launch
// (FusedKernels::adam_step; contract: tensor/fused_kernels.h; caller: tensor/adam.cpp; CPU twin:
// tensor/cpu/adam.cpp).
//
// A by-value table of up to kMaxParams (48) parameters per launch, cut into 1024-element tiles
// (multi_tensor.cuh), 16-byte accesses on full aligned tiles; the per-element update is
// tensor/kernels/adam_update.h's, as on the CPU. The step counts live on the device and a second,
// one-block launch advances them after the update (a grid has no barrier); both kernels return
// at once when the loss scaler's found_inf is set, so the host reads nothing and a CUDA Graph
// can capture the step. Why each choice: cuda/README.md, "Multi-tensor launches".
// The kernels are in adam_kernels.cuh; this file keeps the launchers.
//
// Leaves out: float16 parameters (master weights stay float32), amsgrad, a learning rate on the
// device (a scheduled lr would change a captured graph's argument).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cuda/kernels/adam_kernels.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace adam_kernels;  // the kernels of adam_kernels.cuh

// ---- host launchers ----------------------------------------------------------------------

// Both launches for parameters params[0 .. n) (n <= kMaxParams).
template <typename T>
void launch_chunk(const AdamParam* params, int n, const AdamHyper& h, const float* found_inf,
                  cudaStream_t stream) {
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
