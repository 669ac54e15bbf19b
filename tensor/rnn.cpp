// tensor/rnn.cpp: the tanh RNN layer's Tensor ops (contract and math in tensor/rnn.h): argument
// checks, the work that does not depend on the previous step (Tensor ops over all steps), and
// one call each way into the backend's recurrence (CPU: tensor/cpu/rnn.cpp).
//
// The GEMMs and sums go through the same Tensor ops, with the same operand layouts, as the
// composed RNN's autograd backward (autograd/ops/matmul.cpp, sum_to_shape): that, and summing
// the per-step weight gradients in the engine's order, is what makes the two bit-identical.
#include "tensor/rnn.h"

#include <vector>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/ops.h"

namespace loom {
namespace {

void check_args(const Tensor& x, const Tensor& h0, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh) {
  LOOM_CHECK(x.defined() && x.dim() == 3, "RNN: x must be [T, B, in], got ",
             x.defined() ? shape_str(x.shape()) : "undefined");
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(-1);
  LOOM_CHECK(T >= 1, "RNN: the sequence is empty (input ", shape_str(x.shape()), ")");
  LOOM_CHECK(w_ih.shape() == Shape({H, in}), "RNN: weight_ih is ", shape_str(w_ih.shape()),
             ", expected ", shape_str({H, in}));
  LOOM_CHECK(
      w_hh.shape() == Shape({H, H}) && b_ih.shape() == Shape({H}) && b_hh.shape() == Shape({H}),
      "RNN: weight_hh ", shape_str(w_hh.shape()), ", bias_ih ", shape_str(b_ih.shape()),
      ", bias_hh ", shape_str(b_hh.shape()), " do not fit hidden size ", H);
  LOOM_CHECK(h0.shape() == Shape({B, H}), "RNN: h0 is ", shape_str(h0.shape()), ", expected ",
             shape_str({B, H}));
  const DType dt = x.dtype();
  LOOM_CHECK(dt == DType::Float32 || dt == DType::Float64, "RNN: float32 or float64 only, got ",
             dtype_name(dt));
  for (const Tensor* t : {&h0, &w_ih, &w_hh, &b_ih, &b_hh}) {
    LOOM_CHECK(t->dtype() == dt, "RNN: every argument must be ", dtype_name(dt), ", got ",
               dtype_name(t->dtype()));
    LOOM_CHECK(t->device() == x.device(), "RNN: every argument must be on ", x.device().str(),
               ", got one on ", t->device().str());
  }
}

}  // namespace

RnnLayerForward rnn_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& w_ih,
                                  const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check_args(x, h0, w_ih, w_hh, b_ih, b_hh);
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(0);
  RnnLayerForward out;
  RnnLayerSaved& s = out.saved;
  s.x = x.contiguous();
  s.h0 = h0.contiguous();
  s.w_ih = w_ih.contiguous();
  s.w_hh = w_hh.contiguous();
  // 1. xb = x W_ih^T + b_ih, [T*B, H] (W_ih^T as a transposed view: no copy).
  const Tensor xb =
      add(matmul(s.x.reshape({T * B, in}), s.w_ih.transpose(0, 1)), b_ih).contiguous();
  const Tensor bh = b_hh.contiguous();
  // 2. the recurrence.
  out.h = empty({T, B, H}, TensorOptions(x.dtype(), x.device()));
  const RnnRecurrence r{T, B, H, x.dtype()};
  const RnnForwardBuffers f{xb.raw_data(), bh.raw_data(), s.w_hh.raw_data(), s.h0.raw_data(),
                            out.h.raw_data()};
  fused_kernels_for(x.device(), "RNN").rnn_recurrence_forward(r, f);
  s.h = out.h;
  return out;
}

RnnLayerGrads rnn_layer_backward(const Tensor& dh_in, const RnnLayerSaved& s) {
  const int64_t T = s.x.size(0), B = s.x.size(1), in = s.x.size(2), H = s.w_hh.size(0);
  LOOM_CHECK(dh_in.shape() == Shape({T, B, H}), "RNN backward: the gradient of h must be ",
             shape_str({T, B, H}), ", got ", shape_str(dh_in.shape()));
  LOOM_CHECK(dh_in.dtype() == s.h.dtype(), "RNN backward: the gradient is ",
             dtype_name(dh_in.dtype()), ", the layer ran in ", dtype_name(s.h.dtype()));
  const Tensor dh = dh_in.contiguous();
  const TensorOptions opts(s.h.dtype(), s.h.device());
  RnnLayerGrads g;
  // 1. the BPTT: dpre [T, B, H] and dh0.
  const Tensor dpre = empty({T, B, H}, opts);
  g.h0 = empty({B, H}, opts);
  const RnnRecurrence r{T, B, H, s.h.dtype()};
  const RnnBackwardBuffers b{dh.raw_data(), s.w_hh.raw_data(), s.h.raw_data(), dpre.raw_data(),
                             g.h0.raw_data()};
  fused_kernels_for(s.h.device(), "RNN backward").rnn_recurrence_backward(r, b);

  // 2. the input side, all steps at once (the composed graph's one GEMM and its add's backward).
  const Tensor dpre2 = dpre.reshape({T * B, H});
  g.x = matmul(dpre2, s.w_ih).reshape({T, B, in});
  g.w_ih = matmul(s.x.reshape({T * B, in}).transpose(0, 1), dpre2).transpose(0, 1).contiguous();
  g.b_ih = sum_to_shape(dpre2, {H});
  // The recurrent side, from the last step to the first, as the autograd engine accumulates
  // the T uses of W_hh^T and b_hh: dW_hh^T = sum_t h_{t-1}^T dpre_t, db_hh = sum_t sum_b dpre_t.
  Tensor dw_hh_t, db_hh;
  for (int64_t t = T - 1; t >= 0; --t) {
    const Tensor d = dpre.select(0, t);
    const Tensor h_prev = t == 0 ? s.h0 : s.h.select(0, t - 1);
    const Tensor dw = matmul(h_prev.transpose(0, 1), d);
    const Tensor db = sum_to_shape(d, {H});
    dw_hh_t = dw_hh_t.defined() ? add(dw_hh_t, dw) : dw;
    db_hh = db_hh.defined() ? add(db_hh, db) : db;
  }
  g.w_hh = dw_hh_t.transpose(0, 1).contiguous();
  g.b_hh = db_hh;
  return g;
}

// A backend without an RNN recurrence says so.
void FusedKernels::rnn_recurrence_forward(const RnnRecurrence&, const RnnForwardBuffers&) {
  LOOM_FAIL("RNN: this backend has no fused RNN recurrence; use RnnImpl::Composed");
}
void FusedKernels::rnn_recurrence_backward(const RnnRecurrence&, const RnnBackwardBuffers&) {
  LOOM_FAIL("RNN backward: this backend has no fused RNN recurrence; use RnnImpl::Composed");
}

}  // namespace loom
