// apps/imdb/seq2cnn.h: the Seq2CNN network of the MLPerf inference proposal for IMDB sentiment.
//
//   tokens [B, T] (post-padded with id 0) -> Embedding(vocab, E) -> SpatialDropout1d (training)
//     -> Conv1d(E, C, kernel 3) -> act -> max over time -> [B, C]   (in parallel:)
//     -> Conv1d(E, C, kernel 4) -> act -> max over time -> [B, C]   -> concat [B, 2C]
//     -> Linear(2C, 2) -> logits [B, 2] (negative, positive)
// act is ELU(alpha) or leaky ReLU(slope); both increase, so the code takes the max over time
// first and applies act to [B, C] (the same result, T times fewer activations). Full size (vocab
// 5200, E = C = 1024): 12,670,978 parameters, named as PyTorch's state_dict names them
// (embedding.weight, conv3.bias, ...). Padding is not masked: padding windows take part in the max,
// as in the reference. The padding-window trick: a window wholly inside a review's trailing padding
// has the same output at every such position, so the max needs it once; logits() drops the columns
// after the batch's longest review plus one padding window (trimmed_length). Exact, forward and
// backward (docs/labs/12-convolutions.md). Seq2CnnInt8: int8 inference (the convolutions).
// Leaves out: masking the padding, attention, bf16/fp16 (float32, or int8 for inference).
#pragma once

#include <memory>
#include <string>

#include "autograd/variable.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/conv1d.h"

namespace loom::imdb {

struct Seq2CnnOptions {
  int64_t vocab = 5200, embed = 1024, channels = 1024;
  std::string activation = "elu";  // elu | leaky-relu
  double alpha = 0.25;             // ELU's alpha or leaky ReLU's negative slope
  double spatial_dropout = 0;      // drops whole embedding channels per review (training)
  nn::InitScheme init = nn::InitScheme::Torch;
};

class Seq2Cnn : public nn::Module {
 public:
  static constexpr int64_t kWidestKernel = 4;

  explicit Seq2Cnn(const Seq2CnnOptions& options);
  // tokens [B, T] Int32/Int64 on the module's device, padding id 0 at the end -> logits [B, 2].
  // trim_padding = false computes every window: the plain forward the trick is tested against.
  Variable logits(const Tensor& tokens, bool trim_padding = true);
  Variable forward(const Variable& tokens) override { return logits(tokens.data()); }
  const Seq2CnnOptions& options() const { return options_; }

  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::SpatialDropout1d> spatial_dropout;
  std::shared_ptr<nn::Conv1d> conv3, conv4;
  std::shared_ptr<nn::Linear> linear;

 private:
  Seq2CnnOptions options_;
};

// Int8 inference (batch 1 or batched, on the CPU): the two convolutions, which hold 99.9% of the
// multiply-adds, run as conv1d_forward_int8 (weights int8 per tap and output channel, quantized
// here once; each time step quantized at run time, as quantize_dynamic does for Linear's rows). The
// embedding lookup, the activation, the max over time and the Linear stay float32. Keeps a
// reference to `model`, which must outlive it; records no graph. The padding-window trick applies
// unchanged.
class Seq2CnnInt8 {
 public:
  explicit Seq2CnnInt8(Seq2Cnn& model);
  Tensor logits(const Tensor& tokens, bool trim_padding = true) const;

 private:
  Seq2Cnn& model_;
  QuantizedConv1d conv3_, conv4_;
};

// How many leading columns of a post-padded batch the max over time needs: the longest review's
// length L (its last non-zero id + 1) plus one window of padding, min(T, L + kWidestKernel).
// Reads the lengths back to the host (a sync on a GPU).
int64_t trimmed_length(const Tensor& tokens);

}  // namespace loom::imdb
