// nn/lstm_fused_amp.cpp: the fused LSTM under autocast: float16 GEMMs, float32 state (lab 07).
//
// The same node and the same BPTT as nn/lstm_fused.cpp (read that first; the buffers and loops
// are the same), with every GEMM a Backend::matmul_mixed: float16 A and B, float32 C,
// float32 accumulation, beta = 1 where a GEMM adds into a float32 buffer. x [T, B, in],
// hidden size H, time-major.
//
// Where values are rounded to float16, and nowhere else:
//   x      once per call, to x16 [T, B, in]: the A of the input projection, saved for dW_ih.
//   W_ih,  once per autocast region through the cast cache (nn::amp::cast_once: the first
//   W_hh   layer call in a step casts, later calls in the same step reuse the copy; the cache
//          empties when the outermost AutocastGuard closes, i.e. before the optimizer changes
//          the master weights). The B of every GEMM, saved (shared with the cache, no copy).
//   h_t    right after the pointwise step writes it in float32, into y16[t] [B, H]: the A of
//          the next step's recurrent GEMM, saved for dW_hh. Rounding once where h is made
//          (not at each use) means dW_hh multiplies exactly the h16 the forward multiplied,
//          and the backward needs no cast of its own. The output keeps the float32 h_t.
//   dA_t   (dL/d pre-activations) right after the pointwise backward writes it in float32,
//          into dA16[t] [B, 4H]: the A of dh_{t-1} = dA_t W_hh and of dx, dW_ih, dW_hh.
//          Here is where a gradient too small for float16 would flush to zero and one too
//          large becomes inf (which GradScaler then detects): the loss scale protects exactly
//          these values.
// Stay float32: the gate pre-activations (the GEMMs accumulate into them: bias, then x W_ih^T,
// then h W_hh^T, no rounding in between), the gate nonlinearities, c_t, tanh(c_t), h_t, dh, dc,
// dA (float32 copy, for the bias sums), every gradient of a float32 input.
// The composed LSTM under autocast (autograd/ops/matmul_autocast.cpp) rounds the same inputs
// and, in addition, each GEMM's *result* to float16 before adding;
// tests/nn/amp_lstm_fused_test.cpp bounds the difference.
//
// Output dtype: float32 (out, h_n and c_n), as the composed LSTM under autocast returns.
// PyTorch's autocast runs cuDNN's LSTM in float16 and returns float16 tensors; loom does not,
// because loom never promotes dtypes: a float16 output would make every float32 op after the
// LSTM that is not an autocast matmul (dropout's mask, an add, stacking, the loss) throw, and
// the two LSTM implementations would stop being interchangeable. c_n is the float32 cell state,
// not rounded. The cost: the output takes 4 bytes per value instead of 2, and h_t is stored
// twice (float32 output, float16 GEMM operand), B*H*6 bytes per step.
//
// Threads (CPU): the same batch-row slices as the float32 path (nn/lstm_layer_common.cpp).
// Leaves out: float16 master weights (use LstmImpl::Composed), bfloat16, and a float16
// pointwise step (the state is float32 by design, see docs/labs/07-mixed-precision.md).
#include "nn/lstm_fused_amp.h"

#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/amp/autocast.h"
#include "nn/lstm_layer_common.h"

