// nn/rnn_composed.cpp: one tanh RNN layer written with autograd ops, one equation a line.
//
// The version to read first and to step through. The input side does not depend on h, so it is
// one GEMM for all steps (as the fused layer does it); the loop holds only what must be
// sequential. The gradient comes from the ops' own backward functions; the fused layer
// (nn/rnn_fused.cpp) reproduces their every sum in the same order and is tested against this
// file to the bit.
//
// Leaves out: everything clever (see the fused version).
#include "autograd/functions.h"
#include "nn/rnn.h"

namespace loom::nn {

// x [T, B, in]; h0 [B, H]. Returns out [T, B, H] (out[t] = h_t) and h_{T-1}.
RnnLayerOutput rnn_layer_composed(const Variable& x, const Variable& h0, const RnnParams& p) {
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = p.w_hh.size(0);
  LOOM_CHECK(T >= 1, "RNN: the sequence is empty (input ", shape_str(x.shape()), ")");
  LOOM_CHECK(p.w_ih.shape() == Shape({H, in}), "RNN: weight_ih is ", shape_str(p.w_ih.shape()),
             " but the input has ", in, " features");
  // xb = x W_ih^T + b_ih for every step at once    [T, B, H]
  const Variable xb =
      reshape(matmul(reshape(x, {T * B, in}), transpose(p.w_ih, 0, 1)) + p.b_ih, {T, B, H});
  const Variable w_hh_t = transpose(p.w_hh, 0, 1);  // [H, H]: h W_hh^T without a copy
  Variable h = h0;
  std::vector<Variable> outs(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    h = tanh(select(xb, 0, t) + matmul(h, w_hh_t) + p.b_hh);  // h_t = tanh(xb_t + h W_hh^T + b_hh)
    outs[static_cast<size_t>(t)] = h;
  }
  return {stack(outs, 0), h};
}

}  // namespace loom::nn
