// autograd/ops/reduce.cpp: sum, mean, max (over all elements or along a dim).
//
// Shapes: x [S...] -> y [] (all) or S with dim removed (kept as 1 with keepdim).
// The backward of a sum broadcasts g back to x's shape (an expand: a stride-0 view, no copy).
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {
namespace {
// What max saves: the argmax index (Int64), not the input.
struct SavedArgmax {
  Tensor argmax;
};

// g reshaped so that it broadcasts against x: re-insert the reduced dim as size 1.
Tensor unreduce(const Tensor& g, int64_t dim, bool keepdim, const Shape& x_shape) {
  const Tensor k = keepdim || x_shape.empty() ? g : g.unsqueeze(dim);
  return k.expand(x_shape);
}
}  // namespace

// y = sum(x);  dx = g broadcast to x. Saves nothing.
Variable sum(const Variable& x) {
  return record("SumBackward", sum(x.data()), {x},
                [sx = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.expand(sx)}; });
}

Variable sum(const Variable& x, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x.dim(), "sum");
  return record("SumDimBackward", sum(x.data(), d, keepdim), {x},
                [sx = x.shape(), d, keepdim](const Tensor& g) {
                  return std::vector<Tensor>{unreduce(g, d, keepdim, sx)};
                });
}

// y = mean(x);  dx = g / n broadcast to x. Saves nothing.
Variable mean(const Variable& x) {
  const double n = static_cast<double>(x.numel());
  return record("MeanBackward", mean(x.data()), {x}, [sx = x.shape(), n](const Tensor& g) {
    return std::vector<Tensor>{div(g, n).expand(sx)};
  });
}

Variable mean(const Variable& x, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x.dim(), "mean");
  const double n = static_cast<double>(x.dim() == 0 ? 1 : x.size(d));
  return record("MeanDimBackward", mean(x.data(), d, keepdim), {x},
                [sx = x.shape(), d, keepdim, n](const Tensor& g) {
                  return std::vector<Tensor>{unreduce(div(g, n), d, keepdim, sx)};
                });
}

// y = max(x);  dx = g at the (first) argmax, 0 elsewhere. Saves the argmax index only.
Variable max(const Variable& x) {
  const Tensor idx = needs_grad({x}) ? argmax(x.data()).reshape({1}) : Tensor();
  return record("MaxBackward", max(x.data()), {x}, SavedArgmax{idx},
                [sx = x.shape()](const Tensor& g, const SavedArgmax& s) {
                  Tensor dx = zeros({numel(sx)}, TensorOptions(g.dtype(), g.device()));
                  index_add_(dx, 0, s.argmax, g.reshape({1}));
                  return std::vector<Tensor>{dx.reshape(sx)};
                });
}

// y = max(x, dim);  dx = g at each slice's argmax. Saves argmax (keepdim shape): the one-hot
// mask is rebuilt in backward as (arange along dim == argmax).
Variable max(const Variable& x, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x.dim(), "max");
  const Tensor idx = needs_grad({x}) && x.dim() > 0 ? argmax(x.data(), d, true) : Tensor();
  return record("MaxDimBackward", max(x.data(), d, keepdim), {x}, SavedArgmax{idx},
                [sx = x.shape(), d, keepdim](const Tensor& g, const SavedArgmax& s) {
                  if (sx.empty()) return std::vector<Tensor>{g};
                  Shape pos_shape(sx.size(), 1);
                  pos_shape[d] = sx[d];
                  const Tensor pos =
                      arange(static_cast<double>(sx[d]), TensorOptions(DType::Int64, g.device()))
                          .reshape(pos_shape);
                  const Tensor onehot = eq(pos, s.argmax).to(g.dtype());  // [..., n, ...]
                  const Tensor gk = keepdim ? g : g.unsqueeze(d);
                  return std::vector<Tensor>{mul(onehot, gk)};
                });
}

}  // namespace loom
