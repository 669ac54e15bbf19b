// nn/lstm.cpp: the LSTM module and lstm_forward, which stacks layers and directions.
//
// Everything here is shared by the two implementations: argument checks, batch_first (a
// transpose view in, a transpose view out), the loop over layers and directions, the
// concatenation of the two directions' outputs, dropout between layers, and stacking each
// layer's final states into h_n / c_n. One layer in one direction is lstm_layer_composed
// (nn/lstm_composed.cpp) or lstm_layer_fused (nn/lstm_fused.cpp).
#include "nn/lstm.h"

#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "nn/dropout.h"
#include "nn/init.h"

namespace loom::nn {
namespace {

void check_options(const LSTMOptions& o) {
  LOOM_CHECK(o.input_size() > 0 && o.hidden_size() > 0, "LSTM: input_size (", o.input_size(),
             ") and hidden_size (", o.hidden_size(), ") must be > 0");
  LOOM_CHECK(o.num_layers() >= 1, "LSTM: num_layers must be >= 1, got ", o.num_layers());
  LOOM_CHECK(o.dropout() >= 0 && o.dropout() < 1, "LSTM: dropout must be in [0, 1), got ",
             o.dropout());
  LOOM_CHECK(o.recurrent_dropout() >= 0 && o.recurrent_dropout() < 1,
             "LSTM: recurrent_dropout must be in [0, 1), got ", o.recurrent_dropout());
}

void check_state(const Variable& s, const char* name, const Shape& want, DType dtype) {
  LOOM_CHECK(s.shape() == want, "LSTM: ", name, " must have shape ", shape_str(want),
             " ([num_layers * num_directions, batch, hidden]), got ", shape_str(s.shape()));
  LOOM_CHECK(s.dtype() == dtype, "LSTM: ", name, " has dtype ", dtype_name(s.dtype()),
             ", the input has ", dtype_name(dtype));
}

LstmLayerOutput run_layer(const LSTMOptions& o, const Variable& x, const Variable& h0,
                          const Variable& c0, const LstmParams& p, bool reverse,
                          const Tensor& h_mask) {
  switch (o.impl()) {
    case LstmImpl::Composed:
      return lstm_layer_composed(x, h0, c0, p, reverse, h_mask);
    case LstmImpl::Fused:
      return lstm_layer_fused(x, h0, c0, p, reverse, o.persistent(), h_mask);
  }
  LOOM_FAIL("LSTM: unknown implementation ", static_cast<int>(o.impl()));
}

}  // namespace

LstmOutput lstm_forward(const Variable& x, const Variable& h0, const Variable& c0,
                        const std::vector<LstmParams>& params, const LSTMOptions& opts,
                        bool training, Generator* gen) {
  check_options(opts);
  const int64_t L = opts.num_layers(), D = opts.num_directions(), H = opts.hidden_size();
  LOOM_CHECK(x.defined() && x.dim() == 3, "LSTM: input must be 3-D ([T, B, in], or [B, T, in] ",
             "with batch_first), got ", x.defined() ? shape_str(x.shape()) : "undefined");
  LOOM_CHECK(x.size(2) == opts.input_size(), "LSTM: input has ", x.size(2),
             " features (last dim of ", shape_str(x.shape()), "), input_size is ",
             opts.input_size());
  LOOM_CHECK(static_cast<int64_t>(params.size()) == L * D, "LSTM: expected ", L * D,
             " parameter sets (layers x directions), got ", params.size());
  LOOM_CHECK(h0.defined() == c0.defined(), "LSTM: give both h0 and c0, or neither");

  // Internally time-major: each timestep x[t] is one contiguous [B, in] block.
  const Variable xt = opts.batch_first() ? transpose(x, 0, 1) : x;
  const int64_t B = xt.size(1);
  const Shape state_shape{L * D, B, H};
  if (h0.defined()) {
    check_state(h0, "h0", state_shape, x.dtype());
    check_state(c0, "c0", state_shape, x.dtype());
  }
  const Variable zero(zeros({B, H}, TensorOptions(x.dtype(), x.device())));
  const bool use_dropout = training && opts.dropout() > 0 && L > 1;
  const bool use_recurrent_dropout = training && opts.recurrent_dropout() > 0;
  LOOM_CHECK(!(use_dropout || use_recurrent_dropout) || gen != nullptr,
             "LSTM: dropout in training needs a Generator");

  Variable input = xt;
  std::vector<Variable> h_n, c_n;
  for (int64_t layer = 0; layer < L; ++layer) {
    std::vector<Variable> outs;
    for (int64_t dir = 0; dir < D; ++dir) {
      const int64_t k = layer * D + dir;
      const Variable h = h0.defined() ? select(h0, 0, k) : zero;
      const Variable c = c0.defined() ? select(c0, 0, k) : zero;
      // Recurrent dropout: one mask per sequence, for every step of this layer and direction.
      const Tensor h_mask = use_recurrent_dropout
                                ? dropout_mask({B, H}, opts.recurrent_dropout(), *gen,
                                               TensorOptions(params[k].w_hh.dtype(), x.device()))
                                : Tensor();
      const LstmLayerOutput r = run_layer(opts, input, h, c, params[k], dir == 1, h_mask);
      outs.push_back(r.out);
      h_n.push_back(r.h_n);
      c_n.push_back(r.c_n);
    }
    input = D == 1 ? outs[0] : concat(outs, 2);  // [T, B, D*H], forward half first
    if (use_dropout && layer + 1 < L)
      input = dropout_with_mask_shape(input, opts.dropout(), input.shape(), *gen);
  }
  LstmOutput y;
  y.output = opts.batch_first() ? transpose(input, 0, 1) : input;
  y.h_n = stack(h_n, 0);
  y.c_n = stack(c_n, 0);
  return y;
}

LSTM::LSTM(const LSTMOptions& options, Generator& g) : Module("LSTM"), options_(options) {
  check_options(options_);
  const int64_t H = options_.hidden_size(), D = options_.num_directions();
  const double bound = init::lstm_bound(H);
  const bool keras = options_.init() == InitScheme::Keras;
  // Torch: every tensor U(-1/sqrt(H), 1/sqrt(H)). Keras: glorot_uniform input kernel,
  // orthogonal recurrent kernel per gate, zero biases but the forget gate's (nn/init.h).
  auto param = [&](const std::string& name, const Shape& shape) {
    Variable v(empty(shape));
    if (!keras)
      init::uniform_(v.data(), -bound, bound, g);
    else if (shape.size() == 1)
      init::zeros_(v.data());  // the forget gate's bias is set below, once both exist
    else if (shape[1] == H && name.rfind("weight_hh", 0) == 0)
      init::orthogonal_per_gate_(v.data(), 4, g);
    else
      init::glorot_uniform_(v.data(), g);
    return register_parameter(name, v);
  };
  // PyTorch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh.
  for (int64_t layer = 0; layer < options_.num_layers(); ++layer) {
    const int64_t in = layer == 0 ? options_.input_size() : D * H;
    for (int64_t dir = 0; dir < D; ++dir) {
      const std::string sfx = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      LstmParams p;
      p.w_ih = param("weight_ih" + sfx, {4 * H, in});
      p.w_hh = param("weight_hh" + sfx, {4 * H, H});
      p.b_ih = param("bias_ih" + sfx, {4 * H});
      p.b_hh = param("bias_hh" + sfx, {4 * H});
      if (keras) init::lstm_unit_forget_bias_(p.b_ih.data(), p.b_hh.data());
      params_.push_back(p);
    }
  }
}

LstmOutput LSTM::forward_full(const Variable& x, const Variable& h0, const Variable& c0) {
  return lstm_forward(x, h0, c0, params_, options_, is_training(), dropout_gen_);
}

}  // namespace loom::nn