namespace loom::nn::detail {
namespace {

constexpr DType kHalf = DType::Float16, kFloat = DType::Float32;

// The types of every GEMM here: float16 A and B, float32 C and accumulation
// (Backend::matmul_mixed, through nn/lstm_layer_common.h's gemm and gemm_split).
constexpr GemmTypes kMixed{kHalf, kFloat};

// A dense copy of `t` in `dt` (t itself when it already is dense and of that dtype).
Tensor dense_as(const Tensor& t, DType dt) {
  const Tensor c = t.contiguous();
  return c.dtype() == dt ? c : c.to(dt);
}

// The BPTT (nn/lstm_fused.cpp's fused_backward with mixed GEMMs). dY [T+1, B, H] float32 is the
// gradient of the packed output. x_dt, h0_dt, c0_dt: the dtypes the input gradients must have.
std::vector<Tensor> fused_amp_backward(const Tensor& dY_in, const SavedTensors& s, bool reverse,
                                       bool batch_major, const std::vector<bool>& need, DType x_dt,
                                       DType h0_dt, DType c0_dt) {
  const Tensor& x16 = s["x16"];        // [T, B, in]   float16, for dW_ih
  const Tensor& h016 = s["h016"];      // [B, H]       float16 h_{-1}, for dW_hh
  const Tensor& w_ih16 = s["w_ih16"];  // [4H, in]     float16, for dx
  const Tensor& w_hh16 = s["w_hh16"];  // [4H, H]      float16, for dh_{t-1}
  const Tensor& act = s["gates"];      // [T, B, 4H]   float32 activated gates i, f, g, o
  const Tensor& cs = s["c"];           // [T+1, B, H]  float32, every c, c_0 included
  const Tensor& tanh_c = s["tanh_c"];  // [T, B, H]    float32
  const Tensor& y16 = s["y16"];        // [T, B, H]    float16 h_t: the h_{t-1} of the next step
  const int64_t T = x16.size(0), B = x16.size(1), in = x16.size(2), H = w_hh16.size(1);
  const Device dev = x16.device();
  Backend& be = backend_for(dev);
  const TensorOptions f32(kFloat, dev), f16(kHalf, dev);
  const Tensor dY = dense_as(dY_in, kFloat);

  // dA [T, B, 4H] float32 (the bias sums read it) and its float16 rounding dA16 (every GEMM
  // reads that). Own buffers, not the saved gates overwritten, so backward can run twice.
  const Tensor dA = empty({T, B, 4 * H}, f32), dA16 = empty({T, B, 4 * H}, f16);
  const Tensor dh = empty({B, H}, f32);       // dL/dh_t, all paths (scratch, one step)
  const Tensor dc = dY.select(0, T).clone();  // dL/dc_t from step t+1; starts as dL/dc_n
  const Buf pY = buf(dY), pA = buf(dA), pA16 = buf(dA16), pAct = buf(act), pC = buf(cs),
            pTc = buf(tanh_c);
  const int64_t BH = B * H, B4H = B * 4 * H;

  const int slices = slices_for(dev, B, T * B * 4 * H * (H + in));
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const std::size_t row_bytes = static_cast<std::size_t>(nb * H) * dtype_size(kFloat);
    void* dh_rows = buf(dh).at(r);
    int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t;  // index of c_{t-1} in cs
      // dh_t = dout_t (+ dh_n) + f32(dA16_{t+1} W_hh16)
      be.copy_device_to_device(dh_rows, pY.at(t * BH + r), row_bytes, dev);
      if (t_next >= 0) {
        gemm(be, kMixed, pA16.at(t_next * B4H + r4), false, 4 * H, w_hh16.raw_data(), false, H,
             dh_rows, H, nb, H, 4 * H, 1.0);
      }
      be.lstm_pointwise_backward(dh_rows, buf(dc).at(r), pAct.at(t * B4H + r4), pA.at(t * B4H + r4),
                                 pC.at(c_prev * BH + r), pTc.at(t * BH + r), kFloat, nb, H);
      // The one rounding of the backward: dA_t to float16, the operand of every GEMM below.
      be.cast(pA.at(t * B4H + r4), kFloat, pA16.at(t * B4H + r4), kHalf, nb * 4 * H);
      t_next = t;
    }
  }

  std::vector<Tensor> grads(kNumInputs);
  const int64_t first = reverse ? T - 1 : 0;  // the step that read h0
  if (need[kH0]) {                            // dh0 = dA16_first W_hh16
    const Tensor dh0 = empty({B, H}, f32);
    gemm(be, kMixed, pA16.at(first * B4H), false, 4 * H, w_hh16.raw_data(), false, H,
         dh0.raw_data(), H, B, H, 4 * H, 0.0);
    grads[kH0] = dense_as(dh0, h0_dt);
  }
  if (need[kC0]) grads[kC0] = dense_as(dc, c0_dt);
  // dx, dW_ih, dW_hh from dA16 and the float16 operands, the bias sums from the float32 dA (no
  // rounding): the float32 path's GEMMs (nn/lstm_layer_common.cpp), all with float32 results.
  lstm_weight_grads(be, kMixed, dA16, dA, x16, h016, y16, w_ih16, reverse, batch_major, slices,
                    need, grads);
  if (need[kX]) {  // in x's dtype; batch_major: the dense [B, T, in] under the transposed view
    grads[kX] = batch_major ? dense_as(grads[kX].transpose(0, 1), x_dt).transpose(0, 1)
                            : dense_as(grads[kX], x_dt);
  }
  return grads;
}

}  // namespace

bool fused_runs_autocast(DType x_dtype, DType weight_dtype) {
  return weight_dtype == kFloat && autocast::casts_matmul(x_dtype, weight_dtype);
}

