// nn/rnn_fused.cpp: one tanh RNN layer as ONE graph node over the Tensor ops of tensor/rnn.h:
// the whole forward in one call, its BPTT in another.
//
// The node's output is h [T, B, H]; h_n is a view of its last row (select), whose backward
// writes the gradient into that row of the node's dh, which goes to rnn_layer_backward as is.
//
// Leaves out: float16 and bfloat16 (the composed layer takes any float dtype).
#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/rnn.h"
#include "tensor/rnn.h"

namespace loom::nn {

RnnLayerOutput rnn_layer_fused(const Variable& x, const Variable& h0, const RnnParams& p) {
  LOOM_CHECK(x.defined() && x.dim() == 3, "RNN (fused): x must be [T, B, in]");
  RnnLayerForward f = rnn_layer_forward(x.data(), h0.data(), p.w_ih.data(), p.w_hh.data(),
                                        p.b_ih.data(), p.b_hh.data());
  const Variable h = record("RnnFusedBackward", f.h, {x, h0, p.w_ih, p.w_hh, p.b_ih, p.b_hh},
                            std::move(f.saved), [](const Tensor& dh, const RnnLayerSaved& s) {
                              const RnnLayerGrads g = rnn_layer_backward(dh, s);
                              return std::vector<Tensor>{g.x, g.h0, g.w_ih, g.w_hh, g.b_ih, g.b_hh};
                            });
  return {h, select(h, 0, x.size(0) - 1)};
}

}  // namespace loom::nn
