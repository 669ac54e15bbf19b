// tensor/rnn.h: one tanh RNN layer (PyTorch's nn.RNN, nonlinearity 'tanh') as two Tensor ops,
// forward and its backward (BPTT). nn/rnn_fused.cpp records them as one graph node.
// x [T, B, in] time-major, hidden size H, one direction:
//   forward:  1. xb = x W_ih^T + b_ih for all T steps at once: one GEMM over T*B rows
//             2. the recurrence (the backend's kernel): h_t = tanh((xb_t + h_{t-1} W_hh^T) + b_hh)
//   backward: 1. the recurrence backward: dpre_t = (dh_t + dpre_{t+1} W_hh) (1 - h_t^2), dh0
//             2. dx, dW_ih, db_ih over all steps at once; dW_hh and db_hh step by step
// Every sum is formed in the order nn/rnn_composed.cpp's autograd graph forms it (dW_hh and db_hh
// accumulate from the last step to the first), so composed and fused give the same bits in
// float64 and float32, on any thread count (tests/nn/rnn_test.cpp).
//
// Leaves out: the relu nonlinearity, reverse direction, mixed precision.
#pragma once

#include "tensor/tensor.h"

namespace loom {

// What backward needs: x and h0 for the weight gradients, the weights for dx and dh, and every
// h_t (tanh's derivative is 1 - h_t^2, so no pre-activation is kept).
struct RnnLayerSaved {
  Tensor x;     // [T, B, in] dense
  Tensor h0;    // [B, H]
  Tensor w_ih;  // [H, in]
  Tensor w_hh;  // [H, H]
  Tensor h;     // [T, B, H]: h_t of every step (also forward's output)
};

struct RnnLayerForward {
  Tensor h;  // [T, B, H]: h[t] = h_t
  RnnLayerSaved saved;
};

// x [T, B, in], h0 [B, H], w_ih [H, in], w_hh [H, H], b_ih, b_hh [H]: one float dtype (float32 or
// float64), one device. Throws loom::Error naming the argument on a bad shape, dtype or device.
RnnLayerForward rnn_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& w_ih,
                                  const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh);

// Gradients of b_ih and b_hh differ only in rounding order, so both are returned.
struct RnnLayerGrads {
  Tensor x, h0, w_ih, w_hh, b_ih, b_hh;
};

// dh [T, B, H]: the gradient of forward's h from outside the recurrence.
RnnLayerGrads rnn_layer_backward(const Tensor& dh, const RnnLayerSaved& saved);

}  // namespace loom
