// tensor/cpu/cpu_adam.cpp: the CPU backend's Adam/AdamW step (Backend::adam_step; CUDA twin:
// cuda/adam.cu), and the Backend interface's default for it (throws).
//
// The call updates every parameter of an optimizer (nn/optim/adam.cpp is the caller; the
// formulas are in nn/optim/adam.h). Per parameter:
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
// parameters (master weights stay float32: lab 08), amsgrad.
#include <cmath>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/error.h"

namespace loom {

void Backend::adam_step(const AdamParam*, int, DType dtype, const AdamHyper&, const float*) {
  LOOM_FAIL("adam_step: not implemented by backend ", name(), " (dtype ", dtype_name(dtype), ")");
}

namespace cpu {
namespace {

// The constants of one parameter's step t, computed in double (cuda/adam.cu computes the same
// expressions on the device).
struct StepConstants {
  double step_size;  // lr / (1 - beta1^t)
  double bc2_sqrt;   // sqrt(1 - beta2^t)
};

StepConstants constants_at(const Backend::AdamHyper& h, int64_t t) {
  const double td = static_cast<double>(t);
  return {h.lr / (1 - std::pow(h.beta1, td)), std::sqrt(1 - std::pow(h.beta2, td))};
}

// One pass over n elements: reads p, g, m, v once and writes p, m, v.
template <typename T, bool Decoupled>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
               const Backend::AdamHyper& h, const StepConstants& c) {
  const T b1 = T(h.beta1), b2 = T(h.beta2), one_m_b1 = T(1 - h.beta1), one_m_b2 = T(1 - h.beta2);
  const T wd = T(h.weight_decay), decay = T(1 - h.lr * h.weight_decay);
  const T step_size = T(c.step_size), bc2_sqrt = T(c.bc2_sqrt), eps = T(h.eps);
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    T pi = p[i];
    if (Decoupled)
      pi *= decay;  // AdamW: decay the weight itself, before the update
    else
      gi += wd * pi;  // Adam: L2, folded into the gradient
    const T mi = b1 * m[i] + one_m_b1 * gi;
    const T vi = b2 * v[i] + one_m_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);  // eps after the sqrt
  }
}

template <typename T>
void adam_param(const Backend::AdamParam& a, const Backend::AdamHyper& h, const StepConstants& c) {
  T* p = static_cast<T*>(a.param);
  const T* g = static_cast<const T*>(a.grad);
  T* m = static_cast<T*>(a.exp_avg);
  T* v = static_cast<T*>(a.exp_avg_sq);
  if (h.decoupled)
    adam_loop<T, true>(p, g, m, v, a.numel, h, c);
  else
    adam_loop<T, false>(p, g, m, v, a.numel, h, c);
}

}  // namespace

void CpuBackend::adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& h,
                           const float* found_inf) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64,
             "adam_step: parameters must be float32 or float64, got ", dtype_name(dtype));
  LOOM_CHECK(num >= 0, "adam_step: negative parameter count ", num);
  LOOM_CHECK(num == 0 || params != nullptr, "adam_step: null parameter table for ", num,
             " parameters");
  for (int i = 0; i < num; ++i) {
    const AdamParam& a = params[i];
    LOOM_CHECK(a.numel >= 0, "adam_step: parameter ", i, " has negative numel ", a.numel);
    LOOM_CHECK(a.step != nullptr, "adam_step: parameter ", i, " has no step counter");
    LOOM_CHECK(a.numel == 0 || (a.param && a.grad && a.exp_avg && a.exp_avg_sq),
               "adam_step: ", "parameter ", i, " has a null param/grad/exp_avg/exp_avg_sq with ",
               a.numel, " elements");
  }
  // Checked after the arguments, so that bad input fails whatever the flag says.
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  for (int i = 0; i < num; ++i) {
    const AdamParam& a = params[i];
    const int64_t t = *a.step + 1;
    const StepConstants c = constants_at(h, t);
    if (dtype == DType::Float32)
      adam_param<float>(a, h, c);
    else
      adam_param<double>(a, h, c);
    *a.step = t;
  }
}

}  // namespace cpu
}  // namespace loom
