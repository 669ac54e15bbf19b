// nn/distillation.cpp: the distillation loss and its closed-form gradient (see distillation.h).
#include "nn/distillation.h"

#include "autograd/node.h"
#include "tensor/ops.h"

namespace loom::nn {
namespace {

// Per-element binary cross-entropy of logits x against probabilities p, in the stable form
// max(x, 0) - x p + log(1 + exp(-|x|)) (nn/losses.h).
Tensor bce_elements(const Tensor& x, const Tensor& p) {
  const Tensor zero = zeros({}, TensorOptions(x.dtype(), x.device()));
  return maximum(x, zero) - x * p + log(add(exp(neg(abs(x))), 1.0));
}

}  // namespace

// L = mean[(1 - a) BCE(z, y) + a T^2 (BCE(z/T, q) - BCE(t/T, q))], q = sigmoid(t/T);
// dL/dz = [(1 - a)(sigmoid(z) - y) + a T (sigmoid(z/T) - q)] / N. Saves z, q and y.
Variable distillation_loss(const Variable& student_logits, const Tensor& teacher_logits,
                           const Tensor& labels, const DistillationOptions& o) {
  const Tensor& z = student_logits.data();
  for (const Tensor* t : {&teacher_logits, &labels}) {
    LOOM_CHECK(t->shape() == z.shape() && t->dtype() == z.dtype() && t->device() == z.device(),
               "distillation_loss: student logits ", shape_str(z.shape()), " ",
               dtype_name(z.dtype()), " on ", z.device().str(), ", but a target is ",
               shape_str(t->shape()), " ", dtype_name(t->dtype()), " on ", t->device().str());
  }
  LOOM_CHECK(o.temperature > 0, "distillation_loss: temperature must be > 0, got ", o.temperature);
  LOOM_CHECK(o.alpha >= 0 && o.alpha <= 1, "distillation_loss: alpha must be in [0, 1], got ",
             o.alpha);
  const double T = o.temperature, a = o.alpha;
  const Tensor zt = div(z, T), tt = div(teacher_logits, T);
  const Tensor q = sigmoid(tt);
  // The teacher's entropy makes the soft part a KL divergence (0 at a perfect match).
  const Tensor soft = bce_elements(zt, q) - bce_elements(tt, q);
  const Tensor l = add(mul(bce_elements(z, labels), 1.0 - a), mul(soft, a * T * T));
  struct Saved {
    Tensor z, q, y;
  };
  const double n = static_cast<double>(z.numel());
  return record("DistillationBackward", mean(l), {student_logits}, Saved{z, q, labels},
                [a, T, n](const Tensor& g, const Saved& s) {
                  const Tensor hard = mul(sigmoid(s.z) - s.y, 1.0 - a);
                  const Tensor soft_grad = mul(sigmoid(div(s.z, T)) - s.q, a * T);
                  return std::vector<Tensor>{mul(div(add(hard, soft_grad), n), g)};
                });
}

}  // namespace loom::nn
