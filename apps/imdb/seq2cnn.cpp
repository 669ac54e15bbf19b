// apps/imdb/seq2cnn.cpp: the Seq2CNN network (apps/imdb/seq2cnn.h).
#include "apps/imdb/seq2cnn.h"

#include <algorithm>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/conv1d.h"
#include "tensor/ops.h"

namespace loom::imdb {

Seq2Cnn::Seq2Cnn(const Seq2CnnOptions& o) : nn::Module("Seq2Cnn"), options_(o) {
  LOOM_CHECK(o.activation == "elu" || o.activation == "leaky-relu",
             "Seq2Cnn: activation must be elu or leaky-relu, got '", o.activation, "'");
  // A negative alpha would make act decrease somewhere: max and act would no longer commute.
  LOOM_CHECK(o.alpha >= 0, "Seq2Cnn: alpha must be >= 0, got ", o.alpha);
  // Creation order = draw order from the default generator = PyTorch's registration order.
  embedding = register_module(
      "embedding",
      std::make_shared<nn::Embedding>(nn::EmbeddingOptions(o.vocab, o.embed).init(o.init)));
  spatial_dropout =
      register_module("spatial_dropout", std::make_shared<nn::SpatialDropout1d>(o.spatial_dropout));
  // The convolutions draw PyTorch's init under either scheme (nn/conv1d.h).
  conv3 = register_module("conv3",
                          std::make_shared<nn::Conv1d>(nn::Conv1dOptions(o.embed, o.channels, 3)));
  conv4 = register_module("conv4",
                          std::make_shared<nn::Conv1d>(nn::Conv1dOptions(o.embed, o.channels, 4)));
  linear = register_module(
      "linear", std::make_shared<nn::Linear>(nn::LinearOptions(2 * o.channels, 2).init(o.init)));
}

int64_t trimmed_length(const Tensor& tokens) {
  LOOM_CHECK(tokens.dim() == 2 && tokens.size(1) >= 1,
             "Seq2Cnn: tokens must be [batch, seq_len], got ", shape_str(tokens.shape()));
  const int64_t T = tokens.size(1);
  if (tokens.size(0) == 0) return T;
  // position + 1 where the id is not padding, 0 where it is; its max is the longest length.
  const Tensor real = ne(tokens, zeros({}, TensorOptions(tokens.dtype(), tokens.device())));
  const Tensor steps = arange(1, T + 1, 1, TensorOptions(DType::Int64, tokens.device()));
  const int64_t longest = max(mul(real.to(DType::Int64), steps)).item<int64_t>();
  return std::min(T, longest + Seq2Cnn::kWidestKernel);
}

Variable Seq2Cnn::logits(const Tensor& tokens_in, bool trim_padding) {
  LOOM_CHECK(tokens_in.dim() == 2 && tokens_in.size(1) >= kWidestKernel,
             "Seq2Cnn: tokens must be [batch, seq_len >= ", kWidestKernel, "], got ",
             shape_str(tokens_in.shape()));
  // Every window past the longest review + one padding window repeats that padding window's
  // output: the max over time is the same without them (seq2cnn.h).
  const Tensor tokens =
      trim_padding ? tokens_in.narrow(1, 0, trimmed_length(tokens_in)) : tokens_in;
  Variable x = embedding->forward(tokens);  // [B, T', E]
  // One mask per (review, channel) for all steps: the padding windows stay identical.
  x = spatial_dropout->forward(x);
  const auto act = [&](const Variable& y) {
    return options_.activation == "elu" ? elu(y, options_.alpha) : leaky_relu(y, options_.alpha);
  };
  // act is increasing, so the max over time commutes with it: max first, then act on [B, C]
  // instead of [B, T, C] (the same values; the gradient reaches the same argmax).
  const Variable a = act(max(conv3->forward(x), 1));  // [B, C]; the argmax is kept for backward
  const Variable b = act(max(conv4->forward(x), 1));  // [B, C]
  return linear->forward(concat({a, b}, 1));          // [B, 2]
}

namespace {

QuantizedConv1d quantize_conv(const nn::Conv1d& conv) {
  const Tensor w = conv.weight.data();
  LOOM_CHECK(w.device().is_cpu() && w.dtype() == DType::Float32,
             "Seq2CnnInt8: the model must be float32 on the CPU, got ", dtype_name(w.dtype()),
             " on ", w.device().str());
  return quantize_conv1d(w);
}

}  // namespace

Seq2CnnInt8::Seq2CnnInt8(Seq2Cnn& model)
    : model_(model), conv3_(quantize_conv(*model.conv3)), conv4_(quantize_conv(*model.conv4)) {}

Tensor Seq2CnnInt8::logits(const Tensor& tokens_in, bool trim_padding) const {
  LOOM_CHECK(tokens_in.dim() == 2 && tokens_in.size(1) >= Seq2Cnn::kWidestKernel,
             "Seq2CnnInt8: tokens must be [batch, seq_len >= ", Seq2Cnn::kWidestKernel, "], got ",
             shape_str(tokens_in.shape()));
  NoGradGuard no_grad;
  const Tensor tokens =
      trim_padding ? tokens_in.narrow(1, 0, trimmed_length(tokens_in)) : tokens_in;
  const Tensor x = model_.embedding->forward(tokens).data();  // [B, T', E]
  const Seq2CnnOptions& o = model_.options();
  const auto branch = [&](const nn::Conv1d& conv, const QuantizedConv1d& q) {
    const Tensor bias = conv.bias.defined() ? conv.bias.data() : Tensor();
    const Tensor y = conv1d_forward_int8(x, q, bias, conv.options().padding_);
    const Variable top(max(y, 1));  // [B, C]: the max first, as in Seq2Cnn::logits
    return o.activation == "elu" ? elu(top, o.alpha).data() : leaky_relu(top, o.alpha).data();
  };
  const Tensor features = concat({branch(*model_.conv3, conv3_), branch(*model_.conv4, conv4_)}, 1);
  return model_.linear->forward(Variable(features)).data();  // [B, 2]
}

}  // namespace loom::imdb