LstmLayerOutput lstm_layer_fused_amp(const Variable& xv, const Variable& h0v, const Variable& c0v,
                                     const LstmParams& p, bool reverse) {
  const DType x_dt = xv.dtype();
  const Device dev = xv.device();
  LOOM_CHECK(x_dt == kFloat || x_dt == kHalf, "LSTM (fused, autocast): the input must be float32 ",
             "or float16, got ", dtype_name(x_dt));
  for (const Variable* v : {&p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) {
    LOOM_CHECK(v->dtype() == kFloat && v->device() == dev, "LSTM (fused, autocast): the ",
               "parameters must be float32 master weights on ", dev.str(), ", got ",
               dtype_name(v->dtype()), " on ", v->device().str());
  }
  for (const Variable* v : {&h0v, &c0v}) {
    LOOM_CHECK(v->dtype() == x_dt && v->device() == dev, "LSTM (fused, autocast): h0 and c0 ",
               "must have the input's dtype and device (", dtype_name(x_dt), ", ", dev.str(),
               "), got ", dtype_name(v->dtype()), " on ", v->device().str());
  }
  const int64_t T = xv.size(0), B = xv.size(1), H = p.w_hh.size(1);
  Backend& be = backend_for(dev);
  const TensorOptions f32(kFloat, dev), f16(kHalf, dev);
  const bool batch_major = is_batch_major(xv.data());
  const Tensor x16 =
      dense_as(batch_major ? time_major_copy(be, xv.data()) : xv.data(), kHalf);  // [T, B, in]
  const Tensor h016 = dense_as(h0v.data(), kHalf);                                // [B, H]
  // The cached float16 copies of the master weights (once per autocast region, see above).
  const Tensor w_ih16 = amp::cast_once(p.w_ih, kHalf).contiguous();  // [4H, in]
  const Tensor w_hh16 = amp::cast_once(p.w_hh, kHalf).contiguous();  // [4H, H]

  // 1. gates [T, B, 4H] float32 = (b_ih + b_hh) in every row, then += x16 W_ih16^T.
  const Tensor gates = input_projection(be, kMixed, x16, w_ih16, p, dev);

  // cs [T+1, B, H], tanh_c [T, B, H], Y [T+1, B, H]: float32, laid out as in the float32 path;
  // y16 [T, B, H]: y16[t] = h_t rounded to float16 (the file header says why here).
  const Tensor cs = empty({T + 1, B, H}, f32), tanh_c = empty({T, B, H}, f32);
  const Tensor Y = empty({T + 1, B, H}, f32), y16 = empty({T, B, H}, f16);
  const Buf pG = buf(gates), pC = buf(cs), pTc = buf(tanh_c), pY = buf(Y), pY16 = buf(y16);
  const int64_t BH = B * H, B4H = B * 4 * H;
  const std::size_t bh_bytes = static_cast<std::size_t>(BH) * dtype_size(kFloat);
  const Tensor c0 = c0v.data().contiguous();  // float32 (or float16, widened here)
  be.cast(c0.raw_data(), x_dt, pC.at((reverse ? T : 0) * BH), kFloat, BH);

  // 2. the sequential loop, each thread on its own batch rows [b0, b0 + nb).
  const int slices = slices_for(dev, B, T * B * 4 * H * H);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const void* h_prev16 = buf(h016).at(r);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t, c_out = reverse ? t : t + 1;
      // gates[t] += h16_{t-1} W_hh16^T, accumulated in float32 into the float32 gates.
      gemm(be, kMixed, h_prev16, false, H, w_hh16.raw_data(), true, H, pG.at(t * B4H + r4), 4 * H,
           nb, 4 * H, H, 1.0);
      be.lstm_pointwise_forward(pG.at(t * B4H + r4), pC.at(c_prev * BH + r), pC.at(c_out * BH + r),
                                pTc.at(t * BH + r), pY.at(t * BH + r), kFloat, nb, H);
      be.cast(pY.at(t * BH + r), kFloat, pY16.at(t * BH + r), kHalf, nb * H);  // h_t -> h16_t
      h_prev16 = pY16.at(t * BH + r);
    }
  }
  be.copy_device_to_device(pY.at(T * BH), pC.at((reverse ? 0 : T) * BH), bh_bytes, dev);

  // Saved for backward: the float32 path's list with the GEMM operands in float16 (x16, h016,
  // the two weight copies, y16 in place of Y): half the bytes for x, and the weights' copies
  // are the cached ones, not new buffers.
  const std::vector<Variable> inputs = layer_node_inputs(xv, h0v, c0v, p);
  const std::vector<bool> need = grads_needed(inputs);
  const DType h0_dt = h0v.dtype(), c0_dt = c0v.dtype();
  const Variable packed = record(
      "LstmFusedAutocastBackward", Y, inputs,
      {{"x16", x16},
       {"h016", h016},
       {"w_ih16", w_ih16},
       {"w_hh16", w_hh16},
       {"gates", gates},
       {"c", cs},
       {"tanh_c", tanh_c},
       {"y16", y16}},
      [reverse, batch_major, need, x_dt, h0_dt, c0_dt](const Tensor& g, const SavedTensors& s) {
        return fused_amp_backward(g, s, reverse, batch_major, need, x_dt, h0_dt, c0_dt);
      });
  return unpack_layer_output(packed, T, reverse);
}

}  // namespace loom::nn::detail
