// tensor/cpu/loss_scale.cpp: the CPU backend's loss-scaler kernels (lab 07): unscale-and-check
// and the scale update. Contract: tensor/fused_kernels.h; caller: tensor/loss_scale.cpp; CUDA
// twin: cuda/kernels/loss_scale.cu.
//
// amp_unscale_and_check: one pass over every gradient buffer, multiplying by 1/scale and noting
// whether any element is inf or NaN. amp_update_scale: the scaler's state machine (back off on
// overflow, grow after `growth_interval` clean steps, flag a collapse). On the CPU "the device"
// is host memory, so both are plain loops; the CUDA twin runs the first as one multi-buffer
// kernel and the second as a one-thread kernel, so that the host never waits. float16 gradients
// are computed in float and rounded on store, like every CPU kernel.
//
// Leaves out: threading (unscaling is one multiply per element, memory bound; the optimizer
// step that follows touches the same bytes).
#include <cmath>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"
#include "tensor/kernels/loss_scale_update.h"

namespace loom {
namespace cpu {
namespace {

// Multiplies x[0..n) by inv in place; returns true if any element was inf or NaN.
template <typename T>
bool unscale_buffer(T* x, int64_t n, float inv) {
  using C = ComputeT<T>;
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) {
    const C v = static_cast<C>(x[i]);
    // Checked before the multiply: a finite-but-huge value times inv stays finite (inv <= 1
    // whenever scale >= 1), while inf * inv stays inf and NaN stays NaN either way.
    bad |= !std::isfinite(v);
    x[i] = static_cast<T>(v * static_cast<C>(inv));
  }
  return bad;
}

}  // namespace

void CpuBackend::amp_unscale_and_check(void* const* grads, const int64_t* counts, int num,
                                       DType dtype, const float* inv_scale, float* found_inf) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16,
             "amp_unscale_and_check: gradients must be floating point, got ", dtype_name(dtype));
  const float inv = *inv_scale;
  bool bad = false;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat<T>) {
      for (int i = 0; i < num; ++i)
        bad |= unscale_buffer(static_cast<T*>(grads[i]), counts[i], inv);
    }
  });
  if (bad) *found_inf = 1.0f;
}

void CpuBackend::amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                                  const AmpScaleUpdate& a) {
  kernels::update_loss_scale(scale, counters, *found_inf != 0.0f, a);
}

}  // namespace cpu
}  // namespace loom
