// tensor/cpu/rnn.cpp: the CPU backend's tanh RNN recurrence, forward and backward: the one time
// loop of each. Contract: tensor/fused_kernels.h; caller: tensor/rnn.cpp.
//
// As in the LSTM (tensor/cpu/lstm.cpp), batch rows never interact, so each thread runs the whole
// time loop on its own rows (tensor/cpu/threads.h's slices). Each step makes the same calls, on
// the same operand layouts, as the composed RNN's ops on one thread: the backend's GEMM, then the
// additions in the same order, then the backend's own tanh kernel. This file is compiled with
// -ffp-contract=off (tensor/CMakeLists.txt): a fused multiply-add in 1 - h*h would round once
// where the composed ops round twice, and the two would no longer agree to the bit.
#include <cstring>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom::cpu {
namespace {

// C [m, H] = A [m, H] op(W) for W [H, H]: h W_hh^T (trans) or dpre W_hh (not), one thread.
void gemm_hh(CpuBackend& be, DType dt, const void* a, const void* w, bool trans, void* c, int64_t m,
             int64_t H) {
  MatmulArgs g;
  g.m = m, g.n = H, g.k = H;
  g.trans_b = trans;
  g.lda = H, g.ldb = H, g.ldc = H;
  g.beta = 0.0;
  be.matmul(a, w, c, dt, g);
}

// The forward time loop over rows [b0, b0 + nb).
template <typename T>
void forward_rows(CpuBackend& be, const RnnRecurrence& r, const RnnForwardBuffers& f, int64_t b0,
                  int64_t nb) {
  const int64_t B = r.B, H = r.H, n = nb * H;
  const T* xb = static_cast<const T*>(f.xb);
  const T* b_hh = static_cast<const T*>(f.b_hh);
  T* h = static_cast<T*>(f.h);
  std::vector<T> rec(n), pre(n);  // h_{t-1} W_hh^T, then the pre-activation
  const T* h_prev = static_cast<const T*>(f.h0) + b0 * H;
  for (int64_t t = 0; t < r.T; ++t) {
    const int64_t o = (t * B + b0) * H;  // this slice's first element of step t
    gemm_hh(be, r.dtype, h_prev, f.w_hh, true, rec.data(), nb, H);
    for (int64_t i = 0; i < n; ++i)
      pre[i] = (xb[o + i] + rec[i]) + b_hh[i % H];
    be.unary(UnaryOp::Tanh, pre.data(), h + o, r.dtype, n);
    h_prev = h + o;
  }
}

// The backward time loop (last step first) over rows [b0, b0 + nb).
template <typename T>
void backward_rows(CpuBackend& be, const RnnRecurrence& r, const RnnBackwardBuffers& bw, int64_t b0,
                   int64_t nb) {
  const int64_t B = r.B, H = r.H, n = nb * H;
  const T* dh = static_cast<const T*>(bw.dh);
  const T* h = static_cast<const T*>(bw.h);
  T* dpre = static_cast<T*>(bw.dpre);
  std::vector<T> rec(n);  // dpre_{t+1} W_hh: the gradient reaching h_t through step t+1
  for (int64_t t = r.T - 1; t >= 0; --t) {
    const int64_t o = (t * B + b0) * H;
    if (t + 1 < r.T) gemm_hh(be, r.dtype, dpre + o + B * H, bw.w_hh, false, rec.data(), nb, H);
    for (int64_t i = 0; i < n; ++i) {
      const T g = t + 1 < r.T ? dh[o + i] + rec[i] : dh[o + i];
      const T y = h[o + i];
      const T one_minus_y2 = T(1) - y * y;  // tanh' as the composed TanhBackward forms it
      dpre[o + i] = g * one_minus_y2;
    }
  }
  if (bw.dh0 != nullptr)
    gemm_hh(be, r.dtype, dpre + b0 * H, bw.w_hh, false, static_cast<T*>(bw.dh0) + b0 * H, nb, H);
}

void check_dtype(const char* op, const RnnRecurrence& r) {
  LOOM_CHECK(r.dtype == DType::Float32 || r.dtype == DType::Float64, op,
             ": the CPU RNN runs in float32 or float64, got ", dtype_name(r.dtype));
}

}  // namespace

void CpuBackend::rnn_recurrence_forward(const RnnRecurrence& r, const RnnForwardBuffers& f) {
  check_dtype("rnn_recurrence_forward", r);
  if (r.B == 0) return;
  for_each_row_slice(r.B, r.T * r.B * r.H * r.H, [&](int64_t b0, int64_t nb) {
    if (r.dtype == DType::Float32)
      forward_rows<float>(*this, r, f, b0, nb);
    else
      forward_rows<double>(*this, r, f, b0, nb);
  });
}

void CpuBackend::rnn_recurrence_backward(const RnnRecurrence& r, const RnnBackwardBuffers& b) {
  check_dtype("rnn_recurrence_backward", r);
  if (r.B == 0) return;
  for_each_row_slice(r.B, r.T * r.B * r.H * r.H, [&](int64_t b0, int64_t nb) {
    if (r.dtype == DType::Float32)
      backward_rows<float>(*this, r, b, b0, nb);
    else
      backward_rows<double>(*this, r, b, b0, nb);
  });
}

}  // namespace loom::cpu
