// tensor/cpu/adam.cpp: the CPU backend's Adam/AdamW step (FusedKernels::adam_step; CUDA twin:
// cuda/kernels/adam.cu; caller: tensor/adam.cpp; formulas: nn/optim/adam.h).
//
// The call updates every parameter of an optimizer. Per parameter:
//   1. if the loss scaler's flag *found_inf is set, nothing at all (checked once, up front);
//   2. t = *step + 1, and the bias corrections lr / (1 - beta1^t), sqrt(1 - beta2^t) in double;
//   3. ONE pass over its four buffers (p, g, m, v): each element read once, p, m, v written
//      once, no temporaries;
//   4. *step = t.
// The step count lives in a buffer (not a host argument) because on a GPU it must stay on the
// device, where the kernel advances it unless the step is skipped; the CPU does the same, so the
// two backends have one contract and the tests can compare them.
//
// The arithmetic is in the buffers' type T (float for float32), like PyTorch's CPU kernels; the
// constants are rounded to T once. The loop takes its four pointers `__restrict` (they never
// overlap), Adam vs AdamW is a template parameter, and this file is compiled with
// -fno-math-errno (tensor/CMakeLists.txt): so GCC vectorises the whole loop, std::sqrt
// included (without the flag it must keep a scalar sqrt call that could set errno).
//
// Leaves out: threads (for the IMDB model's 131k parameters the step took ~0.24 ms on a loaded
// machine, under 1% of its ~40 ms training step: docs/results/lstm-step-cpu.md), float16
// parameters (master weights stay float32: lab 07), amsgrad.
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
