// tensor/lstm.h: one LSTM layer in one direction as two Tensor ops, forward and its backward
// (BPTT). nn/lstm_fused.cpp records them as one graph node; docs/labs/04-lstm-bptt.md derives
// every line. x [T, B, in] time-major, hidden size H, gate order i, f, g, o (PyTorch's):
//   forward:  1. gates = x W_ih^T + (b_ih + b_hh) for all T steps at once: one GEMM
//             2. the recurrence (the backend's fused kernel): per step gates[t] += h_{t-1} W_hh^T,
//                then the cell update (tensor/kernels/lstm_pointwise.h)
//   backward: 1. the recurrence backward: dL/d(pre-activations) of every step, dh0, dc0
//             2. one GEMM each for dx, dW_ih and dW_hh over all steps; a column sum for the biases
// Precision is a dtype: the state (gates, c, h, gradients) has the biases' dtype (float32 or
// float64); the GEMMs read `gemm_dtype` operands (the state dtype, or float16 or bfloat16 with
// a float32 state: mixed precision, lab 07; bfloat16 runs on the CPU only, lab 10).
//
// Leaves out: dropout (between layers: nn/lstm.cpp), peepholes, projections, packed sequences.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace loom {

struct LstmLayerArgs {
  bool reverse = false;  // run t = T-1 .. 0
  DType gemm_dtype = DType::Float32;
  bool persistent = false;  // on a GPU: one kernel for the recurrence, if it fits
  // Recurrent dropout (Keras' recurrent_dropout): undefined, or [B, H] in the state dtype, the
  // same for every step: each step multiplies h_{t-1} by it before the recurrent GEMM (so the
  // mask holds keep / (1 - p): inverted dropout). h_t itself (the output) is not masked.
  Tensor h_mask;
};

// What backward needs, and nothing else: every gate derivative is a function of the activation,
// so the activated gates are kept (no exp or tanh in backward); c_{t-1} for the forget gate and
// tanh(c_t) for the output gate and dc. Not kept: the pre-activations (overwritten), f*c, i*g.
struct LstmLayerSaved {
  Tensor x;       // [T, B, in] gemm dtype, time-major: dW_ih = dA^T x
  Tensor h0;      // [B, H]     gemm dtype: the first step's GEMM operand (h0 * mask), for dW_hh
  Tensor c0;      // [B, H]     state: the c_{t-1} of the first step
  Tensor w_ih;    // [4H, in]   gemm dtype: dx = dA W_ih
  Tensor w_hh;    // [4H, H]    gemm dtype: dh_{t-1} = dA_t W_hh
  Tensor act;     // [T, B, 4H] state: the activated gates
  Tensor c;       // [T, B, H]  state: c_t
  Tensor tanh_c;  // [T, B, H]  state
  Tensor h;       // [T, B, H]  gemm dtype: h_t as the GEMMs read it (* mask), for dW_hh
  LstmLayerArgs args;
  bool x_batch_major = false;  // x came as a transposed [B, T, in]: dx is returned that way
};

struct LstmLayerForward {
  Tensor y;  // [T+1, B, H] state dtype: y[t] = h_t (input order, also reverse), y[T] = c_n
  LstmLayerSaved saved;
};

// x [T, B, in] (any float dtype; a transposed dense [B, T, in] is read without a copy on the GEMM
// side), h0, c0 [B, H], w_ih [4H, in], w_hh [4H, H] (state or gemm dtype), b_ih, b_hh [4H] (the
// state dtype: float32 or float64). Throws loom::Error naming the argument on a bad shape, dtype
// or device.
LstmLayerForward lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh, const LstmLayerArgs& args);

// Which gradients to compute; the others stay undefined.
struct LstmGradsWanted {
  bool x = true, h0 = true, c0 = true, w_ih = true, w_hh = true, bias = true;
};
// In the state dtype. `bias` is the gradient of b_ih and of b_hh alike (both enter every step
// unchanged). x has x's shape and, for a batch-major x, its strides.
struct LstmLayerGrads {
  Tensor x, h0, c0, w_ih, w_hh, bias;
};

// dy [T+1, B, H]: the gradient of forward's y (dy[t] = dL/dh_t from outside the recurrence,
// dy[T] = dL/dc_n).
LstmLayerGrads lstm_layer_backward(const Tensor& dy, const LstmLayerSaved& saved,
                                   const LstmGradsWanted& want = {});

// Whether `persistent` really runs the one-kernel recurrence for this state dtype and hidden size
// on `device` (the CPU always runs its one loop: true; CUDA needs W_hh in one block's shared
// memory). Apps print it so a benchmark never measures a silent fallback.
bool lstm_persistent_available(DType dtype, int64_t hidden_size, Device device);

}  // namespace loom
