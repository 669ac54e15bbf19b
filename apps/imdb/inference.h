// apps/imdb/inference.h: the trained model for serving: review text -> ids -> probability in one
// call, in eval mode, with no autograd graph, nothing kept for backward and a workspace reused
// from call to call (the steady state allocates no tensor), float32 or int8.
//
//   ids [B, T] -> table[ids] ([V, 4H]: Embedding x W_ih^T + b_ih + b_hh folded, exact: eval mode
//   has no dropout between them) -> the LSTM recurrence (tensor/inference.h) -> h_T -> Linear
//   -> sigmoid.
// The fast path covers the study's model (one unidirectional layer, pooling "last") on the CPU;
// any other configuration, or a GPU, runs the training model's forward under NoGradGuard (the
// reference the tests compare the fast path with). int8 checkpoints (quantize.h) need the fast
// path; a Seq2CNN checkpoint runs its own forward, fp32 or with int8 convolutions.
// Leaves out: bidirectional and stacked LSTMs and max-mean pooling on the fast path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apps/imdb/checkpoint_format.h"
#include "tensor/device.h"

namespace loom::imdb {

struct InferenceOptions {
  Device device = kCPU;
  // Fold the embedding into the input projection (a table lookup per token). Off: the plain
  // order, an embedding lookup and then the input GEMM (int8 on the int8 model).
  bool fold = true;
  // Run the training model's forward (ImdbModel under NoGradGuard) instead of the fast path.
  bool reference = false;
  // Seq2CNN: run its two convolutions in int8 (dynamic quantization of the float32 checkpoint
  // at load: Seq2CnnInt8, seq2cnn.h). CPU only; refused for an LSTM checkpoint.
  bool int8_convolutions = false;
  // Threads that clean and encode a batch of texts (<= 0: all cores); a batch of fewer than
  // 64 texts is encoded on the calling thread.
  int text_threads = 1;
};

class InferenceModel {
 public:
  // From a checkpoint of `imdb train` (float32) or `imdb quantize` (int8). Errors name `path`.
  InferenceModel(const Checkpoint& checkpoint, const std::string& path,
                 InferenceOptions options = {});
  ~InferenceModel();
  InferenceModel(const InferenceModel&) = delete;
  InferenceModel& operator=(const InferenceModel&) = delete;

  // P(positive) of each review, from its raw text (cleaned and encoded as training did).
  void predict_texts(const std::vector<std::string_view>& texts, float* probs);
  float predict_text(std::string_view text);
  // The same from encoded rows: ids [rows, max_len] row-major, each in [0, vocab).
  void predict_ids(const int32_t* ids, int64_t rows, float* probs);

  int64_t max_len() const;
  bool int8() const;
  // One line: "fp32, folded table, fast path" and the like.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a checkpoint holds int8 weights (the "quantization" metadata key, quantize.h).
bool is_quantized(const Checkpoint& checkpoint);

}  // namespace loom::imdb
