// cuda/kernels/loss_scale.cu: the dynamic loss scaler on the GPU, lab 07 (FusedKernels::
// amp_unscale_and_check, amp_update_scale; contract: tensor/fused_kernels.h; caller:
// tensor/loss_scale.cpp; CPU twin: tensor/cpu/loss_scale.cpp).
//
// unscale_and_check multiplies every gradient by *inv_scale and raises *found_inf if any is inf
// or NaN, in one launch over up to 64 buffers (a by-value table, tiles found by binary search:
// multi_tensor.cuh); update_scale runs the scaler's state machine in a <<<1, 1>>> kernel whose
// body is the CPU's, statement for statement. Neither reads anything back to the host, so a
// mixed-precision step never waits for the GPU. Both equal the CPU bit for bit (but NaN
// payloads). Why each choice: cuda/README.md, "Multi-tensor launches".
// The kernels are in loss_scale_kernels.cuh; this file keeps the launchers.
//
// Leaves out: 16-byte loads in unscale, mixed dtypes in one call.
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/loss_scale_kernels.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace loss_scale_kernels;  // the kernels of loss_scale_kernels.cuh

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
