// autograd/ops/index.cpp: index_select (embedding gather), where, masked_fill, cast.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {

// y = x gathered along dim: x [.., R, ..], index [K] -> y [.., K, ..].
// dx = zeros [.., R, ..] with g's slices scatter-added at the index rows (a row picked twice
// gets both gradients). Saves the index only.
Variable index_select(const Variable& x, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  struct Saved {
    Tensor index;
  };
  return record("IndexSelectBackward", index_select(x.data(), d, index), {x}, Saved{index},
                [sx = x.shape(), d](const Tensor& g, const Saved& s) {
                  Tensor dx = zeros(sx, TensorOptions(g.dtype(), g.device()));
                  index_add_(dx, d, s.index, g);
                  return std::vector<Tensor>{dx};
                });
}

// y = cond ? a : b (all three broadcast);  da = g where cond, db = g where !cond, each summed
// back to its input's shape. Saves cond.
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  struct Saved {
    Tensor cond;
  };
  return record("WhereBackward", where(cond, a.data(), b.data()), {a, b}, Saved{cond},
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const Saved& s) {
                  const Tensor zero = scalar_tensor(0, TensorOptions(g.dtype(), g.device()));
                  const Tensor& c = s.cond;
                  return std::vector<Tensor>{sum_to_shape(where(c, g, zero), sa),
                                             sum_to_shape(where(c, zero, g), sb)};
                });
}

// y = x with value where mask;  dx = g where !mask. Saves mask.
Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  struct Saved {
    Tensor mask;
  };
  return record("MaskedFillBackward", masked_fill(x.data(), mask, value), {x}, Saved{mask},
                [](const Tensor& g, const Saved& s) {
                  return std::vector<Tensor>{masked_fill(g, s.mask, 0.0)};
                });
}

// y = x converted to dtype;  dx = g converted back to x's dtype.
Variable cast(const Variable& x, DType dtype) {
  return record("CastBackward", x.data().to(dtype), {x},
                [from = x.dtype()](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

}  // namespace loom
