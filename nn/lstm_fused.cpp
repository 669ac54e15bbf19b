// nn/lstm_fused.cpp: one LSTM layer, one direction, as ONE graph node with a hand-written BPTT.
//
// Forward (lstm_layer_fused), for x [T, B, in], hidden size H, time-major so that each step's
// slice of every buffer is one contiguous block:
//   1. gates = x W_ih^T + (b_ih + b_hh) for all T steps at once: one GEMM [T*B, in] x [in, 4H]
//      (the input projection does not depend on h, so it leaves the sequential loop);
//   2. per step: gates[t] += h_{t-1} W_hh^T (one GEMM [B, H] x [H, 4H], accumulating), then one
//      fused pointwise update (Backend::lstm_pointwise_forward, tensor/kernels/lstm_pointwise.h)
//      that turns gates[t] into activations in place and writes c_t, tanh(c_t), h_t.
// Backward (fused_backward), the BPTT of docs/labs/04-lstm-bptt.md section 2: per step (last to
// first) one pointwise backward and one GEMM for dh_{t-1}; after the loop one GEMM each for
// dx, dW_ih and dW_hh (two for dW_hh, see there) over all timesteps, and one column sum for the
// biases.
//
// A graph node has one output, so the node's output packs everything a caller can use:
//   Y [T+1, B, H]: Y[t] = h_t for t < T (in input order, also for reverse), Y[T] = c_n.
// out, h_n and c_n are views of Y taken with autograd ops (narrow/select), whose backward
// writes each one's gradient into its slot of dY: the node receives dY and reads the three
// gradients from it.
//
// The GEMMs and the pointwise calls go through the Backend on raw buffers (no Tensor op, no
// allocation per timestep), so the same code runs on any backend that implements
// lstm_pointwise_forward/backward (tensor/backend.h).
//
// Threads (CPU): the batch is split into one row range per thread, and each thread runs the whole
// time loop on its rows with no synchronisation between steps (see slices_for in
// nn/lstm_layer_common.cpp).
//
// Mixed precision: under an nn::amp::AutocastGuard with float32 weights, lstm_layer_fused runs
// nn/lstm_fused_amp.cpp instead (the same node with float16 GEMMs and a float32 state, lab 07).
//
// Leaves out: float16 weights and inputs outside autocast (float32/float64 only, checked; the
// composed LSTM takes float16), and dropout (between layers, in nn/lstm.cpp).
#include <algorithm>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/lstm.h"
#include "nn/lstm_fused_amp.h"
#include "nn/lstm_layer_common.h"

namespace loom::nn {

// gemm, gemm_split, slices_for (the CPU thread split by batch rows, explained there), Buf/buf,
// the argument checks, the dense inputs, the input projection, record_layer (what the node saves,
// and why), the Input enum and lstm_weight_grads are shared with the persistent layer:
// nn/lstm_layer_common.{h,cpp}.
using namespace detail;  // NOLINT(google-build-using-namespace): internal helpers of nn/

namespace {

// The BPTT. dY [T+1, B, H] is the gradient of the packed output; see the file header.
// batch_major: x came in as is_batch_major (then dx is returned with the same strides).
std::vector<Tensor> fused_backward(const Tensor& dY_in, const LayerSaved& s, bool reverse,
                                   bool batch_major, const std::vector<bool>& need) {
  const Tensor &x = s.x, &w_hh = s.w_hh, &act = s.gates, &cs = s.cs, &tanh_c = s.tanh_c;
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(1);
  const DType dt = x.dtype();
  Backend& be = backend_for(x.device());
  const TensorOptions opt(dt, x.device());
  const Tensor dY = dY_in.contiguous();

  // dA [T, B, 4H]: dL/d(pre-activations) of every step, in input order. Its own buffer, not the
  // saved gates overwritten in place, so a retain_graph backward can run twice.
  const Tensor dA = empty({T, B, 4 * H}, opt);
  const Tensor dh = empty({B, H}, opt);       // dL/dh_t, all paths (scratch, one step)
  const Tensor dc = dY.select(0, T).clone();  // dL/dc_t from step t+1; starts as dL/dc_n
  const Buf pY = buf(dY), pA = buf(dA), pAct = buf(act), pC = buf(cs), pTc = buf(tanh_c);
  const int64_t BH = B * H, B4H = B * 4 * H;

  // The BPTT loop, last step first, each thread on its own batch rows [b0, b0 + nb).
  const int slices = slices_for(x.device(), B, T * B * 4 * H * (H + in));
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const std::size_t row_bytes = static_cast<std::size_t>(nb * H) * dtype_size(dt);
    void* dh_rows = buf(dh).at(r);
    int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t;  // index of c_{t-1} in cs
      // dh_t = dout_t (+ dh_n at the last step: h_n is a view of Y[t]) + da_{t+1} W_hh
      be.copy_device_to_device(dh_rows, pY.at(t * BH + r), row_bytes, x.device());
      if (t_next >= 0) {
        gemm(be, dt, pA.at(t_next * B4H + r4), false, 4 * H, w_hh.raw_data(), false, H, dh_rows, H,
             nb, H, 4 * H, 1.0);
      }
      // dc_t = dh_t o (1 - tanh^2 c_t) + dc_next;  da^{i,f,g,o};  dc <- dc_{t-1} = dc_t f_t
      be.lstm_pointwise_backward(dh_rows, buf(dc).at(r), pAct.at(t * B4H + r4), pA.at(t * B4H + r4),
                                 pC.at(c_prev * BH + r), pTc.at(t * BH + r), dt, nb, H);
      t_next = t;
    }
  }

