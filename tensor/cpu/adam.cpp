// tensor/cpu/adam.cpp: the CPU backend's Adam/AdamW step (FusedKernels::adam_step; CUDA twin:
// cuda/kernels/adam.cu; caller: tensor/adam.cpp; the update: tensor/kernels/adam_update.h).
//
// Nothing at all if the loss scaler's *found_inf is set (checked once, up front). Else, per
// parameter: t = *step + 1, the bias corrections in double, ONE pass over p, g, m, v (each
// element read once, p, m, v written once, no temporaries), and *step = t. The step count lives in
// a buffer because on a GPU it must stay on the device; the CPU keeps the same contract so the
// tests can compare the two (docs/labs/03-layers.md, "Adam, as torch.optim computes it").
// GCC vectorises the whole loop, std::sqrt included: the pointers are `__restrict`, Adam vs
// AdamW is a template parameter, and tensor/CMakeLists.txt compiles this file with
// -fno-math-errno (else sqrt stays a scalar call that could set errno).
//
// Leaves out: threads (Adam took ~0.5 ms, well under 1% of an IMDB training step:
// docs/results/lstm-step-cpu.md), float16 parameters (master weights stay float32: lab 07),
// amsgrad.
#include <cmath>

#include "tensor/cpu/backend.h"
#include "tensor/error.h"
#include "tensor/kernels/adam_update.h"

namespace loom {
namespace cpu {
namespace {

// One pass over n elements: reads p, g, m, v once and writes p, m, v. The element math is
// tensor/kernels/adam_update.h's, which cuda/kernels/adam.cu's kernel calls too.
template <typename T, bool Decoupled>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
               const kernels::AdamConstants<T>& c) {
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i], mi = m[i], vi = v[i];
    kernels::adam_update<T, Decoupled>(pi, g[i], mi, vi, c);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

template <typename T>
void adam_param(const AdamParam& a, const AdamHyper& h, int64_t t) {
  const auto c = kernels::adam_constants<T>(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, t);
  T* p = static_cast<T*>(a.param);
  const T* g = static_cast<const T*>(a.grad);
  T* m = static_cast<T*>(a.exp_avg);
  T* v = static_cast<T*>(a.exp_avg_sq);
  if (h.decoupled)
    adam_loop<T, true>(p, g, m, v, a.numel, c);
  else
    adam_loop<T, false>(p, g, m, v, a.numel, c);
}

}  // namespace

void CpuBackend::adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& h,
                           const float* found_inf) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64,
             "adam_step on cpu: float32 or float64 parameters, got ", dtype_name(dtype));
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  for (int i = 0; i < num; ++i) {
    const AdamParam& a = params[i];
    const int64_t t = *a.step + 1;
    if (dtype == DType::Float32)
      adam_param<float>(a, h, t);
    else
      adam_param<double>(a, h, t);
    *a.step = t;
  }
}

}  // namespace cpu
}  // namespace loom
