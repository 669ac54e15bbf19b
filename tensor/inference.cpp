// tensor/inference.cpp: the checks of the eval-mode ops and their one backend call each (see
// inference.h).
#include "tensor/inference.h"

#include <algorithm>
#include <string>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/ops.h"

namespace loom {
namespace {

// The products of linear_int8 sum at most k * 255 * 127 in int32 (tensor/cpu/int8_linear.h).
constexpr int64_t kMaxInt8Depth = 66000;

void check_float_matrix(const Tensor& t, const char* op, const char* what, int64_t rows,
                        int64_t cols, Device device) {
  LOOM_CHECK(t.defined() && t.dtype() == DType::Float32 && t.dim() == 2, op, ": ", what,
             " must be a 2-D float32 tensor, got ",
             t.defined() ? shape_str(t.shape()) + " " + dtype_name(t.dtype()) : "undefined");
  LOOM_CHECK((rows < 0 || t.size(0) == rows) && (cols < 0 || t.size(1) == cols), op, ": ", what,
             " has shape ", shape_str(t.shape()), ", expected [",
             rows < 0 ? "any" : std::to_string(rows), ", ", cols < 0 ? "any" : std::to_string(cols),
             "]");
  LOOM_CHECK(t.device() == device, op, ": ", what, " is on ", t.device().str(), ", expected ",
             device.str());
}

void check_output(const Tensor& out, const char* op, int64_t rows, int64_t cols, Device device) {
  check_float_matrix(out, op, "out", rows, cols, device);
  LOOM_CHECK(out.is_contiguous(), op, ": out must be contiguous");
}

void check_bias(const Tensor& bias, const char* op, int64_t n, Device device) {
  if (!bias.defined()) return;
  LOOM_CHECK(bias.dtype() == DType::Float32 && bias.dim() == 1 && bias.size(0) == n &&
                 bias.device() == device,
             op, ": bias must be float32 [", n, "] on ", device.str(), ", got ",
             shape_str(bias.shape()), " ", dtype_name(bias.dtype()), " on ", bias.device().str());
}

// The int8 weights on `device`, checked, as the kernel's pointers.
Int8Weights int8_weights(const QuantizedMatrix& w, const char* op, Device device) {
  LOOM_CHECK(w.values.defined() && w.values.dtype() == DType::Int8 && w.values.dim() == 2 &&
                 w.values.is_contiguous() && w.scales.defined() && w.sums.defined(),
             op, ": int8 weights must come from quantize_per_channel or quantized_matrix");
  LOOM_CHECK(
      w.values.device() == device && w.scales.device() == device && w.sums.device() == device, op,
      ": the int8 weights are on ", w.values.device().str(), ", expected ", device.str());
  LOOM_CHECK(w.values.size(1) <= kMaxInt8Depth, op, ": K = ", w.values.size(1),
             " could overflow the int32 sums (at most ", kMaxInt8Depth, ")");
  Int8Weights k;
  k.values = static_cast<const int8_t*>(w.values.raw_data());
  k.scales = static_cast<const float*>(w.scales.raw_data());
  k.sums = static_cast<const int32_t*>(w.sums.raw_data());
  k.n = w.values.size(0);
  k.k = w.values.size(1);
  return k;
}

}  // namespace

void lstm_inference(const Tensor& table, const Tensor& ids, const RecurrentWeights& w,
                    const Tensor& h_n, const Tensor& c_n) {
  const char* op = "lstm_inference";
  LOOM_CHECK(table.defined(), op, ": table is undefined");
  const Device dev = table.device();
  check_float_matrix(table, op, "table", -1, -1, dev);
  LOOM_CHECK(table.is_contiguous() && table.size(1) % 4 == 0, op,
             ": table must be a contiguous [V, 4H], got ", shape_str(table.shape()));
  const int64_t H = table.size(1) / 4;
  LOOM_CHECK(ids.defined() && ids.dtype() == DType::Int32 && ids.dim() == 2 &&
                 ids.is_contiguous() && ids.device() == dev,
             op, ": ids must be a contiguous [B, T] int32 tensor on ", dev.str());
  const int64_t B = ids.size(0), T = ids.size(1), V = table.size(0);
  if (dev.is_cpu()) {  // a bad id would read outside the table: check on the host
    const int32_t* p = ids.data_ptr<int32_t>();
    for (int64_t i = 0; i < ids.numel(); ++i)
      LOOM_CHECK(p[i] >= 0 && p[i] < V, op, ": id ", p[i], " at [", i / T, ", ", i % T,
                 "] is outside the table's ", V, " rows");
  }
  check_output(h_n, op, B, H, dev);
  check_output(c_n, op, B, H, dev);
  LstmInference a;
  a.T = T, a.B = B, a.H = H;
  a.table = static_cast<const float*>(table.raw_data());
  a.table_rows = V;
  a.ids = static_cast<const int32_t*>(ids.raw_data());
  if (w.int8.values.defined()) {
    a.w_hh_int8 = int8_weights(w.int8, op, dev);
    LOOM_CHECK(a.w_hh_int8.n == 4 * H && a.w_hh_int8.k == H, op, ": int8 w_hh must be [", 4 * H,
               ", ", H, "]");
  } else {
    check_float_matrix(w.w_hh, op, "w_hh", 4 * H, H, dev);
    LOOM_CHECK(w.w_hh.is_contiguous(), op, ": w_hh must be contiguous");
    a.w_hh = static_cast<const float*>(w.w_hh.raw_data());
  }
  a.h_n = static_cast<float*>(h_n.raw_data());
  a.c_n = static_cast<float*>(c_n.raw_data());
  fused_kernels_for(dev, op).lstm_inference(a);
}

Tensor fold_input_projection(const Tensor& embedding, const Tensor& w_ih, const Tensor& b_ih,
                             const Tensor& b_hh) {
  LOOM_CHECK(embedding.dim() == 2 && w_ih.dim() == 2 && w_ih.size(1) == embedding.size(1),
             "fold_input_projection: embedding [V, E] and w_ih [4H, E] must share E, got ",
             shape_str(embedding.shape()), " and ", shape_str(w_ih.shape()));
  return add(matmul(embedding, w_ih.t()), add(b_ih, b_hh)).contiguous();
}

void linear_into(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out) {
  const char* op = "linear_into";
  LOOM_CHECK(x.defined(), op, ": x is undefined");
  const Device dev = x.device();
  check_float_matrix(x, op, "x", -1, -1, dev);
  check_float_matrix(w, op, "w", -1, x.size(1), dev);
  const int64_t M = x.size(0), N = w.size(0), K = x.size(1);
  check_output(out, op, M, N, dev);
  check_bias(bias, op, N, dev);
  const Tensor xc = x.contiguous(), wc = w.contiguous();
  Backend& be = backend_for(dev);
  MatmulArgs g;  // out = bias in every row, then += x w^T
  g.m = M, g.n = N, g.k = K;
  g.trans_b = true;
  g.lda = std::max<int64_t>(K, 1), g.ldb = std::max<int64_t>(K, 1), g.ldc = std::max<int64_t>(N, 1);
  g.beta = bias.defined() ? 1.0 : 0.0;
  if (bias.defined()) {
    const Tensor b = bias.contiguous();
    for (int64_t m = 0; m < M; ++m)
      be.copy_device_to_device(static_cast<float*>(out.raw_data()) + m * N, b.raw_data(),
                               N * sizeof(float), dev);
  }
  be.matmul(xc.raw_data(), wc.raw_data(), out.raw_data(), DType::Float32, g);
}

void linear_int8_into(const Tensor& x, const QuantizedMatrix& w, const Tensor& bias,
                      const Tensor& out) {
  const char* op = "linear_int8";
  LOOM_CHECK(x.defined(), op, ": x is undefined");
  const Device dev = x.device();
  const Int8Weights k = int8_weights(w, op, dev);
  check_float_matrix(x, op, "x", -1, k.k, dev);
  check_output(out, op, x.size(0), k.n, dev);
  check_bias(bias, op, k.n, dev);
  const Tensor xc = x.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
  fused_kernels_for(dev, op).linear_int8(
      static_cast<const float*>(xc.raw_data()), x.size(0), k,
      bc.defined() ? static_cast<const float*>(bc.raw_data()) : nullptr,
      static_cast<float*>(out.raw_data()));
}

void FusedKernels::lstm_inference(const LstmInference&) {
  LOOM_FAIL("lstm_inference: this backend has no eval-mode LSTM kernel");
}

}  // namespace loom
