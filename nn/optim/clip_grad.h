// nn/optim/clip_grad.h: gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_).
//
//   total = sqrt(sum over parameters of sum(g^2));  if max_norm / (total + 1e-6) < 1, every
//   gradient is scaled in place by that factor. Returns total (the norm BEFORE clipping).
// Parameters without a gradient are skipped. The norm is accumulated in double.
//
// Leaves out: other norms (inf, p), error_if_nonfinite.
#pragma once

#include <vector>

#include "autograd/variable.h"

namespace loom::nn {

double clip_grad_norm_(const std::vector<Variable>& params, double max_norm);

}  // namespace loom::nn
