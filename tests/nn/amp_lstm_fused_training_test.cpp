// tests/nn/amp_lstm_fused_training_test.cpp: a tiny IMDB-like model with the fused LSTM trains
// under autocast + GradScaler as it does in float32 (lab 07).
//
// The IMDB model in miniature: Embedding -> LSTM (fused, batch_first) -> h_n -> Linear ->
// BCEWithLogits, Adam. Under autocast the LSTM's five GEMMs per layer (input projection,
// recurrence, dh, dx, dW) and the Linear run with float16 operands (nn/lstm_fused.cpp);
// the embedding, the cell state, the loss and Adam stay float32. The task: a "review" of 9
// token ids is positive when most of its tokens come from the first half of the vocabulary, so
// the LSTM has to count along the sequence. One run starts from a loss scale far too large
// (2^36): its first steps overflow inside the fused LSTM's float16 backward (dA rounded to
// float16 becomes inf), are detected by the scaler and skipped until the scale has backed off.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"
#include "tests/nn/amp_training_util.h"

namespace loom::nn {
namespace {

constexpr int64_t kVocab = 20, kLen = 9, kEmbed = 8, kHidden = 16;

struct TinyImdb : Module {
  std::shared_ptr<Embedding> emb;
  std::shared_ptr<LSTM> lstm;
  std::shared_ptr<Linear> out;
  explicit TinyImdb(Generator& gen) : Module("TinyImdb") {
    emb =
        register_module("emb", std::make_shared<Embedding>(EmbeddingOptions(kVocab, kEmbed), gen));
    lstm = register_module(
        "lstm", std::make_shared<LSTM>(
                    LSTMOptions(kEmbed, kHidden).batch_first(true).impl(LstmImpl::Fused), gen));
    out = register_module("out", std::make_shared<Linear>(LinearOptions(kHidden, 1), gen));
  }
  // ids [B, T] -> logits [B, 1] from the last hidden state.
  Variable forward(const Tensor& ids) {
    const LstmOutput y = lstm->forward_full(emb->forward(ids));  // [B, T, H]
    return out->forward(select(y.h_n, 0, 0));
  }
};

using testing_amp::AmpRunResult;

AmpRunResult train(bool mixed, double init_scale) {
  Generator init(42);
  TinyImdb model(init);
  testing_amp::AmpTrainSpec spec;
  spec.len = kLen;  // odd: no ties
  spec.vocab = kVocab;
  spec.steps = 200;
  spec.lr = 0.02;
  spec.evaluate_under_autocast = true;  // scored in the precision it trained in
  return testing_amp::train_with_scaler(model, mixed, init_scale, spec);
}

TEST(AmpLstmFusedTraining, Float16FusedLstmWithGradScalerConvergesLikeFloat32) {
  // One thread: at these sizes each GEMM Eigen splits in two costs a thread handoff, and on a
  // loaded 2-core CI machine 600 steps of those took 10-30 s instead of 0.4 s. The split code
  // paths are tested in amp_lstm_fused_test.cpp (SplitAcrossThreadsMatchesTheSameBounds).
  const int saved_threads = get_num_threads();
  set_num_threads(1);
  const AmpRunResult fp32 = train(false, 1.0);
  const AmpRunResult mixed = train(true, 65536.0);
  const AmpRunResult hot = train(true, std::pow(2.0, 36));
  // The task is learnable by this model in float32.
  EXPECT_GT(fp32.accuracy, 0.95);
  EXPECT_LT(fp32.final_loss, 0.1);
  // Mixed precision gets there too: the same thresholds, and no step lost at the default scale.
  EXPECT_EQ(mixed.skipped, 0);
  EXPECT_GT(mixed.accuracy, 0.95);
  EXPECT_LT(mixed.final_loss, 0.1);
  // From 2^36 the fused LSTM's float16 backward overflows; the scaler skips those steps and
  // backs off, then training converges as well.
  EXPECT_GT(hot.skipped, 5);
  EXPECT_LT(hot.scale, std::pow(2.0, 30));
  EXPECT_GT(hot.accuracy, 0.95);
  EXPECT_LT(hot.final_loss, 0.1);
  set_num_threads(saved_threads);
}

}  // namespace
}  // namespace loom::nn
