// apps/imdb/model.h: the study's network with its loss and optimizer, behind one small class.
//
//   tokens [B, T] -> Embedding(vocab, embed) -> SpatialDropout1d(spatial_dropout)
//                 -> SpatialDropout1d(lstm_dropout)      (Keras' LSTM(dropout=p): all timesteps)
//                 -> LSTM(embed, lstm_size; composed/fused) -> last step [B, H] -> Linear(H, 1)
//   (--ngram-buckets: a bag of words and word pairs, ngrams.h, beside the LSTM, read by the Linear)
//   loss = BCEWithLogits(logits, labels) (mean); predict: sigmoid; Adam(lr), clipping.
// --precision fp16: the forward runs under nn::amp::AutocastGuard (the Linear's and the LSTM's
// GEMMs take float16 copies of the float32 master weights, with float32 accumulation; the cell
// state, the loss and Adam stay float32) and nn::amp::GradScaler scales the loss, unscales the
// gradients, skips steps with inf/NaN and adapts the scale; bf16: bfloat16 GEMMs, no scaler
// (CPU or cuBLAS). Only model.cpp, seq2cnn.* include nn/. Parameters are made on the CPU from the
// default generator (seed it first), moved to `device`, named as PyTorch's state_dict names them
// (embedding.weight, lstm.weight_ih_l0, ...: tests/reference/torch_imdb.py loads them).
// --model seq2cnn: Seq2Cnn (seq2cnn.h, fp32), logits z reported as z1 - z0. --pipeline-stages:
// each process builds the whole network (one process's initial weights), trains its StagePlan.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/imdb/config.h"
#include "autograd/variable.h"
#include "nn/safetensors.h"
#include "tensor/device.h"
#include "tensor/tensor.h"

namespace loom::imdb {

class Seq2Cnn;

// Pipeline parallelism: the part of the LSTM network one stage runs. The network is a chain of
// lstm_layers + 1 blocks: block k < L is LSTM layer k (block 0 with the embedding and its
// dropouts before it), block L is the head (pooling + Linear). Stage s of S runs the blocks
// [first_block, end_block); the blocks are dealt as evenly as can be, the later stages taking the
// extra ones: L = 1, S = 2: embedding + LSTM | head; L = 2, S = 2: embedding + layer 0 |
// layer 1 + head.
struct StagePlan {
  int stage = 0, stages = 1;
  int64_t first_block = 0, end_block = 0;
  int64_t layers = 1;  // L, the LSTM layers of the whole network
  bool first() const { return stage == 0; }
  bool last() const { return stage == stages - 1; }
};
// Throws naming --pipeline-stages when the network has fewer blocks than stages, or is not the
// LSTM network (--model seq2cnn cannot be split).
StagePlan plan_stage(const Config& config, int stage, int stages);

class ImdbModel {
 public:
  ImdbModel(const Config& config, Device device);
  // One pipeline stage's part: named_parameters, step and state_records cover only its blocks.
  ImdbModel(const Config& config, Device device, const StagePlan& plan);
  ~ImdbModel();
  ImdbModel(const ImdbModel&) = delete;
  ImdbModel& operator=(const ImdbModel&) = delete;

  // tokens [B, T] Int32 on the model's device -> logits [B, 1] Float32.
  Variable forward(const Tensor& tokens);
  // Pipeline: this stage's blocks on a micro-batch. tokens [b, T] Int32 (every stage has them:
  // the first embeds them, max-mean pooling reads their padding); input: the previous stage's
  // activation (undefined on the first stage). Returns the activation for the next stage
  // ([b, T, D*H] after an LSTM layer, [b, F] before the head) or, on the last stage, logits
  // [b, 1]. With one stage: forward(tokens).
  Variable forward_stage(const Tensor& tokens, const Variable& input);
  // The shape of the activation this stage receives for a micro-batch of `rows` reviews of
  // `seq_len` tokens.
  Shape stage_input_shape(int64_t rows, int64_t seq_len) const;
  const StagePlan& plan() const;

  // Mean binary cross-entropy of sigmoid(logits) [B, 1] against labels [B, 1] (0 or 1).
  Variable loss(const Variable& logits, const Tensor& labels);

  void set_training(bool on);  // dropout on (train) or off (eval, predict)

  // Backward of `loss` (scaled by the loss scaler under fp16).
  void backward(const Variable& loss);
  // One optimizer step from those gradients: (unscale,) clip if configured, Adam (skipped under
  // fp16 when a gradient is inf/NaN), update the scale, zero the gradients. Whether the step was
  // skipped is decided on the device (fused Adam reads the scaler's flag there), so it is not
  // returned: skipped_steps() counts skips, reading the scaler's device counter.
  void step();
  // set_to_none drops the gradients instead of zeroing them, so the next backward creates them
  // afresh (what a captured CUDA Graph needs: graphed_step.h).
  void zero_grad(bool set_to_none = false);

  Device device() const;
  bool fp16() const;              // fp16 with its GradScaler (bf16 has none)
  double loss_scale() const;      // the GradScaler's scale (1 for fp32)
  int64_t skipped_steps() const;  // optimizer steps skipped for inf/NaN gradients so far
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  // --model seq2cnn: the network, for callers that time its plain and its trimmed forward
  // (Seq2Cnn::logits); nullptr for the LSTM.
  Seq2Cnn* seq2cnn();

  // Parameters and optimizer state as safetensors records (this stage's only, when pipelined:
  // the stages' records together are one process's): parameters under their own names,
  // Adam's state under "optim.<param>.<buffer>" (nn/serialize.h's naming), the loss scaler's
  // under "scaler.<key>" (fp16 only). load_state checks names, dtypes and shapes and
  // throws loom::Error naming the tensor (a checkpoint of another configuration, a corrupt file).
  std::vector<nn::TensorRecord> state_records() const;
  void load_state(const nn::SafetensorsContents& file, const std::string& source,
                  bool with_optimizer);

  // True when this build can train with `config` (e.g. fused LSTM, fp16 available); otherwise
  // false and `reason` says why.
  static bool supports(const Config& config, std::string* reason);
  // The precision `config` trains in, in words for a report: the dtype of the GEMMs, whether the
  // loss is scaled, and for bf16 which CPU GEMM kernel runs on this machine.
  static std::string describe_precision(const Config& config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom::imdb
