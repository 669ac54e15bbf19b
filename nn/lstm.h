// nn/lstm.h: the LSTM layer (PyTorch's nn.LSTM), its options, and the functional core under it.
//
//   LSTM lstm(LSTMOptions(100, 64).batch_first(true));      // Embedding(.., 100) -> LSTM(64)
//   LstmOutput y = lstm.forward_full(emb);                   // emb [B, T, 100]
//   // y.output [B, T, 64], y.h_n and y.c_n [1, B, 64]
//
// Semantics are PyTorch's: gate order i, f, g, o; parameters weight_ih_l{k}[_reverse] [4H, in]
// (in = input_size for k = 0, D*H above), weight_hh_l{k}[_reverse] [4H, H], bias_ih_l{k},
// bias_hh_l{k} [4H], all U(-1/sqrt(H), 1/sqrt(H)) (nn/init.h); h0/c0 default to zeros; output
// [T, B, D*H] ([B, T, D*H] with batch_first; the forward direction's half first); h_n and c_n
// [L*D, B, H], row layer*D + direction, never batch-first (as in PyTorch). Dropout (p) is applied
// to each layer's output except the last, in training mode only.
//
// Three implementations compute the same function (tests/nn/lstm_equivalence_test.cpp,
// tests/nn/lstm_persistent_test.cpp):
//   LstmImpl::Composed  nn/lstm_composed.cpp: the cell written with autograd ops, step by step;
//                       the version to read and to step through in a debugger.
//   LstmImpl::Fused     nn/lstm_fused.cpp: one graph node per (layer, direction) with a
//                       hand-written BPTT backward (docs/labs/04-lstm-bptt.md); the fast one.
//   LstmImpl::Persistent nn/lstm_persistent.cpp: fused's node, with each direction's whole
//                       recurrence in one Backend call forward and one backward (on a GPU one
//                       kernel each, W_hh kept on-chip: cuda/lstm_persistent.cu, lab 08). Falls
//                       back to Fused where the backend cannot run it (lstm_persistent_available)
//                       and under autocast.
//
// Leaves out: proj_size, packed (variable-length) sequences, peepholes, and float16 weights in the
// fused path (under autocast it runs float16 GEMMs on float32 master weights:
// nn/lstm_fused_amp.cpp; the composed path takes any float dtype).
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

enum class LstmImpl { Composed, Fused, Persistent };

// Options with libtorch's shape: LSTMOptions(in, H).num_layers(2).bidirectional(true);
// each setter returns *this, each getter is the same name without an argument.
class LSTMOptions {
 public:
  LSTMOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  LSTMOptions& num_layers(int64_t n) { return num_layers_ = n, *this; }
  LSTMOptions& batch_first(bool b) { return batch_first_ = b, *this; }
  LSTMOptions& dropout(double p) { return dropout_ = p, *this; }  // between layers
  LSTMOptions& bidirectional(bool b) { return bidirectional_ = b, *this; }
  LSTMOptions& impl(LstmImpl i) { return impl_ = i, *this; }
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  int64_t num_layers() const { return num_layers_; }
  bool batch_first() const { return batch_first_; }
  double dropout() const { return dropout_; }
  bool bidirectional() const { return bidirectional_; }
  LstmImpl impl() const { return impl_; }
  int64_t num_directions() const { return bidirectional_ ? 2 : 1; }

 private:
  int64_t input_size_, hidden_size_;
  int64_t num_layers_ = 1;
  bool batch_first_ = false;
  double dropout_ = 0.0;
  bool bidirectional_ = false;
  LstmImpl impl_ = LstmImpl::Fused;
};

// The four parameters of one (layer, direction).
struct LstmParams {
  Variable w_ih;  // [4H, in]
  Variable w_hh;  // [4H, H]
  Variable b_ih;  // [4H]
  Variable b_hh;  // [4H]
};

struct LstmOutput {
  Variable output;  // [T, B, D*H] or [B, T, D*H] (batch_first)
  Variable h_n;     // [L*D, B, H]
  Variable c_n;     // [L*D, B, H]
};

// ---- the functional core (what the module calls) ---------------------------------------------
// x: [T, B, in] or [B, T, in] (opts.batch_first). h0, c0: [L*D, B, H], or both undefined for
// zeros. params: L*D entries, index layer*D + direction. `training` turns the between-layer
// dropout on; it draws from `gen` (needed only then). Throws loom::Error on a shape or dtype
// mismatch, naming the argument.
LstmOutput lstm_forward(const Variable& x, const Variable& h0, const Variable& c0,
                        const std::vector<LstmParams>& params, const LSTMOptions& opts,
                        bool training = false, Generator* gen = nullptr);

// One layer, one direction, time-major: what both implementations provide.
struct LstmLayerOutput {
  Variable out;  // [T, B, H], out[t] = h after reading x[t] (also for reverse)
  Variable h_n;  // [B, H]: the last h computed (t = T-1 forward, t = 0 reverse)
  Variable c_n;  // [B, H]
};
// x [T, B, in]; h0, c0 [B, H] (defined; zeros if the caller has none); reverse runs t = T-1..0.
LstmLayerOutput lstm_layer_composed(const Variable& x, const Variable& h0, const Variable& c0,
                                    const LstmParams& p, bool reverse);
LstmLayerOutput lstm_layer_fused(const Variable& x, const Variable& h0, const Variable& c0,
                                 const LstmParams& p, bool reverse);
// Fused's node with the recurrence in one backend call each way; runs lstm_layer_fused instead
// when !lstm_persistent_available(x's dtype, H, x's device) or autocast is on.
LstmLayerOutput lstm_layer_persistent(const Variable& x, const Variable& h0, const Variable& c0,
                                      const LstmParams& p, bool reverse);
// Whether LstmImpl::Persistent really runs the persistent recurrence for this dtype and hidden
// size on `device` (Backend::lstm_persistent_fits on its current device): the CPU runs float32
// and float64 of any size; CUDA needs W_hh [4H, H] in one block's shared memory (float32 up to
// H = 119 on an H100). Apps print it so a benchmark never measures a silent fallback.
bool lstm_persistent_available(DType dtype, int64_t hidden_size, Device device);

// ---- the module ------------------------------------------------------------------------------
class LSTM : public Module {
 public:
  // Parameters drawn from `gen`, in PyTorch's registration order (as Linear and Embedding do).
  explicit LSTM(const LSTMOptions& options, Generator& gen = default_generator());

  // x [T, B, in] (or [B, T, in]); h0, c0 [L*D, B, H] or both undefined (zeros). Returns the
  // output sequence and (h_n, c_n).
  LstmOutput forward_full(const Variable& x, const Variable& h0 = Variable(),
                          const Variable& c0 = Variable());
  // Module's one-input forward (what Sequential calls): the output sequence only.
  Variable forward(const Variable& x) override { return forward_full(x).output; }

  const LSTMOptions& options() const { return options_; }
  // Switch implementation (the parameters are shared; all compute the same function).
  void set_impl(LstmImpl impl) { options_.impl(impl); }
  // params()[layer*D + direction]: handles to the registered parameters.
  const std::vector<LstmParams>& params() const { return params_; }
  // Seeds the dropout masks (only used in training with dropout > 0).
  Generator& generator() { return dropout_gen_; }

 private:
  LSTMOptions options_;
  std::vector<LstmParams> params_;
  Generator dropout_gen_;
};

}  // namespace loom::nn
