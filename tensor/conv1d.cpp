// tensor/conv1d.cpp: conv1d_forward, conv1d_forward_direct, conv1d_backward (tensor/conv1d.h):
// the argument checks, then im2col / col2im (the backend's fused kernels) around matmul.
#include "tensor/conv1d.h"

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/ops.h"

namespace loom {
namespace {

std::string describe(const Tensor& t) {
  return t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + " on " +
                           t.device().str()
                     : std::string("undefined");
}

// Checks x, weight, bias and padding; returns the shape the kernels take.
Conv1dShape check_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                       int64_t padding) {
  LOOM_CHECK(x.defined() && x.dim() == 3, op, ": x must be [batch, time, in_channels], got ",
             describe(x));
  LOOM_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, op,
             ": x must be float32 or float64, got ", describe(x));
  LOOM_CHECK(
      w.defined() && w.dim() == 3 && w.size(1) == x.size(2) && w.size(0) >= 1 && w.size(2) >= 1, op,
      ": weight must be [out_channels, in_channels = ", x.size(2), ", kernel_size], got ",
      describe(w));
  LOOM_CHECK(w.dtype() == x.dtype() && w.device() == x.device(), op,
             ": weight must match x's dtype and device: x ", describe(x), ", weight ", describe(w));
  LOOM_CHECK(!bias.defined() || (bias.shape() == Shape({w.size(0)}) && bias.dtype() == x.dtype() &&
                                 bias.device() == x.device()),
             op, ": bias must be [", w.size(0), "] of x's dtype and device, got ", describe(bias));
  LOOM_CHECK(padding >= 0, op, ": padding must be >= 0, got ", padding);
  Conv1dShape s;
  s.B = x.size(0);
  s.T = x.size(1);
  s.C = x.size(2);
  s.K = w.size(2);
  s.P = padding;
  LOOM_CHECK(x.size(1) >= 1 && s.t_out() >= 1, op, ": a sequence of ", s.T, " steps with padding ",
             padding, " is shorter than the kernel (", s.K, ")");
  return s;
}

// The kernels' view of one quantized tap [O, C].
Int8Weights tap_weights(const QuantizedMatrix& tap, const void* packed) {
  Int8Weights w;
  w.values = tap.values.data_ptr<int8_t>();
  w.scales = tap.scales.data_ptr<float>();
  w.sums = tap.sums.data_ptr<int32_t>();
  w.n = tap.values.size(0);
  w.k = tap.values.size(1);
  w.packed = packed;
  return w;
}

// cols [B*T_out, C*K] of a dense x.
Tensor im2col(const Tensor& x, const Conv1dShape& s) {
  Tensor cols = empty({s.B * s.t_out(), s.C * s.K}, TensorOptions(x.dtype(), x.device()));
  if (s.B > 0)
    fused_kernels_for(x.device(), "conv1d")
        .conv1d_im2col(x.raw_data(), cols.raw_data(), x.dtype(), s);
  return cols;
}

}  // namespace

Tensor conv1d_forward(const Tensor& x_in, const Tensor& w, const Tensor& bias, int64_t padding) {
  const Conv1dShape s = check_args("conv1d", x_in, w, bias, padding);
  const int64_t O = w.size(0);
  if (s.B == 0) return empty({0, s.t_out(), O}, TensorOptions(x_in.dtype(), x_in.device()));
  const Tensor cols = im2col(x_in.contiguous(), s);
  // W [O, C, K] viewed as [O, C*K]; its transpose is read in place (the GEMM's transpose flag).
  Tensor y = matmul(cols, w.contiguous().view({O, s.C * s.K}).t());  // [B*T_out, O]
  if (bias.defined()) y = add(y, bias);
  return y.view({s.B, s.t_out(), O});
}

QuantizedConv1d quantize_conv1d(const Tensor& weight) {
  LOOM_CHECK(weight.defined() && weight.dim() == 3 && weight.dtype() == DType::Float32 &&
                 weight.device().is_cpu(),
             "quantize_conv1d: weight must be float32 [out_channels, in_channels, kernel_size] on "
             "the CPU, got ",
             describe(weight));
  QuantizedConv1d q;
  for (int64_t k = 0; k < weight.size(2); ++k) {
    q.taps.push_back(quantize_per_channel(weight.select(2, k).contiguous()));
    q.packed.push_back(fused_kernels_for(weight.device(), "quantize_conv1d")
                           .pack_int8(tap_weights(q.taps.back(), nullptr)));
  }
  return q;
}

Tensor dequantize(const QuantizedConv1d& w) {
  std::vector<Tensor> taps;
  for (const QuantizedMatrix& tap : w.taps)
    taps.push_back(dequantize(tap).unsqueeze(2));
  return concat(taps, 2);
}

