// tests/nn/amp_training_util.h: the toy task and the training loop the lab 07 training tests
// share (amp_training_test.cpp: no LSTM; amp_lstm_fused_training_test.cpp: the fused LSTM).
//
// The task: a "review" of `len` token ids from [0, vocab) is positive when more than half of its
// tokens come from the first half of the vocabulary. train_with_scaler trains a model on fresh
// batches with Adam under autocast (when `mixed`) and a GradScaler starting at `init_scale`,
// then scores 8 fresh batches without a graph.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "tensor/ops.h"

namespace loom::nn::testing_amp {

struct TokenBatch {
  Tensor ids, labels;  // [batch, len] Int64, [batch, 1] Float32
};

// Labels: positive when 2 * (tokens < vocab / 2) > len (with an even len, ties are negative).
inline TokenBatch make_majority_batch(Generator& gen, int64_t batch, int64_t len, int64_t vocab) {
  const std::vector<double> u = uniform({batch, len}, 0, vocab, gen).to_vector<double>();
  std::vector<int64_t> ids(u.size());
  std::vector<float> labels(batch);
  for (int64_t b = 0; b < batch; ++b) {
    int positive = 0;
    for (int64_t t = 0; t < len; ++t) {
      ids[b * len + t] = std::min<int64_t>(static_cast<int64_t>(u[b * len + t]), vocab - 1);
      positive += ids[b * len + t] < vocab / 2;
    }
    labels[b] = positive * 2 > len ? 1.0f : 0.0f;
  }
  return {from_vector<int64_t>(ids, {batch, len}), from_vector<float>(labels, {batch, 1})};
}

struct AmpRunResult {
  double final_loss = 0, accuracy = 0, scale = 0;
  int64_t skipped = 0;
};

struct AmpTrainSpec {
  int64_t batch = 32, len = 6, vocab = 20;
  int steps = 150;
  double lr = 0.05;
  bool evaluate_under_autocast = false;  // score in the precision it trained in, or in float32
};

// `model.forward(ids [B, T])` -> logits [B, 1]. Data from Generator(7), test data from
// Generator(1234), so every run of a test sees the same batches.
template <class Model>
AmpRunResult train_with_scaler(Model& model, bool mixed, double init_scale,
                               const AmpTrainSpec& spec) {
  Generator data(7);
  optim::Adam opt(model.named_parameters(), optim::AdamOptions(spec.lr));
  amp::GradScaler scaler(
      amp::GradScalerOptions().enabled(mixed).init_scale(init_scale).growth_interval(50));
  for (int step = 0; step < spec.steps; ++step) {
    const TokenBatch batch = make_majority_batch(data, spec.batch, spec.len, spec.vocab);
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
  NoGradGuard no_grad;
  amp::AutocastGuard autocast(DType::Float16, mixed && spec.evaluate_under_autocast);
  Generator test_data(1234);
  double correct = 0, loss_sum = 0;
  for (int i = 0; i < 8; ++i) {
    const TokenBatch batch = make_majority_batch(test_data, spec.batch, spec.len, spec.vocab);
    const Variable logits = model.forward(batch.ids);
    loss_sum += bce_with_logits(logits, batch.labels).item<double>();
    const std::vector<float> l = logits.data().to_vector<float>();
    const std::vector<float> y = batch.labels.to_vector<float>();
    for (int64_t b = 0; b < spec.batch; ++b)
      correct += (l[b] > 0) == (y[b] > 0.5f);
  }
  AmpRunResult r;
  r.final_loss = loss_sum / 8;
  r.accuracy = correct / (8.0 * static_cast<double>(spec.batch));
  r.scale = scaler.scale_value();
  r.skipped = scaler.skipped_steps();
  std::printf("%-6s init scale %-8g loss %.4f  accuracy %.3f  final scale %g  skipped %lld\n",
              mixed ? "amp" : "fp32", init_scale, r.final_loss, r.accuracy, r.scale,
              static_cast<long long>(r.skipped));
  return r;
}

}  // namespace loom::nn::testing_amp
