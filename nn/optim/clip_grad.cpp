// nn/optim/clip_grad.cpp: clip_grad_norm_ (see clip_grad.h).
#include "nn/optim/clip_grad.h"

#include <cmath>

#include "tensor/ops.h"

namespace loom::nn {

double clip_grad_norm_(const std::vector<Variable>& params, double max_norm) {
  LOOM_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  double sq = 0;
  for (const Variable& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    const Tensor g64 = g.to(DType::Float64);
    sq += sum(g64 * g64).item<double>();
  }
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (const Variable& p : params) {
      const Tensor& g = p.grad();
      if (g.defined()) g.copy_(mul(g, coef));
    }
  }
  return total;
}

}  // namespace loom::nn
