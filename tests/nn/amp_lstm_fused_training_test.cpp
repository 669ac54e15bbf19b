// tests/nn/amp_lstm_fused_training_test.cpp: a tiny IMDB-like model with the fused LSTM trains
// under autocast + GradScaler as it does in float32 (lab 08).
//
// The IMDB model in miniature: Embedding -> LSTM (fused, batch_first) -> h_n -> Linear ->
// BCEWithLogits, Adam. Under autocast the LSTM's five GEMMs per layer (input projection,
// recurrence, dh, dx, dW) and the Linear run with float16 operands (nn/lstm_fused_amp.cpp);
// the embedding, the cell state, the loss and Adam stay float32. The task: a "review" of 9
// token ids is positive when most of its tokens come from the first half of the vocabulary, so
// the LSTM has to count along the sequence. One run starts from a loss scale far too large
// (2^36): its first steps overflow inside the fused LSTM's float16 backward (dA rounded to
// float16 becomes inf), are detected by the scaler and skipped until the scale has backed off.
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
#include "nn/lstm.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"

namespace loom::nn {
namespace {

constexpr int64_t kVocab = 20, kLen = 9, kBatch = 32, kEmbed = 8, kHidden = 16;

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
    labels[b] = positive * 2 > kLen ? 1.0f : 0.0f;  // kLen is odd: no ties
  }
  return {from_vector<int64_t>(ids, {kBatch, kLen}), from_vector<float>(labels, {kBatch, 1})};
}

struct RunResult {
  double final_loss = 0, accuracy = 0, scale = 0;
  int64_t skipped = 0;
};

RunResult train(bool mixed, double init_scale) {
  Generator init(42), data(7);
  TinyImdb model(init);
  optim::Adam opt(model.named_parameters(), optim::AdamOptions(0.02));
  amp::GradScaler scaler(
      amp::GradScalerOptions().enabled(mixed).init_scale(init_scale).growth_interval(50));
  for (int step = 0; step < 200; ++step) {
    const Batch batch = make_batch(data);
    opt.zero_grad();
    Variable loss;
    {
      amp::AutocastGuard autocast(DType::Float16, mixed);
      loss = bce_with_logits(model.forward(batch.ids), batch.labels);
    }
    EXPECT_EQ(loss.dtype(), DType::Float32);
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
  }
  // Evaluate on fresh batches in the precision it trained in, no graph.
  NoGradGuard no_grad;
  amp::AutocastGuard autocast(DType::Float16, mixed);
  Generator test_data(1234);
  RunResult r;
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

TEST(AmpLstmFusedTraining, Float16FusedLstmWithGradScalerConvergesLikeFloat32) {
  // One thread: at these sizes each GEMM Eigen splits in two costs a thread handoff, and on a
  // loaded 2-core CI machine 600 steps of those took 10-30 s instead of 0.4 s. The split code
  // paths are tested in amp_lstm_fused_test.cpp (SplitAcrossThreadsMatchesTheSameBounds).
  const int saved_threads = get_num_threads();
  set_num_threads(1);
  const RunResult fp32 = train(false, 1.0);
  const RunResult mixed = train(true, 65536.0);
  const RunResult hot = train(true, std::pow(2.0, 36));
  for (const auto& [name, r] : {std::make_pair("fp32", fp32), std::make_pair("amp", mixed),
                                std::make_pair("amp 2^36", hot)})
    std::printf("%-9s loss %.4f  accuracy %.3f  final scale %g  skipped %lld\n", name, r.final_loss,
                r.accuracy, r.scale, static_cast<long long>(r.skipped));
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
