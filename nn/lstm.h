// nn/lstm.h: the LSTM layer (PyTorch's nn.LSTM), its options, and the functional core under it.
//
//   LSTM lstm(LSTMOptions(100, 64).batch_first(true));  // emb [B, T, 100] from Embedding(.., 100)
//   LstmOutput y = lstm.forward_full(emb);  // y.output [B, T, 64], y.h_n and y.c_n [1, B, 64]
//
// Semantics are PyTorch's (docs/labs/04-lstm-bptt.md, section 1): gate order i, f, g, o, its
// parameter names and shapes, weights U(-1/sqrt(H), 1/sqrt(H)) (nn/init.h), h0 = c0 = 0 unless
// given. Each option's meaning is on its setter, each shape on LstmOutput. Two implementations
// compute the same function (tests/nn/lstm_equivalence_test.cpp): LstmImpl::Composed
// (nn/lstm_composed.cpp: autograd ops step by step, the one to read and step through) and
// LstmImpl::Fused (nn/lstm_fused.cpp: one graph node per layer and direction over tensor/lstm.h,
// with a hand-written BPTT: the fast one).
// Leaves out: proj_size, packed (variable-length) sequences, peepholes, and float16 weights in the
// fused path (under autocast it runs float16 GEMMs on float32 master weights; the composed path
// takes any float dtype).
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "nn/init.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

enum class LstmImpl { Composed, Fused };

// Options with libtorch's shape: LSTMOptions(in, H).num_layers(2).bidirectional(true);
// each setter returns *this, each getter is the same name without an argument.
class LSTMOptions {
 public:
  LSTMOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  LSTMOptions& num_layers(int64_t n) { return num_layers_ = n, *this; }
  // x and output [B, T, .] instead of [T, B, .]; h_n and c_n are never batch-first (as PyTorch).
  LSTMOptions& batch_first(bool b) { return batch_first_ = b, *this; }
  // Dropout on each layer's output except the last one's, in training mode only.
  LSTMOptions& dropout(double p) { return dropout_ = p, *this; }
  LSTMOptions& bidirectional(bool b) { return bidirectional_ = b, *this; }
  LSTMOptions& impl(LstmImpl i) { return impl_ = i, *this; }
  // Fused on a GPU: run each recurrence as one kernel with W_hh kept on chip, where it fits
  // (loom::lstm_persistent_available).
  LSTMOptions& persistent(bool p) { return persistent_ = p, *this; }
  // Keras' recurrent_dropout (PyTorch has none): h_{t-1} is multiplied by one mask per sequence,
  // the same at every step, before the recurrent GEMM; in training mode only.
  LSTMOptions& recurrent_dropout(double p) { return recurrent_dropout_ = p, *this; }
  // InitScheme::Keras draws Keras' initial weights instead of PyTorch's (nn/init.h).
  LSTMOptions& init(InitScheme s) { return init_ = s, *this; }
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  int64_t num_layers() const { return num_layers_; }
  bool batch_first() const { return batch_first_; }
  double dropout() const { return dropout_; }
  bool bidirectional() const { return bidirectional_; }
  LstmImpl impl() const { return impl_; }
  bool persistent() const { return persistent_; }
  double recurrent_dropout() const { return recurrent_dropout_; }
  InitScheme init() const { return init_; }
  int64_t num_directions() const { return bidirectional_ ? 2 : 1; }

 private:
  int64_t input_size_, hidden_size_;
  int64_t num_layers_ = 1;
  bool batch_first_ = false;
  double dropout_ = 0.0;
  bool bidirectional_ = false;
  LstmImpl impl_ = LstmImpl::Fused;
  bool persistent_ = false;
  double recurrent_dropout_ = 0.0;
  InitScheme init_ = InitScheme::Torch;
};

// The four parameters of one (layer, direction).
struct LstmParams {
  Variable w_ih;  // [4H, in]
  Variable w_hh;  // [4H, H]
  Variable b_ih;  // [4H]
  Variable b_hh;  // [4H]
};

struct LstmOutput {
  Variable output;  // [T, B, D*H] or [B, T, D*H] (batch_first); forward direction's half first
  Variable h_n;     // [L*D, B, H], row layer*D + direction (never batch-first)
  Variable c_n;     // [L*D, B, H]
};

// ---- the functional core (what the module calls) ---------------------------------------------
// x: [T, B, in] or [B, T, in] (opts.batch_first). h0, c0: [L*D, B, H], or both undefined for
// zeros. params: L*D entries, index layer*D + direction. `training` turns the between-layer and
// the recurrent dropout on; they draw from `gen` (needed only then). Throws loom::Error on a shape
// or dtype mismatch, naming the argument.
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
// h_mask: undefined, or recurrent dropout's [B, H] mask (keep / (1 - p)), the same every step.
LstmLayerOutput lstm_layer_composed(const Variable& x, const Variable& h0, const Variable& c0,
                                    const LstmParams& p, bool reverse,
                                    const Tensor& h_mask = Tensor());
// `persistent`: LSTMOptions::persistent.
LstmLayerOutput lstm_layer_fused(const Variable& x, const Variable& h0, const Variable& c0,
                                 const LstmParams& p, bool reverse, bool persistent = false,
                                 const Tensor& h_mask = Tensor());

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
  // Switch implementation (the parameters are shared; both compute the same function).
  void set_impl(LstmImpl impl) { options_.impl(impl); }
  void set_persistent(bool p) { options_.persistent(p); }
  // params()[layer*D + direction]: handles to the registered parameters.
  const std::vector<LstmParams>& params() const { return params_; }
  // Where the dropout masks (between layers, recurrent) come from in training: default_generator()
  // unless set, like every dropout module (nn/dropout.h), so an app that saves and restores that
  // generator resumes with the same masks. Not owned; must outlive the module's use.
  void set_dropout_generator(Generator& g) { dropout_gen_ = &g; }
  Generator& dropout_generator() { return *dropout_gen_; }

 private:
  LSTMOptions options_;
  std::vector<LstmParams> params_;
  Generator* dropout_gen_ = &default_generator();
};

}  // namespace loom::nn
