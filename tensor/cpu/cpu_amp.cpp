// tensor/cpu/cpu_amp.cpp: the CPU backend's mixed-precision kernels (lab 07): the loss
// scaler's two kernels and the float16 x float16 -> float32 GEMM.
//
// amp_unscale_and_check: one pass over every gradient buffer, multiplying by 1/scale and
// noting whether any element is inf or NaN. amp_update_scale: the scaler's state machine
// (back off on overflow, grow after `growth_interval` clean steps, flag a collapse). The
// contract is in tensor/backend.h; nn/amp/grad_scaler.cpp is the caller. On the CPU "the
// device" is host memory, so both are plain loops; a CUDA backend runs the first as one
// multi-buffer kernel and the second as a one-thread kernel, so that the host never waits.
//
// matmul_mixed widens A and B to float (exact) and runs the float32 GEMM straight into the
// float32 C: the same numbers as a GPU's fp16-input, fp32-accumulate GEMM, up to summation order.
//
// float16 gradients are computed in float and rounded on store, like every CPU kernel.
// Also here: the Backend interface's defaults for these methods (they throw), so a backend that
// has not implemented them still builds.
//
// Leaves out: threading (unscaling is one multiply per element, memory bound; the optimizer
// step that follows touches the same bytes).
#include <cmath>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/dtype_dispatch.h"
#include "tensor/cpu/matmul_span.h"

namespace loom {

void Backend::amp_unscale_and_check(void* const*, const int64_t*, int, DType dtype, const float*,
                                    float*) {
  LOOM_FAIL("amp_unscale_and_check: not implemented by backend ", name(), " (dtype ",
            dtype_name(dtype), ")");
}

void Backend::amp_update_scale(float*, int64_t*, const float*, const AmpScaleUpdate&) {
  LOOM_FAIL("amp_update_scale: not implemented by backend ", name());
}

void Backend::matmul_mixed(const void*, const void*, DType ab_dtype, void*, DType c_dtype,
                           const MatmulArgs&) {
  LOOM_FAIL("matmul_mixed: not implemented by backend ", name(), " (", dtype_name(ab_dtype), " x ",
            dtype_name(ab_dtype), " -> ", dtype_name(c_dtype), ")");
}

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
  int64_t& tracker = counters[kAmpGrowthTracker];
  int64_t& consecutive = counters[kAmpConsecutiveSkips];
  if (*found_inf != 0.0f) {
    *scale = static_cast<float>(*scale * a.backoff_factor);
    tracker = 0;
    ++consecutive;
    ++counters[kAmpSkippedSteps];
    // Sticky: the first reason found is kept until the host resets it.
    if (counters[kAmpCollapsed] == 0) {
      if (*scale < a.min_scale)
        counters[kAmpCollapsed] = 1;
      else if (a.max_consecutive_skips > 0 && consecutive >= a.max_consecutive_skips)
        counters[kAmpCollapsed] = 2;
    }
    return;
  }
  consecutive = 0;
  if (++tracker >= a.growth_interval) {
    const float grown = static_cast<float>(*scale * a.growth_factor);
    if (std::isfinite(grown)) *scale = grown;  // at float32's top the scale just stays
    tracker = 0;
  }
}

void CpuBackend::matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                              const MatmulArgs& p) {
  LOOM_CHECK(ab_dtype == DType::Float16 && c_dtype == DType::Float32,
             "matmul_mixed: supports float16 x float16 -> float32, got ", dtype_name(ab_dtype),
             " -> ", dtype_name(c_dtype));
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  auto widen = [](const void* src, int64_t n) {
    std::vector<float> out(static_cast<std::size_t>(n));
    const auto* h = static_cast<const Eigen::half*>(src);
    for (int64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(h[i]);
    return out;
  };
  // Stored shapes: A is [m, k] ([k, m] when transposed), B is [k, n] ([n, k] when transposed).
  const std::vector<float> fa =
      widen(a, matmul_operand_span(p.batch, p.stride_a, p.trans_a ? p.k : p.m,
                                   p.trans_a ? p.m : p.k, p.lda));
  const std::vector<float> fb =
      widen(b, matmul_operand_span(p.batch, p.stride_b, p.trans_b ? p.n : p.k,
                                   p.trans_b ? p.k : p.n, p.ldb));
  matmul(fa.data(), fb.data(), c, DType::Float32, p);
}

}  // namespace cpu
}  // namespace loom
