// nn/losses.h: the loss functions, with PyTorch's formulas, reductions and gradients.
//
// Each loss computes the per-element loss l with tensor ops, reduces it (mean | sum | none),
// and records one autograd node whose closed-form backward sits next to it in losses.cpp.
// Targets are plain Tensors (never differentiated) of the input's dtype, except
// cross_entropy's class indices (Int64).
//   bce_with_logits  l = max(x, 0) - x*y + log(1 + exp(-|x|))    dl/dx = sigmoid(x) - y
//   bce              l = -(y*max(log p, -100) + (1-y)*max(log(1-p), -100))
//                    dl/dp = (p - y) / max(p (1-p), 1e-12)         (PyTorch's clamps)
//   cross_entropy    l_n = logsumexp(x_n) - x_n[t_n]    dl/dx_n = softmax(x_n) - onehot(t_n)
//   mse              l = (x - y)^2                      dl/dx = 2 (x - y)
//   huber (d = x-y)  l = d^2/2 if |d| <= delta, else delta (|d| - delta/2)   dl/dx = clamp(d)
// Mean divides by the number of loss elements (batch rows for cross_entropy). Why the
// BCE-with-logits form is stable without log1p: docs/labs/03-layers.md, "Losses".
//
// Leaves out: class weights, pos_weight, ignore_index, label smoothing, NLLLoss on its own.
#pragma once

#include "autograd/variable.h"

namespace loom::nn {

enum class Reduction { None, Mean, Sum };

// logits, target: same shape (any), same float dtype -> 0-d (Mean, Sum) or logits' shape (None).
Variable bce_with_logits(const Variable& logits, const Tensor& target,
                         Reduction reduction = Reduction::Mean);
// probs in [0, 1], target: same shape and dtype.
Variable binary_cross_entropy(const Variable& probs, const Tensor& target,
                              Reduction reduction = Reduction::Mean);
// logits [N, C], target [N] Int64 class indices in [0, C) -> 0-d, or [N] with None.
Variable cross_entropy(const Variable& logits, const Tensor& target,
                       Reduction reduction = Reduction::Mean);
// input, target: same shape and dtype.
Variable mse_loss(const Variable& input, const Tensor& target,
                  Reduction reduction = Reduction::Mean);
// input, target: same shape and dtype; delta > 0 (dl/dx = clamp(x - y, -delta, delta)).
Variable huber_loss(const Variable& input, const Tensor& target,
                    Reduction reduction = Reduction::Mean, double delta = 1.0);

}  // namespace loom::nn
