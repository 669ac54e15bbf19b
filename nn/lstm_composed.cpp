// nn/lstm_composed.cpp: one LSTM layer, one direction, written step by step with autograd ops.
//
// This is the version to read first and to step through in a debugger: every line is one
// equation of docs/labs/04-lstm-bptt.md section 1, and the gradient comes for free from the ops'
// own backward functions (autograd/ops/*.cpp). It is also the reference the fused LSTM
// (nn/lstm_fused.cpp) is tested against, to 1e-10 in float64.
//
// The price of clarity: each timestep records about a dozen graph nodes, each saving what its
// backward needs (two GEMM outputs, their sums, four activations, f*c, i*g, c, tanh(c), h:
// docs/labs/04-lstm-bptt.md section 3), and select/chunk backward write into zero tensors of
// their input's size. tests/bench/bench_lstm_step.cpp measures what that costs.
//
// Leaves out: everything clever (see the fused version).
#include "autograd/functions.h"
#include "nn/lstm.h"

namespace loom::nn {

// x [T, B, in]; h0, c0 [B, H]. Returns out [T, B, H] (out[t] = h after reading x[t]) and the last
// (h, c). reverse reads t = T-1 down to 0.
LstmLayerOutput lstm_layer_composed(const Variable& x, const Variable& h0, const Variable& c0,
                                    const LstmParams& p, bool reverse, const Tensor& h_mask) {
  const int64_t T = x.size(0);
  LOOM_CHECK(T >= 1, "LSTM: the sequence is empty (input ", shape_str(x.shape()), ")");
  LOOM_CHECK(p.w_ih.size(1) == x.size(2), "LSTM: weight_ih is ", shape_str(p.w_ih.shape()),
             " but the layer input has ", x.size(2), " features");
  const Variable w_ih_t = transpose(p.w_ih, 0, 1);  // [in, 4H]: x_t W_ih^T without a copy
  const Variable w_hh_t = transpose(p.w_hh, 0, 1);  // [H, 4H]

  Variable h = h0, c = c0;  // [B, H]
  std::vector<Variable> outs(static_cast<size_t>(T));
  for (int64_t step = 0; step < T; ++step) {
    // BEGIN LAB 04 TASK 1 uses(reverse, h_mask)
    const int64_t t = reverse ? T - 1 - step : step;
    const Variable x_t = select(x, 0, t);  // [B, in]
    // a_t = x_t W_ih^T + b_ih + (h_{t-1} * mask) W_hh^T + b_hh    [B, 4H]
    const Variable h_in = h_mask.defined() ? h * Variable(h_mask.to(h.dtype())) : h;
    const Variable a = matmul(x_t, w_ih_t) + p.b_ih + matmul(h_in, w_hh_t) + p.b_hh;
    const std::vector<Variable> gate = chunk(a, 4, 1);  // i, f, g, o: four [B, H] column blocks
    const Variable i = sigmoid(gate[0]);                // input gate
    const Variable f = sigmoid(gate[1]);                // forget gate
    const Variable g = tanh(gate[2]);                   // cell candidate
    const Variable o = sigmoid(gate[3]);                // output gate
    c = f * c + i * g;                                  // c_t = f_t c_{t-1} + i_t g_t
    h = o * tanh(c);                                    // h_t = o_t tanh(c_t)
    outs[static_cast<size_t>(t)] = h;
    // END LAB 04 TASK 1
  }
  return {stack(outs, 0), h, c};
}

}  // namespace loom::nn
