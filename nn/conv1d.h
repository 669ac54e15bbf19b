// nn/conv1d.h: Conv1d (stride 1, zero padding) as a module and as a function, one graph node over
// the Tensor ops of tensor/conv1d.h (im2col + GEMM forward, two GEMMs + col2im backward).
//
// Shapes: x [B, T, in] channels-last (an Embedding's output as it is), y [B, T_out, out] with
// T_out = T + 2 * padding - kernel_size + 1; weight [out, in, kernel_size] and bias [out],
// PyTorch's names and layout, so a torch.nn.Conv1d state_dict loads unchanged (PyTorch reads x as
// [B, in, T]: its output is loom's y transposed). Initialised as PyTorch does: weight and bias
// ~ U(-1/sqrt(in * kernel_size), +1/sqrt(in * kernel_size)).
//
//   Conv1d conv(Conv1dOptions(1024, 1024, 3));            // valid: T_out = T - 2
//   Conv1d same(Conv1dOptions(8, 8, 3).padding(1));        // T_out = T
//
// Leaves out: stride, dilation, groups, padding modes other than zeros, autocast (float32 and
// float64 only).
#pragma once

#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

struct Conv1dOptions {
  Conv1dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  Conv1dOptions& padding(int64_t p) {
    padding_ = p;
    return *this;
  }
  Conv1dOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  Conv1dOptions& dtype(DType d) {
    dtype_ = d;
    return *this;
  }
  int64_t in_channels_, out_channels_, kernel_size_;
  int64_t padding_ = 0;
  bool bias_ = true;
  DType dtype_ = DType::Float32;
};

// The convolution as a function (bias may be undefined): one node, backward conv1d_backward.
Variable conv1d(const Variable& x, const Variable& weight, const Variable& bias, int64_t padding);

class Conv1d : public Module {
 public:
  // Draws the initial weights from `gen` (weight first, then bias).
  explicit Conv1d(const Conv1dOptions& options, Generator& gen = default_generator());
  // x [B, T, in] -> [B, T_out, out]
  Variable forward(const Variable& x) override;

  const Conv1dOptions& options() const { return options_; }
  Variable weight;  // [out, in, kernel_size]
  Variable bias;    // [out], undefined without bias

 private:
  Conv1dOptions options_;
};

}  // namespace loom::nn
