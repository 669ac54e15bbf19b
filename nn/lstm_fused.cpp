// nn/lstm_fused.cpp: one LSTM layer, one direction, as ONE graph node over the Tensor ops of
// tensor/lstm.h (LstmImpl::Fused): the whole layer's forward in one call, its BPTT in another.
//
// A node has one output, so the node's output packs everything a caller can use:
//   y [T+1, B, H]: y[t] = h_t for t < T (input order, also for reverse), y[T] = c_n.
// out, h_n and c_n are views of y taken with autograd ops (narrow/select), whose backward writes
// each one's gradient into its slot of dy: the node receives dy and hands it to
// lstm_layer_backward as it is.
//
// Mixed precision: under an nn::amp::AutocastGuard with float32 weights the GEMMs read operands
// in the autocast dtype, float16 or bfloat16 (x, h, the weights' cached copies), and accumulate
// in float32; the state, the output and every gradient stay float32 (lab 07 says where each
// value is rounded). loom never promotes dtypes, so a 16-bit output would make every float32 op
// after the LSTM throw.
//
// Leaves out: float16 weights (the composed LSTM takes any float dtype), dropout (nn/lstm.cpp).
#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/amp/autocast.h"
#include "nn/lstm.h"
#include "tensor/lstm.h"

namespace loom::nn {
namespace {

// Under autocast with float32 master weights, the GEMMs run in the autocast dtype.
bool runs_autocast(const Variable& x, const LstmParams& p) {
  return p.w_ih.dtype() == DType::Float32 && autocast::casts_matmul(x.dtype(), p.w_ih.dtype());
}

void check_dtypes(const Variable& x, const Variable& h0, const Variable& c0, const LstmParams& p,
                  bool autocast) {
  const DType w = p.w_ih.dtype();
  LOOM_CHECK(autocast || ((w == DType::Float32 || w == DType::Float64) && x.dtype() == w),
             "LSTM (fused): float32 or float64 only (16-bit inputs only under autocast, with ",
             "float32 weights), got ", dtype_name(x.dtype()), " input and ", dtype_name(w),
             " weights; use LstmImpl::Composed for other dtypes");
  for (const Variable* v : {&p.w_hh, &p.b_ih, &p.b_hh})
    LOOM_CHECK(v->dtype() == w, "LSTM (fused): the parameters must share one dtype, got ",
               dtype_name(w), " and ", dtype_name(v->dtype()));
  for (const Variable* v : {&h0, &c0})
    LOOM_CHECK(v->dtype() == x.dtype(), "LSTM (fused): h0 and c0 must have the input's dtype (",
               dtype_name(x.dtype()), "), got ", dtype_name(v->dtype()));
}

// What the node keeps: the op's saved tensors, and the dtypes its input gradients go back in.
struct Saved {
  LstmLayerSaved layer;
  LstmGradsWanted want;
  DType x_dtype, h0_dtype, c0_dtype;
};

}  // namespace

LstmLayerOutput lstm_layer_fused(const Variable& x, const Variable& h0, const Variable& c0,
                                 const LstmParams& p, bool reverse, bool persistent,
                                 const Tensor& h_mask) {
  LOOM_CHECK(x.defined() && x.dim() == 3, "LSTM (fused): x must be [T, B, in]");
  const bool autocast = runs_autocast(x, p);
  check_dtypes(x, h0, c0, p, autocast);
  LstmLayerArgs args;
  args.reverse = reverse;
  args.persistent = persistent;
  args.gemm_dtype = autocast ? autocast::compute_dtype() : p.w_ih.dtype();
  // Recurrent dropout: the mask is a constant (no gradient), in the state dtype.
  args.h_mask = h_mask.defined() ? h_mask.to(p.b_ih.dtype()) : h_mask;
  // The weights' 16-bit copies come from the cast cache: made once per autocast region.
  const Tensor w_ih = autocast ? amp::cast_once(p.w_ih, args.gemm_dtype) : p.w_ih.data();
  const Tensor w_hh = autocast ? amp::cast_once(p.w_hh, args.gemm_dtype) : p.w_hh.data();
  LstmLayerForward f = lstm_layer_forward(x.data(), h0.data(), c0.data(), w_ih, w_hh, p.b_ih.data(),
                                          p.b_hh.data(), args);
  const int64_t T = x.size(0);
  const LstmGradsWanted want{
      x.requires_grad(),      h0.requires_grad(),
      c0.requires_grad(),     p.w_ih.requires_grad(),
      p.w_hh.requires_grad(), p.b_ih.requires_grad() || p.b_hh.requires_grad()};
  const Variable packed =
      record("LstmFusedBackward", f.y, {x, h0, c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh},
             Saved{std::move(f.saved), want, x.dtype(), h0.dtype(), c0.dtype()},
             [](const Tensor& dy, const Saved& s) {
               const LstmLayerGrads g = lstm_layer_backward(dy, s.layer, s.want);
               // Back in each input's dtype (16-bit under autocast); the weights' stay float32.
               auto as = [](const Tensor& t, DType d) { return t.defined() ? t.to(d) : t; };
               return std::vector<Tensor>{as(g.x, s.x_dtype),
                                          as(g.h0, s.h0_dtype),
                                          as(g.c0, s.c0_dtype),
                                          g.w_ih,
                                          g.w_hh,
                                          g.bias,
                                          g.bias};
             });
  return {narrow(packed, 0, 0, T), select(packed, 0, reverse ? 0 : T - 1), select(packed, 0, T)};
}

}  // namespace loom::nn
