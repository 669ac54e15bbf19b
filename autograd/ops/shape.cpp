// autograd/ops/shape.cpp: reshape, transpose, permute, narrow, select, (un)squeeze, expand,
// concat, stack, split, chunk.
//
// Forward results are views of the input where the Tensor op gives one. Backward maps the
// gradient back through the inverse view (reshape back, transpose back, ...) or, for ops that
// take a part of x (narrow, select), writes g into a zero tensor of x's shape. None of these
// ops saves a tensor: shapes and dims are all backward needs.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {

// y = x viewed as `shape`;  dx = g reshaped to x's shape.
Variable reshape(const Variable& x, const Shape& shape) {
  return record("ReshapeBackward", x.data().reshape(shape), {x},
                [sx = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(sx)}; });
}

// y = x with d0 and d1 swapped;  dx = g with them swapped back.
Variable transpose(const Variable& x, int64_t d0, int64_t d1) {
  return record("TransposeBackward", x.data().transpose(d0, d1), {x},
                [d0, d1](const Tensor& g) { return std::vector<Tensor>{g.transpose(d0, d1)}; });
}

// y = x.permute(dims);  dx = g.permute(inverse(dims)).
Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor y = x.data().permute(dims);
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  }
  return record("PermuteBackward", y, {x},
                [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

// y = x[..., start:start+length, ...] along dim;  dx = zeros with g written at that slot.
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  Tensor y = x.data().narrow(dim, start, length);
  const int64_t d = normalize_dim(dim, x.dim(), "narrow");
  const int64_t s0 = start < 0 ? start + x.size(d) : start;
  return record("NarrowBackward", y, {x}, [sx = x.shape(), d, s0, length](const Tensor& g) {
    Tensor dx = zeros(sx, TensorOptions(g.dtype(), g.device()));
    dx.narrow(d, s0, length).copy_(g);
    return std::vector<Tensor>{dx};
  });
}

// y = x[..., index, ...] (dim removed);  dx = zeros with g written at that index.
Variable select(const Variable& x, int64_t dim, int64_t index) {
  Tensor y = x.data().select(dim, index);
  const int64_t d = normalize_dim(dim, x.dim(), "select");
  const int64_t i0 = index < 0 ? index + x.size(d) : index;
  return record("SelectBackward", y, {x}, [sx = x.shape(), d, i0](const Tensor& g) {
    Tensor dx = zeros(sx, TensorOptions(g.dtype(), g.device()));
    dx.select(d, i0).copy_(g);
    return std::vector<Tensor>{dx};
  });
}

Variable unsqueeze(const Variable& x, int64_t dim) {
  return record("UnsqueezeBackward", x.data().unsqueeze(dim), {x},
                [sx = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(sx)}; });
}

Variable squeeze(const Variable& x, int64_t dim) {
  return record("SqueezeBackward", x.data().squeeze(dim), {x},
                [sx = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(sx)}; });
}

// y = x broadcast to `shape` (stride-0 view);  dx = g summed back to x's shape.
Variable expand(const Variable& x, const Shape& shape) {
  return record("ExpandBackward", x.data().expand(shape), {x}, [sx = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to_shape(g, sx)};
  });
}

// y = [x0, x1, ...] joined along dim;  dxi = the slice of g where xi landed.
Variable concat(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> data;
  std::vector<int64_t> sizes;
  for (const Variable& x : xs) {
    data.push_back(x.data());
    sizes.push_back(x.dim() > 0 ? x.size(dim) : 0);
  }
  Tensor y = concat(data, dim);
  const int64_t d = normalize_dim(dim, y.dim(), "concat");
  return record("ConcatBackward", y, xs, [sizes, d](const Tensor& g) {
    std::vector<Tensor> grads;
    int64_t at = 0;
    for (int64_t n : sizes) {
      grads.push_back(g.narrow(d, at, n));
      at += n;
    }
    return grads;
  });
}

// Composed: the gradient flows back through ConcatBackward and UnsqueezeBackward.
Variable stack(const std::vector<Variable>& xs, int64_t dim) {
  LOOM_CHECK(!xs.empty(), "stack: needs at least one variable");
  const int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Variable> parts;
  for (const Variable& x : xs)
    parts.push_back(unsqueeze(x, d));
  return concat(parts, d);
}

// Each part is a narrow of x, so each has its own NarrowBackward; gradients of the parts
// add up in x's gradient.
std::vector<Variable> split(const Variable& x, int64_t split_size, int64_t dim) {
  std::vector<Variable> out;
  int64_t at = 0;
  const int64_t d = normalize_dim(dim, x.dim(), "split");
  for (const Tensor& part : split(x.data(), split_size, d)) {
    out.push_back(narrow(x, d, at, part.size(d)));
    at += part.size(d);
  }
  return out;
}

std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim) {
  LOOM_CHECK(chunks >= 1, "chunk: chunks must be >= 1, got ", chunks);
  const int64_t d = normalize_dim(dim, x.dim(), "chunk");
  const int64_t size = (x.size(d) + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), d);
}

}  // namespace loom
