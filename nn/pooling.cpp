// nn/pooling.cpp: max and mean over time with padding left out (nn/pooling.h).
#include "nn/pooling.h"

#include <limits>

#include "autograd/functions.h"

namespace loom::nn {
namespace {

void check_args(const char* op, const Variable& x, const Tensor& padding) {
  LOOM_CHECK(x.defined() && x.dim() == 3, op, ": x must be [B, T, C], got ",
             x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  LOOM_CHECK(padding.defined() && padding.dtype() == DType::Bool &&
                 padding.shape() == Shape({x.size(0), x.size(1)}),
             op, ": padding must be Bool ", shape_str({x.size(0), x.size(1)}), ", got ",
             padding.defined()
                 ? std::string(dtype_name(padding.dtype())) + " " + shape_str(padding.shape())
                 : std::string("undefined"));
  LOOM_CHECK(padding.device() == x.device(), op, ": padding is on ", padding.device().str(),
             ", x on ", x.device().str());
}

// [B, 1] (x's dtype): how many real steps each sequence has.
Tensor real_steps(const Tensor& padding, DType dtype) {
  return sum(eq(padding, zeros({}, TensorOptions(DType::Bool, padding.device()))).to(dtype), 1,
             /*keepdim=*/true);
}

}  // namespace

Variable max_over_time(const Variable& x, const Tensor& padding) {
  check_args("max_over_time", x, padding);
  // Padding steps can never be the maximum: they are -inf before the max.
  const Variable filled =
      masked_fill(x, padding.unsqueeze(2), -std::numeric_limits<double>::infinity());
  const Variable m = max(filled, 1);  // [B, C]; -inf for a sequence with no real step
  const Tensor any = gt(real_steps(padding, x.dtype()), 0.0);  // [B, 1]
  return where(any, m, Variable(zeros({}, TensorOptions(x.dtype(), x.device()))));
}

Variable mean_over_time(const Variable& x, const Tensor& padding) {
  check_args("mean_over_time", x, padding);
  const Tensor keep = eq(padding, zeros({}, TensorOptions(DType::Bool, padding.device())))
                          .to(x.dtype())
                          .unsqueeze(2);                                                // [B, T, 1]
  const Tensor steps = real_steps(padding, x.dtype());                                  // [B, 1]
  const Tensor count = maximum(steps, ones({}, TensorOptions(x.dtype(), x.device())));  // >= 1
  return div(sum(mul(x, Variable(keep)), 1), Variable(count));
}

}  // namespace loom::nn
