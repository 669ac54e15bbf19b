// nn/linear.h: Linear (the IMDB study's "Dense"): y = x W^T + b.
//
// Shapes: x [..., in] -> y [..., out]; weight [out, in], bias [out] (PyTorch's names and
// layout, so checkpoints swap with torch.nn.Linear). Initialised as PyTorch does (weight, bias ~
// U(-1/sqrt(in), 1/sqrt(in))) or, with init(InitScheme::Keras), as Keras' Dense (glorot_uniform
// weight, zero bias); see nn/init.h.
//
//   Linear fc(LinearOptions(100, 1));            // with bias
//   Linear proj(LinearOptions(8, 4).bias(false));
//
// Leaves out: fused activation, low-rank or sparse weights.
#pragma once

#include "nn/init.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  LinearOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  LinearOptions& dtype(DType d) {
    dtype_ = d;
    return *this;
  }
  LinearOptions& init(InitScheme s) {
    init_ = s;
    return *this;
  }
  int64_t in_features_, out_features_;
  bool bias_ = true;
  DType dtype_ = DType::Float32;
  InitScheme init_ = InitScheme::Torch;
};

class Linear : public Module {
 public:
  // Draws the initial weights from `gen` (weight first, then bias).
  explicit Linear(const LinearOptions& options, Generator& gen = default_generator());
  // x [..., in] -> [..., out]
  Variable forward(const Variable& x) override;

  const LinearOptions& options() const { return options_; }
  Variable weight;  // [out, in]
  Variable bias;    // [out], undefined without bias

 private:
  LinearOptions options_;
};

}  // namespace loom::nn