Tensor conv1d_forward_int8(const Tensor& x_in, const QuantizedConv1d& w, const Tensor& bias,
                           int64_t padding) {
  LOOM_CHECK(
      x_in.defined() && x_in.dim() == 3 && x_in.dtype() == DType::Float32 && x_in.device().is_cpu(),
      "conv1d_int8: x must be float32 [batch, time, in_channels] on the CPU, got ", describe(x_in));
  LOOM_CHECK(!w.taps.empty() && w.taps[0].values.defined() && w.taps[0].values.dim() == 2,
             "conv1d_int8: the weight has no taps (use quantize_conv1d)");
  const int64_t O = w.taps[0].values.size(0);
  for (const QuantizedMatrix& tap : w.taps)
    LOOM_CHECK(tap.values.shape() == Shape({O, x_in.size(2)}),
               "conv1d_int8: every tap must be [out_channels = ", O,
               ", in_channels = x's last dim = ", x_in.size(2), "], got ", describe(tap.values));
  LOOM_CHECK(!bias.defined() || (bias.shape() == Shape({O}) && bias.dtype() == DType::Float32),
             "conv1d_int8: bias must be float32 [", O, "], got ", describe(bias));
  LOOM_CHECK(padding >= 0, "conv1d_int8: padding must be >= 0, got ", padding);
  // int32 sums of C products of at most 255 * 127 stay exact.
  LOOM_CHECK(x_in.size(2) <= 66000, "conv1d_int8: in_channels ", x_in.size(2),
             " > 66,000 would overflow the int32 sums");
  Conv1dShape s;
  s.B = x_in.size(0);
  s.T = x_in.size(1);
  s.C = x_in.size(2);
  s.K = static_cast<int64_t>(w.taps.size());
  s.P = padding;
  LOOM_CHECK(s.T >= 1 && s.t_out() >= 1, "conv1d_int8: a sequence of ", s.T, " steps with padding ",
             padding, " is shorter than the kernel (", s.K, ")");
  Tensor y = empty({s.B, s.t_out(), O});
  if (s.B == 0) return y;
  const Tensor x = x_in.contiguous();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  std::vector<Int8Weights> taps;
  for (std::size_t k = 0; k < w.taps.size(); ++k)
    taps.push_back(tap_weights(w.taps[k], k < w.packed.size() ? w.packed[k].get() : nullptr));
  fused_kernels_for(x.device(), "conv1d_int8")
      .conv1d_int8(x.data_ptr<float>(), s, taps.data(), b.defined() ? b.data_ptr<float>() : nullptr,
                   y.data_ptr<float>());
  return y;
}

Tensor conv1d_forward_direct(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in,
                             int64_t padding) {
  const Conv1dShape s = check_args("conv1d_direct", x_in, w_in, bias_in, padding);
  const int64_t O = w_in.size(0);
  Tensor y = empty({s.B, s.t_out(), O}, TensorOptions(x_in.dtype(), x_in.device()));
  if (s.B == 0) return y;
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  fused_kernels_for(x.device(), "conv1d_direct")
      .conv1d_direct(x.raw_data(), w.raw_data(), bias.defined() ? bias.raw_data() : nullptr,
                     y.raw_data(), x.dtype(), s, O);
  return y;
}

Conv1dGrads conv1d_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& w_in,
                            int64_t padding, const Conv1dGradsWanted& want) {
  const Conv1dShape s = check_args("conv1d_backward", x_in, w_in, Tensor(), padding);
  const int64_t O = w_in.size(0), rows = s.B * s.t_out();
  LOOM_CHECK(dy_in.defined() && dy_in.shape() == Shape({s.B, s.t_out(), O}) &&
                 dy_in.dtype() == x_in.dtype() && dy_in.device() == x_in.device(),
             "conv1d_backward: dy must be ", shape_str({s.B, s.t_out(), O}),
             " of x's dtype and device, got ", describe(dy_in));
  Conv1dGrads g;
  const TensorOptions opts(x_in.dtype(), x_in.device());
  if (s.B == 0) {
    if (want.x) g.x = zeros(x_in.shape(), opts);
    if (want.weight) g.weight = zeros(w_in.shape(), opts);
    if (want.bias) g.bias = zeros({O}, opts);
    return g;
  }
  const Tensor dy = dy_in.contiguous().view({rows, O});
  const Tensor w = w_in.contiguous().view({O, s.C * s.K});
  if (want.weight)  // dW [O, C*K] = dy^T cols
    g.weight = matmul(dy.t(), im2col(x_in.contiguous(), s)).view(w_in.shape());
  if (want.bias) g.bias = sum(dy, 0);
  if (want.x) {  // dx = col2im(dy W): each x element gets the sum over the windows that read it
    const Tensor dcols = matmul(dy, w);  // [B*T_out, C*K]
    g.x = empty(x_in.shape(), opts);
    fused_kernels_for(x_in.device(), "conv1d_backward")
        .conv1d_col2im(dcols.raw_data(), g.x.raw_data(), x_in.dtype(), s);
  }
  return g;
}

std::shared_ptr<const void> FusedKernels::pack_int8(const Int8Weights&) {
  return nullptr;
}

void FusedKernels::conv1d_int8(const float*, const Conv1dShape&, const Int8Weights*, const float*,
                               float*) {
  LOOM_FAIL("conv1d_int8: this backend has no int8 kernels (run the int8 model on the CPU)");
}

}  // namespace loom
