// nn/conv1d.cpp: conv1d as one graph node, and the Conv1d module (nn/conv1d.h).
#include "nn/conv1d.h"

#include <cmath>

#include "autograd/node.h"
#include "nn/init.h"
#include "tensor/conv1d.h"

namespace loom::nn {

// y = im2col(x) W^T + b;  dx = col2im(g W), dW = g^T im2col(x), db = the sum of g over (B, T_out).
// Saves x and W, not the columns: those are K times larger than x and cheap to rebuild.
Variable conv1d(const Variable& x, const Variable& weight, const Variable& bias, int64_t padding) {
  struct Saved {
    Tensor x, weight;
  };
  const Tensor y =
      conv1d_forward(x.data(), weight.data(), bias.defined() ? bias.data() : Tensor(), padding);
  Conv1dGradsWanted want;
  want.x = x.requires_grad();
  want.weight = weight.requires_grad();
  want.bias = bias.defined() && bias.requires_grad();
  std::vector<Variable> inputs = {x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record("Conv1dBackward", y, inputs, Saved{x.data(), weight.data()},
                [padding, want, has_bias = bias.defined()](const Tensor& g, const Saved& s) {
                  Conv1dGrads d = conv1d_backward(g, s.x, s.weight, padding, want);
                  std::vector<Tensor> out = {d.x, d.weight};
                  if (has_bias) out.push_back(d.bias);
                  return out;
                });
}

Conv1d::Conv1d(const Conv1dOptions& options, Generator& gen) : Module("Conv1d"), options_(options) {
  const Conv1dOptions& o = options;
  LOOM_CHECK(o.in_channels_ > 0 && o.out_channels_ > 0 && o.kernel_size_ > 0 && o.padding_ >= 0,
             "Conv1d: in_channels, out_channels and kernel_size must be > 0 and padding >= 0, got ",
             o.in_channels_, ", ", o.out_channels_, ", ", o.kernel_size_, " and ", o.padding_);
  LOOM_CHECK(o.dtype_ == DType::Float32 || o.dtype_ == DType::Float64,
             "Conv1d: float32 or float64 only, got ", dtype_name(o.dtype_));
  // PyTorch: kaiming_uniform(a = sqrt(5)) over fan_in = in * K, i.e. U(-1/sqrt(fan_in), ...),
  // and the bias from the same bound.
  const double bound = 1.0 / std::sqrt(static_cast<double>(o.in_channels_ * o.kernel_size_));
  Tensor w = empty({o.out_channels_, o.in_channels_, o.kernel_size_}, o.dtype_);
  init::uniform_(w, -bound, bound, gen);
  weight = register_parameter("weight", Variable(w));
  if (o.bias_) {
    Tensor b = empty({o.out_channels_}, o.dtype_);
    init::uniform_(b, -bound, bound, gen);
    bias = register_parameter("bias", Variable(b));
  }
}

Variable Conv1d::forward(const Variable& x) {
  LOOM_CHECK(x.defined() && x.dim() == 3 && x.size(2) == options_.in_channels_, "Conv1d: input ",
             x.defined() ? shape_str(x.shape()) : std::string("undefined"),
             " must be [batch, time, in_channels = ", options_.in_channels_, "]");
  return conv1d(x, weight, bias, options_.padding_);
}

}  // namespace loom::nn
