// nn/dropout.h: Dropout and SpatialDropout1d (Keras' SpatialDropout1D).
//
// In training, Dropout zeroes each element with probability p and scales the survivors by
// 1/(1-p), so the expected value is unchanged and eval() can be the identity.
// SpatialDropout1d does the same to whole channels: for input [batch, seq, channels] one
// keep/drop draw per (sample, channel) is shared by every timestep, so an embedding dimension
// vanishes from the whole review rather than from single tokens. In eval mode, or with p = 0,
// both return their input unchanged (no copy, no node).
//
// Masks come from a Generator (default_generator() unless one is given): the same seed gives
// the same masks on any thread count or device. p = 1 drops everything (output zeros).
//
// Leaves out: in-place dropout, Dropout2d/3d, alpha dropout.
#pragma once

#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: implicit, Dropout(0.2) reads well
  DropoutOptions& p(double v) {
    p_ = v;
    return *this;
  }
  double p_;
};

// keep / (1 - p) with keep ~ Bernoulli(1 - p), of `shape` (zeros for p = 1): an inverted dropout
// mask, drawn from `gen` (the LSTM's recurrent dropout uses it directly).
Tensor dropout_mask(const Shape& shape, double p, Generator& gen, TensorOptions options);

// y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) of `mask_shape` (broadcast to x's shape).
// Backward multiplies by the same scaled mask, the only tensor it saves.
Variable dropout_with_mask_shape(const Variable& x, double p, const Shape& mask_shape,
                                 Generator& gen);

// y = x * mask (broadcast), dx = g * mask: the op of dropout_with_mask_shape and of the modules
// below, for a caller that draws the mask itself (masks of one shape multiply into one: one
// pass over x).
Variable dropout_with_mask(const Variable& x, const Tensor& mask);

class Dropout : public Module {
 public:
  explicit Dropout(const DropoutOptions& options = {}, Generator& gen = default_generator());
  // any shape -> same shape
  Variable forward(const Variable& x) override;
  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;  // not owned
};

class SpatialDropout1d : public Module {
 public:
  explicit SpatialDropout1d(const DropoutOptions& options = {},
                            Generator& gen = default_generator());
  // [batch, seq, channels] -> same shape; mask [batch, 1, channels]
  Variable forward(const Variable& x) override;
  // The mask forward(x) would multiply by (the same draw from the generator), or an undefined
  // tensor where forward returns x unchanged (eval, p = 0).
  Tensor draw_mask(const Variable& x);
  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace loom::nn
