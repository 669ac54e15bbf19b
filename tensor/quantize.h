// tensor/quantize.h: int8 dynamic quantization as torch.ao.quantization.quantize_dynamic does
// it: weights int8 per output channel (symmetric), activations uint8 per row at run time
// (asymmetric), products summed in int32.
//
// The formulas are in tensor/kernels/int8_quantize.h; docs/labs/11-inference.md explains scales,
// zero points and why uint8 x int8. The quantize/dequantize functions here run once (when a model
// is quantized, or in tests) on CPU tensors; linear_int8 is the run-time op and dispatches to the
// backend (tensor/fused_kernels.h; the CPU has it, CUDA does not yet).
// Leaves out: static (calibrated) activation scales, per-tensor weight scales, int8 outputs.
#pragma once

#include "tensor/tensor.h"

namespace loom {

// W [N, K] as int8: W[n, k] ~ values[n, k] * scales[n].
struct QuantizedMatrix {
  Tensor values;  // [N, K] Int8, in [-127, 127]
  Tensor scales;  // [N] Float32, > 0
  Tensor sums;    // [N] Int32: the row sums of values (the GEMM's zero-point correction)
};

// w [N, K] Float32 (finite) on the CPU. Throws loom::Error naming the argument otherwise.
QuantizedMatrix quantize_per_channel(const Tensor& w);
// values [N, K] Int8 and scales [N] Float32 (e.g. read from a checkpoint): checks their shapes,
// dtypes and that every scale is finite and > 0 (errors name `what`), and computes the sums.
QuantizedMatrix quantized_matrix(const Tensor& values, const Tensor& scales, const char* what);
Tensor dequantize(const QuantizedMatrix& q);  // [N, K] Float32

// x [M, K] Float32 as uint8 per row: x[m, k] ~ (values[m, k] - zero_points[m]) * scales[m].
struct QuantizedRows {
  Tensor values;       // [M, K] UInt8
  Tensor scales;       // [M] Float32
  Tensor zero_points;  // [M] Int32, in [0, 255]
};
QuantizedRows quantize_rows(const Tensor& x);  // CPU, Float32, finite
Tensor dequantize(const QuantizedRows& q);     // [M, K] Float32

// y [M, N] = x [M, K] W^T + bias [N] (bias may be undefined), x quantized per row at run time,
// the product summed in int32 (exact for K <= 66,000). Float32 x on the weights' device.
Tensor linear_int8(const Tensor& x, const QuantizedMatrix& w, const Tensor& bias);

}  // namespace loom
