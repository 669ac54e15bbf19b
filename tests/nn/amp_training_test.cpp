// tests/nn/amp_training_test.cpp: a tiny model trained with autocast + GradScaler converges,
// and stays close to the same model trained in float32 (lab 07).
//
// The model is the IMDB model without its LSTM: Embedding -> mean over tokens -> Linear ->
// tanh -> Linear -> BCEWithLogits, trained with Adam. Under autocast both Linear GEMMs (forward
// and backward) run in float16; the embedding lookup, the mean, tanh, the loss and Adam stay
// float32. The task: a "review" of 6 token ids is positive when most of its tokens come from
// the first half of the vocabulary. One run starts from a loss scale far too large for
// float16 (2^36), so its first steps overflow and are skipped until the scale has backed off:
// the scaler's whole cycle inside a real training loop.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "tensor/ops.h"
#include "tests/nn/amp_training_util.h"

namespace loom::nn {
namespace {

constexpr int64_t kVocab = 20, kLen = 6;

struct TinySentiment : Module {
  std::shared_ptr<Embedding> emb;
  std::shared_ptr<Linear> hidden, out;
  explicit TinySentiment(Generator& gen) : Module("TinySentiment") {
    emb = register_module("emb", std::make_shared<Embedding>(EmbeddingOptions(kVocab, 8), gen));
    hidden = register_module("hidden", std::make_shared<Linear>(LinearOptions(8, 8), gen));
    out = register_module("out", std::make_shared<Linear>(LinearOptions(8, 1), gen));
  }
  // ids [B, T] -> logits [B, 1]
  Variable forward(const Tensor& ids) {
    const Variable pooled = mean(emb->forward(ids), 1);  // [B, 8], float32
    return out->forward(tanh(hidden->forward(pooled)));
  }
};

using testing_amp::AmpRunResult;

AmpRunResult train(bool mixed, double init_scale) {
  Generator init(42);
  TinySentiment model(init);
  testing_amp::AmpTrainSpec spec;  // batch 32 of 6 tokens from 20, 150 steps, lr 0.05
  spec.len = kLen;
  // Scored in float32 (no guard): what the weights learned, not how float16 evaluates them.
  return testing_amp::train_with_scaler(model, mixed, init_scale, spec);
}

TEST(AmpTraining, AutocastWithGradScalerConvergesLikeFloat32) {
  const AmpRunResult fp32 = train(false, 1.0);
  const AmpRunResult mixed = train(true, 65536.0);
  const AmpRunResult hot = train(true, std::pow(2.0, 36));
  // The task is learnable: the float32 run gets nearly all of it.
  EXPECT_GT(fp32.accuracy, 0.95);
  EXPECT_LT(fp32.final_loss, 0.15);
  // Mixed precision reaches the same place: accuracy within 2 points (8 x 32 test reviews:
  // 2 points is ~5 reviews), loss within 0.05 of float32's.
  EXPECT_EQ(mixed.skipped, 0);
  EXPECT_GT(mixed.accuracy, fp32.accuracy - 0.02);
  EXPECT_LT(mixed.final_loss, fp32.final_loss + 0.05);
  // Starting at 2^36: the float16 backward GEMMs overflow, steps are skipped while the scale
  // halves to something float16 can hold, then training proceeds and converges.
  EXPECT_GT(hot.skipped, 5);
  EXPECT_LT(hot.scale, std::pow(2.0, 30));
  EXPECT_GT(hot.accuracy, fp32.accuracy - 0.03);
  EXPECT_LT(hot.final_loss, fp32.final_loss + 0.08);
}

}  // namespace
}  // namespace loom::nn
