// nn/dropout.cpp: the dropout op (forward and backward side by side) and its two modules.
#include "nn/dropout.h"

#include "autograd/node.h"
#include "tensor/ops.h"

namespace loom::nn {

namespace {
void check_p(double p, const char* who) {
  LOOM_CHECK(p >= 0.0 && p <= 1.0, who, ": dropout probability must be in [0, 1], got ", p);
}
}  // namespace

Tensor dropout_mask(const Shape& shape, double p, Generator& gen, TensorOptions options) {
  check_p(p, "dropout");
  if (p >= 1.0) return zeros(shape, options);
  // keep where u < 1 - p, which happens with probability 1 - p.
  const Tensor u = rand(shape, gen, options);
  return mul(lt(u, 1.0 - p).to(options.dtype), 1.0 / (1.0 - p));
}

// y = x * m, m = keep / (1 - p) of mask_shape (broadcast); dx = g * m. Saves m (small for
// SpatialDropout1d: [B, 1, C]).
Variable dropout_with_mask_shape(const Variable& x, double p, const Shape& mask_shape,
                                 Generator& gen) {
  return dropout_with_mask(x,
                           dropout_mask(mask_shape, p, gen, TensorOptions(x.dtype(), x.device())));
}

Variable dropout_with_mask(const Variable& x, const Tensor& mask) {
  struct Saved {
    Tensor mask;  // keep / (1 - p), broadcast to x
  };
  return record(
      "DropoutBackward", mul(x.data(), mask), {x}, Saved{mask},
      [](const Tensor& g, const Saved& s) { return std::vector<Tensor>{mul(g, s.mask)}; });
}

Dropout::Dropout(const DropoutOptions& options, Generator& gen)
    : Module("Dropout"), p_(options.p_), gen_(&gen) {
  check_p(p_, "Dropout");
}

Variable Dropout::forward(const Variable& x) {
  if (!is_training() || p_ == 0.0) return x;
  return dropout_with_mask_shape(x, p_, x.shape(), *gen_);
}

SpatialDropout1d::SpatialDropout1d(const DropoutOptions& options, Generator& gen)
    : Module("SpatialDropout1d"), p_(options.p_), gen_(&gen) {
  check_p(p_, "SpatialDropout1d");
}

Variable SpatialDropout1d::forward(const Variable& x) {
  const Tensor mask = draw_mask(x);
  return mask.defined() ? dropout_with_mask(x, mask) : x;
}

Tensor SpatialDropout1d::draw_mask(const Variable& x) {
  LOOM_CHECK(x.dim() == 3, "SpatialDropout1d: expected [batch, seq, channels], got ",
             shape_str(x.shape()));
  if (!is_training() || p_ == 0.0) return Tensor();
  return dropout_mask({x.size(0), 1, x.size(2)}, p_, *gen_, TensorOptions(x.dtype(), x.device()));
}

}  // namespace loom::nn
