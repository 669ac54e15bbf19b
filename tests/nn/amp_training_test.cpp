// tests/nn/amp_training_test.cpp: a tiny model trained with autocast + GradScaler converges,
// and stays close to the same model trained in float32 (lab 08).
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
#include <cstdio>

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

namespace loom::nn {
namespace {

constexpr int64_t kVocab = 20, kLen = 6, kBatch = 32;

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

struct Batch {
  Tensor ids, labels;  // [B, T] Int64, [B, 1] Float32
};

Batch make_batch(Generator& gen) {
  const std::vector<double> u = uniform({kBatch, kLen}, 0, kVocab, gen).to_vector<double>();
  std::vector<int64_t> ids(u.size());
  std::vector<float> labels(kBatch);
  for (int64_t b = 0; b < kBatch; ++b) {
    int positive = 0;
    for (int64_t t = 0; t < kLen; ++t) {
      ids[b * kLen + t] = std::min<int64_t>(static_cast<int64_t>(u[b * kLen + t]), kVocab - 1);
      positive += ids[b * kLen + t] < kVocab / 2;
    }
    labels[b] = positive * 2 > kLen ? 1.0f : 0.0f;  // ties (3 of 6) are negative
  }
  return {from_vector<int64_t>(ids, {kBatch, kLen}), from_vector<float>(labels, {kBatch, 1})};
}

struct RunResult {
  double final_loss = 0, accuracy = 0, scale = 0;
  int64_t skipped = 0;
};

RunResult train(bool mixed, double init_scale) {
  Generator init(42), data(7);
  TinySentiment model(init);
  optim::Adam opt(model.named_parameters(), optim::AdamOptions(0.05));
  amp::GradScaler scaler(
      amp::GradScalerOptions().enabled(mixed).init_scale(init_scale).growth_interval(50));
  RunResult r;
  for (int step = 0; step < 150; ++step) {
    const Batch batch = make_batch(data);
    opt.zero_grad();
    Variable loss;
    {
      amp::AutocastGuard autocast(DType::Float16, mixed);
      loss = bce_with_logits(model.forward(batch.ids), batch.labels);
    }
    EXPECT_EQ(loss.dtype(), DType::Float32);  // the loss stays float32 under autocast
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
  }
  // Evaluate on fresh batches, in float32 (no guard), no graph.
  NoGradGuard no_grad;
  Generator test_data(1234);
  double correct = 0, loss_sum = 0;
  for (int i = 0; i < 8; ++i) {
    const Batch batch = make_batch(test_data);
    const Variable logits = model.forward(batch.ids);
    loss_sum += bce_with_logits(logits, batch.labels).item<double>();
    const std::vector<float> l = logits.data().to_vector<float>();
    const std::vector<float> y = batch.labels.to_vector<float>();
    for (int64_t b = 0; b < kBatch; ++b)
      correct += (l[b] > 0) == (y[b] > 0.5f);
  }
  r.final_loss = loss_sum / 8;
  r.accuracy = correct / (8.0 * kBatch);
  r.scale = scaler.scale_value();
  r.skipped = scaler.skipped_steps();
  return r;
}

TEST(AmpTraining, AutocastWithGradScalerConvergesLikeFloat32) {
  const RunResult fp32 = train(false, 1.0);
  const RunResult mixed = train(true, 65536.0);
  const RunResult hot = train(true, std::pow(2.0, 36));
  for (const auto& [name, r] : {std::make_pair("fp32", fp32), std::make_pair("amp", mixed),
                                std::make_pair("amp 2^36", hot)})
    std::printf("%-9s loss %.4f  accuracy %.3f  final scale %g  skipped %lld\n", name, r.final_loss,
                r.accuracy, r.scale, static_cast<long long>(r.skipped));
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
