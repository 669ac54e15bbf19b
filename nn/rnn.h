// nn/rnn.h: the plain tanh RNN layer (PyTorch's nn.RNN with nonlinearity 'tanh'), its options,
// and the one-layer functional core under it.
//
//   RNN rnn(RNNOptions(3, 50).batch_first(true));  // x [B, T, 3]
//   RnnOutput y = rnn.forward_full(x);             // y.output [B, T, 50], y.h_n [1, B, 50]
//
// h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), h_0 = 0 unless given. PyTorch's names
// and shapes (weight_ih_l0 [H, in], weight_hh_l0 [H, H], bias_ih_l0, bias_hh_l0 [H]) and its
// initialisation U(-1/sqrt(H), 1/sqrt(H)). Two implementations compute the same function to the
// bit (tests/nn/rnn_test.cpp): RnnImpl::Composed (nn/rnn_composed.cpp: autograd ops step by
// step, the one to read) and RnnImpl::Fused (nn/rnn_fused.cpp: one graph node over tensor/rnn.h,
// a hand-written BPTT: the fast one).
//
// Leaves out: num_layers > 1, bidirectional, the relu nonlinearity, dropout.
#pragma once

#include <cstdint>

#include "autograd/variable.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

enum class RnnImpl { Composed, Fused };

// Options with libtorch's shape: RNNOptions(in, H).batch_first(true).impl(RnnImpl::Composed).
class RNNOptions {
 public:
  RNNOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  // x and output [B, T, .] instead of [T, B, .]; h_n is never batch-first (as PyTorch).
  RNNOptions& batch_first(bool b) { return batch_first_ = b, *this; }
  RNNOptions& impl(RnnImpl i) { return impl_ = i, *this; }
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  bool batch_first() const { return batch_first_; }
  RnnImpl impl() const { return impl_; }

 private:
  int64_t input_size_, hidden_size_;
  bool batch_first_ = false;
  RnnImpl impl_ = RnnImpl::Fused;
};

struct RnnParams {
  Variable w_ih;  // [H, in]
  Variable w_hh;  // [H, H]
  Variable b_ih;  // [H]
  Variable b_hh;  // [H]
};

struct RnnOutput {
  Variable output;  // [T, B, H] or [B, T, H] (batch_first)
  Variable h_n;     // [1, B, H]
};

// One layer, time-major: what both implementations provide. x [T, B, in], h0 [B, H] (defined).
struct RnnLayerOutput {
  Variable out;  // [T, B, H], out[t] = h_t
  Variable h_n;  // [B, H], h_{T-1}
};
RnnLayerOutput rnn_layer_composed(const Variable& x, const Variable& h0, const RnnParams& p);
RnnLayerOutput rnn_layer_fused(const Variable& x, const Variable& h0, const RnnParams& p);

class RNN : public Module {
 public:
  // Parameters drawn from `gen` in PyTorch's registration order.
  explicit RNN(const RNNOptions& options, Generator& gen = default_generator());

  // x [T, B, in] (or [B, T, in]); h0 [1, B, H] or undefined (zeros). Throws loom::Error naming
  // the argument on a shape or dtype mismatch.
  RnnOutput forward_full(const Variable& x, const Variable& h0 = Variable());
  Variable forward(const Variable& x) override { return forward_full(x).output; }

  const RNNOptions& options() const { return options_; }
  void set_impl(RnnImpl impl) { options_.impl(impl); }
  const RnnParams& params() const { return params_; }

 private:
  RNNOptions options_;
  RnnParams params_;
};

}  // namespace loom::nn