  std::vector<Tensor> grads(kNumInputs);
  const int64_t first = reverse ? T - 1 : 0;  // the step that read h0
  if (need[kH0]) {                            // dh0 = da_first W_hh
    grads[kH0] = empty({B, H}, opt);
    gemm(be, dt, pA.at(first * B4H), false, 4 * H, w_hh.raw_data(), false, H, grads[kH0].raw_data(),
         H, B, H, 4 * H, 0.0);
  }
  if (need[kC0]) grads[kC0] = dc;  // what the first step passed back as dc_prev
  // dx, dW_ih, dW_hh and the biases: the big GEMMs over all steps (nn/lstm_layer_common.cpp).
  lstm_weight_grads(be, dt, dA, dA, x, s.h0, s.Y, s.w_ih, reverse, batch_major, slices, need,
                    grads);
  return grads;
}

}  // namespace

LstmLayerOutput lstm_layer_fused(const Variable& xv, const Variable& h0v, const Variable& c0v,
                                 const LstmParams& p, bool reverse) {
  const DType dt = xv.dtype();
  LOOM_CHECK(
      dt == DType::Float32 || dt == DType::Float64 || fused_runs_autocast(dt, p.w_ih.dtype()),
      "LSTM (fused): float32 or float64 only (float16 inputs only under autocast, with ",
      "float32 weights), got ", dtype_name(dt), "; use LstmImpl::Composed for other dtypes");
  check_layer_shapes("LSTM (fused)", xv, h0v, c0v, p);
  // Autocast on, float32 master weights: float16 GEMMs, float32 state (nn/lstm_fused_amp.cpp).
  if (fused_runs_autocast(dt, p.w_ih.dtype()))
    return lstm_layer_fused_amp(xv, h0v, c0v, p, reverse);
  check_layer_dtypes("LSTM (fused)", xv, h0v, c0v, p);
  const int64_t T = xv.size(0), B = xv.size(1), H = p.w_hh.size(1);
  Backend& be = backend_for(xv.device());
  const TensorOptions opt(dt, xv.device());
  const LayerInputs in = dense_layer_inputs(be, xv, h0v, c0v, p);  // x [T, B, in] time-major

  // 1. gates [T, B, 4H] = (b_ih + b_hh) in every row, then += x W_ih^T in one GEMM.
  const Tensor gates = input_projection(be, dt, in.x, in.w_ih, p, xv.device());

  // cs [T+1, B, H] holds every c with c_0 at the end the sequence starts from: forward, step t
  // reads cs[t] and writes cs[t+1]; reverse, it reads cs[t+1] and writes cs[t]. Kept for
  // backward (da^f needs c_{t-1}); it is the forward's own state, so keeping it costs no work.
  const Tensor cs = empty({T + 1, B, H}, opt);
  const Tensor tanh_c = empty({T, B, H}, opt);  // kept: da^o and dc need it, saves a tanh
  const Tensor Y = empty({T + 1, B, H}, opt);   // the packed output (file header)
  const Buf pG = buf(gates), pC = buf(cs), pTc = buf(tanh_c), pY = buf(Y);
  const int64_t BH = B * H, B4H = B * 4 * H;
  const std::size_t bh_bytes = static_cast<std::size_t>(BH) * dtype_size(dt);
  be.copy_device_to_device(pC.at((reverse ? T : 0) * BH), in.c0.raw_data(), bh_bytes, xv.device());

  // 2. the sequential loop: one recurrent GEMM and one pointwise update per step, each thread
  // on its own batch rows [b0, b0 + nb) (see "Threads" above).
  const int slices = slices_for(xv.device(), B, T * B * 4 * H * H);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const void* h_prev = buf(in.h0).at(r);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t, c_out = reverse ? t : t + 1;
      gemm(be, dt, h_prev, false, H, in.w_hh.raw_data(), true, H, pG.at(t * B4H + r4), 4 * H, nb,
           4 * H, H, 1.0);
      be.lstm_pointwise_forward(pG.at(t * B4H + r4), pC.at(c_prev * BH + r), pC.at(c_out * BH + r),
                                pTc.at(t * BH + r), pY.at(t * BH + r), dt, nb, H);
      h_prev = pY.at(t * BH + r);
    }
  }
  be.copy_device_to_device(pY.at(T * BH), pC.at((reverse ? 0 : T) * BH), bh_bytes, xv.device());

  // What backward needs, and nothing else (LayerSaved in nn/lstm_layer_common.h says why).
  return record_layer("LstmFusedBackward", xv, h0v, c0v, p,
                      {in.x, in.h0, in.w_ih, in.w_hh, gates, cs, tanh_c, Y}, reverse,
                      in.batch_major, fused_backward);
}

}  // namespace loom::nn
