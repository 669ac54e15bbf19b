// tensor/inference.h: the ops of the eval-mode path that write into outputs the caller owns, so a
// model that keeps its outputs and workspace between calls allocates nothing per call.
//
// They record no autograd graph (Tensor has none) and keep nothing for backward. Every op checks
// shapes, dtypes and devices and throws loom::Error naming the op and the argument. The LSTM op
// needs the backend's lstm_inference kernel (the CPU has it; tensor/fused_kernels.h).
// Leaves out: bidirectional and multi-layer LSTMs (call lstm_inference per layer only once the
// op returns every step's h, which it does not yet), dropout (eval mode has none).
#pragma once

#include "tensor/quantize.h"
#include "tensor/tensor.h"

namespace loom {

// The recurrent weights of an LSTM layer: float32 [4H, H], or int8 (int8.values defined).
struct RecurrentWeights {
  Tensor w_hh;
  QuantizedMatrix int8;
};

// One LSTM layer from h0 = c0 = 0 over ids [B, T] (Int32, each in [0, table.size(0))): step t of
// review b adds table[ids[b, t]] ([V, 4H] Float32: the input projection plus both biases, folded
// per token id by fold_input_projection) to h_{t-1} W_hh^T. Writes h_n and c_n, [B, H] Float32
// contiguous tensors the caller made.
void lstm_inference(const Tensor& table, const Tensor& ids, const RecurrentWeights& w,
                    const Tensor& h_n, const Tensor& c_n);

// The fold: an embedding [V, E] followed by an LSTM's input projection is the table
// embedding W_ih^T + b_ih + b_hh [V, 4H] (exact up to float32 rounding: row v is the projection
// of token v's vector). w_ih [4H, E]; b_ih, b_hh [4H].
Tensor fold_input_projection(const Tensor& embedding, const Tensor& w_ih, const Tensor& b_ih,
                             const Tensor& b_hh);

// out [M, N] = x [M, K] w^T + bias [N], Float32; out contiguous and not overlapping x.
void linear_into(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out);
// The same with int8 weights (tensor/quantize.h's linear_int8, into out).
void linear_int8_into(const Tensor& x, const QuantizedMatrix& w, const Tensor& bias,
                      const Tensor& out);

}  // namespace loom
