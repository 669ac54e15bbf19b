// cuda/kernels/rnn.cu: the tanh RNN recurrence on the GPU (FusedKernels::rnn_recurrence_*;
// contract: tensor/fused_kernels.h; caller: tensor/rnn.cpp; CPU twin: tensor/cpu/rnn.cpp).
//
// Per step, from the backend's own ops and no kernel of its own: forward pre = xb_t + b_hh
// (b_hh broadcast over the rows once, by compact), pre += h_{t-1} W_hh^T (cuBLAS, beta 1),
// h_t = tanh(pre); backward g = dh_t + dpre_{t+1} W_hh (cuBLAS, beta 1 on a copy of dh_t),
// dpre_t = g * (1 - h_t^2). The sums are formed in another order than the CPU's (which follows the
// composed ops to the bit), so CPU and GPU agree to rounding, not to the bit
// (tests/cuda/parity_rnn_test.cpp).
//
// Leaves out: a fused cell kernel and a persistent kernel (the LSTM has both: lstm.cu).
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/scratch.cuh"
#include "cuda/runtime/device.h"
#include "tensor/error.h"
#include "tensor/strided_layout.h"

namespace loom::cuda {
namespace {

// C [B, H] (+)= A [B, H] op(W_hh): h W_hh^T (trans) or dpre W_hh (not).
void gemm_hh(CudaBackend& be, DType dt, const void* a, const void* w, bool trans, void* c,
             int64_t B, int64_t H, double beta) {
  MatmulArgs g;
  g.m = B, g.n = H, g.k = H;
  g.trans_b = trans;
  g.lda = H, g.ldb = H, g.ldc = H;
  g.beta = beta;
  be.matmul(a, w, c, dt, g);
}

void check_dtype(const char* op, const RnnRecurrence& r) {
  LOOM_CHECK(r.dtype == DType::Float32 || r.dtype == DType::Float64, op,
             " on cuda: the RNN runs in float32 or float64, got ", dtype_name(r.dtype));
}

}  // namespace

void CudaBackend::rnn_recurrence_forward(const RnnRecurrence& r, const RnnForwardBuffers& f) {
  check_dtype("rnn_recurrence_forward", r);
  if (r.B == 0 || r.T == 0) return;
  const int64_t B = r.B, H = r.H;
  const Device dev(DeviceType::CUDA, current_device());
  const std::size_t bh_bytes = static_cast<std::size_t>(B * H) * dtype_size(r.dtype);
  Scratch bias_rows(*this, bh_bytes, dev);  // b_hh repeated on every row
  StridedLayout bias_view;
  bias_view.ndim = 2;
  bias_view.sizes[0] = B, bias_view.sizes[1] = H;
  bias_view.strides[0] = 0, bias_view.strides[1] = 1;
  compact(f.b_hh, bias_view, bias_rows.ptr, r.dtype);
  Scratch pre(*this, bh_bytes, dev);
  const void* h_prev = f.h0;
  for (int64_t t = 0; t < r.T; ++t) {
    binary(BinaryOp::Add, step_of(f.xb, r.dtype, t, B, H), bias_rows.ptr, pre.ptr, r.dtype, B * H);
    gemm_hh(*this, r.dtype, h_prev, f.w_hh, true, pre.ptr, B, H, 1.0);
    void* h = step_of(f.h, r.dtype, t, B, H);
    unary(UnaryOp::Tanh, pre.ptr, h, r.dtype, B * H);
    h_prev = h;
  }
}

void CudaBackend::rnn_recurrence_backward(const RnnRecurrence& r, const RnnBackwardBuffers& b) {
  check_dtype("rnn_recurrence_backward", r);
  if (r.B == 0 || r.T == 0) return;
  const int64_t B = r.B, H = r.H;
  const Device dev(DeviceType::CUDA, current_device());
  const std::size_t bh_bytes = static_cast<std::size_t>(B * H) * dtype_size(r.dtype);
  Scratch g(*this, bh_bytes, dev), slope(*this, bh_bytes, dev);
  for (int64_t t = r.T - 1; t >= 0; --t) {
    copy_device_to_device(g.ptr, step_of(b.dh, r.dtype, t, B, H), bh_bytes, dev);
    if (t + 1 < r.T)  // the gradient reaching h_t through step t+1
      gemm_hh(*this, r.dtype, step_of(b.dpre, r.dtype, t + 1, B, H), b.w_hh, false, g.ptr, B, H,
              1.0);
    const void* h = step_of(b.h, r.dtype, t, B, H);
    binary(BinaryOp::Mul, h, h, slope.ptr, r.dtype, B * H);                   // h_t^2
    unary_scalar(ScalarOp::RSub, slope.ptr, 1.0, slope.ptr, r.dtype, B * H);  // 1 - h_t^2
    binary(BinaryOp::Mul, g.ptr, slope.ptr, step_of(b.dpre, r.dtype, t, B, H), r.dtype, B * H);
  }
  if (b.dh0 != nullptr) gemm_hh(*this, r.dtype, b.dpre, b.w_hh, false, b.dh0, B, H, 0.0);
}

}  // namespace loom::cuda
