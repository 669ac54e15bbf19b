// tensor/kernels/adam_update.h: the Adam/AdamW update of one element, shared by the CPU loop
// (tensor/cpu/adam.cpp) and the CUDA kernel (cuda/kernels/adam_kernels.cuh), so the two cannot
// drift apart; and AdamHyper, the hyper-parameters its Tensor op (tensor/adam.h) takes.
//
// Step t (1-based) of parameter p with gradient g and moments m, v (docs/labs/03-layers.md,
// "Adam, as torch.optim computes it"):
//   Adam: g += wd * p  |  AdamW: p *= 1 - lr * wd;   m = beta1 m + (1 - beta1) g;
//   v = beta2 v + (1 - beta2) g^2;   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps),
// with step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t). The bias corrections are
// computed in double and every constant is rounded to T once (adam_constants); the element
// update runs in T. Both backends call these functions with the same types, so they agree bit
// for bit in float64, and in float32 up to the device's pow.
//
// Leaves out: the loops, threads, vector loads and the step counter (the callers'), amsgrad,
// float16 parameters (master weights stay float32).
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/kernels/host_device.h"

namespace loom {

// Adam's hyper-parameters, as the Tensor op (tensor/adam.h) and both backends take them.
struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // AdamW: p *= 1 - lr * weight_decay first; Adam: g += wd * p
};

namespace kernels {

// The constants of one parameter's step t, already rounded to T.
template <typename T>
struct AdamConstants {
  T b1, b2;               // beta1, beta2
  T one_m_b1, one_m_b2;   // 1 - beta1, 1 - beta2 (rounded once, not per element)
  T wd;                   // weight_decay (Adam: folded into the gradient)
  T decay;                // 1 - lr * weight_decay (AdamW: multiplies the weight)
  T step_size, bc2_sqrt;  // lr / (1 - beta1^t), sqrt(1 - beta2^t)
  T eps;
};

// The constants for step t >= 1. ::pow and ::sqrt on double exist as host and device functions.
template <typename T>
LOOM_HOST_DEVICE inline AdamConstants<T> adam_constants(double lr, double beta1, double beta2,
                                                        double eps, double weight_decay,
                                                        std::int64_t t) {
  const double td = static_cast<double>(t);
  const double step_size = lr / (1 - ::pow(beta1, td));
  const double bc2_sqrt = ::sqrt(1 - ::pow(beta2, td));
  return {T(beta1),     T(beta2),        T(1 - beta1),
          T(1 - beta2), T(weight_decay), T(1 - lr * weight_decay),
          T(step_size), T(bc2_sqrt),     T(eps)};
}

// Overloads so that float stays float on both sides (a sqrtf, which a CPU loop vectorises).
LOOM_HOST_DEVICE inline float adam_sqrt(float x) {
  return ::sqrtf(x);
}
LOOM_HOST_DEVICE inline double adam_sqrt(double x) {
  return ::sqrt(x);
}

// One element: p, m, v updated in place from g. Decoupled selects AdamW (a template parameter,
// so the loops calling this have no branch inside).
template <typename T, bool Decoupled>
LOOM_HOST_DEVICE inline void adam_update(T& p, T g, T& m, T& v, const AdamConstants<T>& c) {
  // BEGIN LAB 03 TASK 2 uses(p, g, m, v, c)
  if (Decoupled)
    p *= c.decay;  // AdamW: decay the weight itself, before the update
  else
    g += c.wd * p;  // Adam: L2, folded into the gradient
  m = c.b1 * m + c.one_m_b1 * g;
  v = c.b2 * v + c.one_m_b2 * g * g;
  p = p - c.step_size * m / (adam_sqrt(v) / c.bc2_sqrt + c.eps);  // eps after the sqrt
  // END LAB 03 TASK 2
}

}  // namespace kernels
}  // namespace loom
