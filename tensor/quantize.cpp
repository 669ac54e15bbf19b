// tensor/quantize.cpp: quantize and dequantize (host loops over the formulas of
// tensor/kernels/int8_quantize.h) and the run-time int8 Linear (see quantize.h).
#include "tensor/quantize.h"

#include <algorithm>
#include <cmath>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/inference.h"
#include "tensor/kernels/int8_quantize.h"

namespace loom {
namespace {

// A dense float32 CPU matrix [rows, cols] of finite values, or a loom::Error naming `op`.
Tensor checked_matrix(const Tensor& x, const char* op, const char* what) {
  LOOM_CHECK(x.defined() && x.dim() == 2 && x.dtype() == DType::Float32, op, ": ", what,
             " must be a 2-D float32 tensor, got ",
             x.defined() ? shape_str(x.shape()) + " " + dtype_name(x.dtype()) : "undefined");
  LOOM_CHECK(x.device().is_cpu(), op, ": ", what, " must be on the CPU, got ", x.device().str());
  const Tensor c = x.contiguous();
  const float* p = c.data_ptr<float>();
  for (int64_t i = 0; i < c.numel(); ++i)
    LOOM_CHECK(std::isfinite(p[i]), op, ": ", what, " holds a non-finite value at flat index ", i);
  return c;
}

Tensor row_sums(const Tensor& values) {
  const int64_t N = values.size(0), K = values.size(1);
  Tensor sums = empty({N}, DType::Int32);
  const int8_t* q = values.data_ptr<int8_t>();
  int32_t* s = sums.data_ptr<int32_t>();
  for (int64_t n = 0; n < N; ++n) {
    int32_t total = 0;
    for (int64_t k = 0; k < K; ++k)
      total += q[n * K + k];
    s[n] = total;
  }
  return sums;
}

}  // namespace

QuantizedMatrix quantize_per_channel(const Tensor& w_in) {
  const Tensor w = checked_matrix(w_in, "quantize_per_channel", "w");
  const int64_t N = w.size(0), K = w.size(1);
  QuantizedMatrix q;
  q.values = empty({N, K}, DType::Int8);
  q.scales = empty({N}, DType::Float32);
  const float* src = w.data_ptr<float>();
  int8_t* dst = q.values.data_ptr<int8_t>();
  float* scales = q.scales.data_ptr<float>();
  for (int64_t n = 0; n < N; ++n) {
    float max_abs = 0.0f;
    for (int64_t k = 0; k < K; ++k)
      max_abs = std::max(max_abs, std::fabs(src[n * K + k]));
    scales[n] = kernels::int8_weight_scale(max_abs);
    for (int64_t k = 0; k < K; ++k)
      dst[n * K + k] = kernels::quantize_weight(src[n * K + k], scales[n]);
  }
  q.sums = row_sums(q.values);
  return q;
}

QuantizedMatrix quantized_matrix(const Tensor& values, const Tensor& scales, const char* what) {
  LOOM_CHECK(values.defined() && values.dim() == 2 && values.dtype() == DType::Int8, what,
             ": int8 values must be a 2-D int8 tensor");
  LOOM_CHECK(scales.defined() && scales.dim() == 1 && scales.dtype() == DType::Float32 &&
                 scales.size(0) == values.size(0),
             what, ": scales must be float32 [", values.size(0), "] (one per row), got ",
             scales.defined() ? shape_str(scales.shape()) + " " + dtype_name(scales.dtype())
                              : "undefined");
  QuantizedMatrix q;
  q.values = values.to(kCPU).contiguous();
  q.scales = scales.to(kCPU).contiguous();
  const float* s = q.scales.data_ptr<float>();
  for (int64_t n = 0; n < q.scales.numel(); ++n)
    LOOM_CHECK(std::isfinite(s[n]) && s[n] > 0.0f, what, ": scale ", n, " is ", s[n],
               " (must be finite and > 0)");
  const int8_t* v = q.values.data_ptr<int8_t>();
  for (int64_t i = 0; i < q.values.numel(); ++i)
    LOOM_CHECK(v[i] != -128, what, ": value -128 at flat index ", i,
               " (symmetric int8 weights lie in [-127, 127])");
  q.sums = row_sums(q.values);
  return q;
}

Tensor dequantize(const QuantizedMatrix& q) {
  // BEGIN LAB 11 TASK 2 uses(q)
  const Tensor v = q.values.to(kCPU).contiguous(), s = q.scales.to(kCPU).contiguous();
  const int64_t N = v.size(0), K = v.size(1);
  Tensor out = empty({N, K});
  const int8_t* src = v.data_ptr<int8_t>();
  const float* scale = s.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      dst[n * K + k] = static_cast<float>(src[n * K + k]) * scale[n];
  return out;
  // END LAB 11 TASK 2
}

QuantizedRows quantize_rows(const Tensor& x_in) {
  const Tensor x = checked_matrix(x_in, "quantize_rows", "x");
  const int64_t M = x.size(0), K = x.size(1);
  QuantizedRows q;
  q.values = empty({M, K}, DType::UInt8);
  q.scales = empty({M}, DType::Float32);
  q.zero_points = empty({M}, DType::Int32);
  const float* src = x.data_ptr<float>();
  for (int64_t m = 0; m < M; ++m) {
    const float* row = src + m * K;
    const float lo = K > 0 ? *std::min_element(row, row + K) : 0.0f;
    const float hi = K > 0 ? *std::max_element(row, row + K) : 0.0f;
    const kernels::RowQuantParams p = kernels::uint8_row_params(lo, hi);
    q.scales.data_ptr<float>()[m] = p.scale;
    q.zero_points.data_ptr<int32_t>()[m] = p.zero_point;
    for (int64_t k = 0; k < K; ++k)
      q.values.data_ptr<uint8_t>()[m * K + k] = kernels::quantize_activation(row[k], p);
  }
  return q;
}

Tensor dequantize(const QuantizedRows& q) {
  const int64_t M = q.values.size(0), K = q.values.size(1);
  Tensor out = empty({M, K});
  const uint8_t* v = q.values.data_ptr<uint8_t>();
  for (int64_t m = 0; m < M; ++m) {
    const float s = q.scales.data_ptr<float>()[m];
    const int32_t z = q.zero_points.data_ptr<int32_t>()[m];
    for (int64_t k = 0; k < K; ++k)
      out.data_ptr<float>()[m * K + k] = static_cast<float>(v[m * K + k] - z) * s;
  }
  return out;
}

Tensor linear_int8(const Tensor& x, const QuantizedMatrix& w, const Tensor& bias) {
  LOOM_CHECK(x.defined() && x.dim() == 2 && w.values.defined(),
             "linear_int8: x must be [M, K] and w defined");
  Tensor out = empty({x.size(0), w.values.size(0)}, TensorOptions(DType::Float32, x.device()));
  linear_int8_into(x, w, bias, out);
  return out;
}

void FusedKernels::linear_int8(const float*, int64_t, const Int8Weights&, const float*, float*) {
  LOOM_FAIL("linear_int8: this backend has no int8 kernels (run the int8 model on the CPU)");
}

}  // namespace loom
