// tensor/ops_reduce.cpp: sum, mean, max, min, argmax (along a dim or over all), sum_to_shape.
//
// A reduction along dim d views the contiguous input as [outer, n, inner] (outer = product
// of sizes before d, inner = product after) and calls the backend's one reduce kernel.
#include "tensor/backend.h"
#include "tensor/ops.h"

namespace loom {
namespace {

Tensor reduce_dim(ReduceOp op, const Tensor& x, int64_t dim, bool keepdim, const char* name) {
  LOOM_CHECK(x.defined(), name, ": argument 'x' is an undefined tensor");
  const int64_t d = normalize_dim(dim, x.dim(), name);
  const Tensor c = x.dim() == 0 ? x.reshape({1}) : x.contiguous();
  const Shape& sh = c.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i)
    outer *= sh[i];
  for (size_t i = d + 1; i < sh.size(); ++i)
    inner *= sh[i];
  const int64_t n = sh[d];
  Shape out_shape = sh;
  out_shape[d] = 1;
  const DType out_dtype = op == ReduceOp::ArgMax ? DType::Int64 : x.dtype();
  Tensor out;
  if (n == 0) {
    LOOM_CHECK(op == ReduceOp::Sum, name, ": cannot reduce an empty dim ", d, " of shape ",
               shape_str(x.shape()));
    out = zeros(out_shape, TensorOptions(out_dtype, x.device()));
  } else {
    out = empty(out_shape, TensorOptions(out_dtype, x.device()));
    if (out.numel() > 0) {
      backend_for(x.device()).reduce(op, c.raw_data(), out.raw_data(), x.dtype(), outer, n, inner);
    }
  }
  if (x.dim() == 0) return out.reshape({});
  return keepdim ? out : out.squeeze(d);
}

Tensor reduce_all(ReduceOp op, const Tensor& x, const char* name) {
  LOOM_CHECK(x.defined(), name, ": argument 'x' is an undefined tensor");
  return reduce_dim(op, x.reshape({x.numel()}), 0, false, name);
}

}  // namespace

Tensor sum(const Tensor& x) {
  return reduce_all(ReduceOp::Sum, x, "sum");
}
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce_dim(ReduceOp::Sum, x, dim, keepdim, "sum");
}

Tensor mean(const Tensor& x) {
  LOOM_CHECK(x.defined() && x.numel() > 0, "mean: needs a non-empty tensor");
  return div(sum(x), static_cast<double>(x.numel()));
}
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  const int64_t n = x.size(dim);
  LOOM_CHECK(n > 0, "mean: dim ", dim, " of shape ", shape_str(x.shape()), " is empty");
  return div(sum(x, dim, keepdim), static_cast<double>(n));
}

Tensor max(const Tensor& x) {
  return reduce_all(ReduceOp::Max, x, "max");
}
Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce_dim(ReduceOp::Max, x, dim, keepdim, "max");
}
Tensor min(const Tensor& x) {
  return reduce_all(ReduceOp::Min, x, "min");
}
Tensor min(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce_dim(ReduceOp::Min, x, dim, keepdim, "min");
}
Tensor argmax(const Tensor& x) {
  return reduce_all(ReduceOp::ArgMax, x, "argmax");
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce_dim(ReduceOp::ArgMax, x, dim, keepdim, "argmax");
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  LOOM_CHECK(x.dim() >= static_cast<int64_t>(shape.size()), "sum_to_shape: cannot sum ",
             shape_str(x.shape()), " to the larger shape ", shape_str(shape));
  Tensor r = x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  for (int64_t i = 0; i < lead; ++i)
    r = sum(r, 0, false);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1 && r.size(i) != 1) r = sum(r, i, true);
  }
  LOOM_CHECK(r.shape() == shape, "sum_to_shape: ", shape_str(x.shape()),
             " does not broadcast from ", shape_str(shape));
  return r;
}

}  // namespace loom
