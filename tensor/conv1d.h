// tensor/conv1d.h: 1-D convolution (stride 1, zero padding) as Tensor ops, forward and backward,
// the way the fused LSTM is split (tensor/lstm.h). nn/conv1d.h records them as one graph node;
// docs/labs/12-convolutions.md explains im2col.
//
// Layout: x [B, T, C] channels-last (batch, time, channels: what an Embedding gives), weight
// [O, C, K] (PyTorch's torch.nn.Conv1d layout, so its weights load unchanged), bias [O] or
// undefined; y [B, T_out, O] with T_out = T + 2*padding - K + 1. PyTorch's Conv1d reads [B, C, T]:
// loom's y is PyTorch's output transposed, y = conv(x.transpose(1, 2)).transpose(1, 2).
//   forward:  cols = im2col(x) [B*T_out, C*K] (one row per output step), y = cols W^T + b: one GEMM
//   backward: dW = dy^T cols, db = the column sums of dy, dx = col2im(dy W): two GEMMs
// conv1d_forward_direct is the same forward as a plain loop: the reference for tests.
// conv1d_forward_int8 is the inference forward with int8 weights (one GEMM per kernel tap).
// float32 or float64; CPU and CUDA (int8: float32 on the CPU). Errors name argument and shapes.
//
// Leaves out: stride, dilation, groups, asymmetric or non-zero padding, 2-D convolutions.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tensor/quantize.h"
#include "tensor/tensor.h"

namespace loom {

// y [B, T_out, O] through im2col and the backend's GEMM.
Tensor conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t padding);
// The same y by the direct loop (the backend's conv1d_direct): slow, simple, the reference.
Tensor conv1d_forward_direct(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             int64_t padding);

// Inference with dynamic int8 quantization, as quantize_dynamic does for Linear. A convolution of
// K taps is K Linear layers on shifted inputs: tap k, W[:, :, k] [O, C], is quantized per output
// channel once (quantize_conv1d); at run time each time step of x is quantized to uint8 with its
// own scale, each tap multiplies all steps in int32, and the scaled products of the taps are
// summed (the backend's conv1d_int8: no im2col). Equals conv1d_forward on the dequantized x and
// weight up to float rounding. x [B, T, C] float32 on the CPU; bias [O] float32 or undefined.
struct QuantizedConv1d {
  std::vector<QuantizedMatrix> taps;  // K of them, each [O, C]
  // Each tap in the backend's GEMM layout (FusedKernels::pack_int8), packed by quantize_conv1d so
  // that a batch-1 forward does not repack 1024 x 1024 bytes per tap; empty or null: packed per
  // call. Must describe `taps`: replace both or neither.
  std::vector<std::shared_ptr<const void>> packed;
};
QuantizedConv1d quantize_conv1d(const Tensor& weight);  // [O, C, K] float32 on the CPU
Tensor dequantize(const QuantizedConv1d& w);            // [O, C, K] float32
Tensor conv1d_forward_int8(const Tensor& x, const QuantizedConv1d& w, const Tensor& bias,
                           int64_t padding);

// Which gradients to compute; the others stay undefined.
struct Conv1dGradsWanted {
  bool x = true, weight = true, bias = true;
};
struct Conv1dGrads {
  Tensor x, weight, bias;  // shapes of x, weight, bias
};
// dy [B, T_out, O]: the gradient of forward's y. Needs forward's x and weight (the columns are
// rebuilt from x: K times smaller to keep than the columns themselves).
Conv1dGrads conv1d_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                            int64_t padding, const Conv1dGradsWanted& want = {});

}  // namespace loom
