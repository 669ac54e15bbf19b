// tests/nn/train_toy_test.cpp: end to end: Embedding -> mean over time -> Linear ->
// BCEWithLogits -> Adam learns a separable toy task (a review is positive iff it holds more
// "good" tokens than "bad" ones), with padding and Dropout in the model.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"

using namespace loom;
using namespace loom::nn;

namespace {

// ids [B, T] -> logits [B, 1]
struct BagOfEmbeddings : Module {
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear;
  explicit BagOfEmbeddings(Generator& gen) : Module("BagOfEmbeddings") {
    embedding = register_module(
        "embedding", std::make_shared<Embedding>(EmbeddingOptions(10, 8).padding_idx(0), gen));
    dropout = register_module("dropout", std::make_shared<Dropout>(DropoutOptions(0.1), gen));
    linear = register_module("linear", std::make_shared<Linear>(LinearOptions(8, 1), gen));
  }
  Variable forward(const Tensor& ids) {
    return linear->forward(dropout->forward(mean(embedding->forward(ids), 1)));
  }
};

// Tokens 1-3 are "good", 4-6 "bad", 7-9 neutral, 0 is padding (leading, Keras style).
void make_batch(Generator& gen, int64_t B, int64_t T, Tensor& ids, Tensor& labels) {
  std::vector<int64_t> tok(B * T);
  std::vector<float> lab(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t pad = static_cast<int64_t>(gen.uniform() * 3);
    int64_t score = 0;
    for (int64_t t = 0; t < T; ++t) {
      int64_t id = 0;
      if (t >= pad) {
        id = 1 + static_cast<int64_t>(gen.uniform() * 9);
        score += (id >= 1 && id <= 3) - (id >= 4 && id <= 6);
      }
      tok[b * T + t] = id;
    }
    if (score == 0) tok[b * T + T - 1] = 1, score = 1;  // no ties
    lab[b] = score > 0 ? 1.0f : 0.0f;
  }
  ids = from_vector<int64_t>(tok, {B, T});
  labels = from_vector<float>(lab, {B, 1});
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  const auto l = logits.to_vector<float>(), y = labels.to_vector<float>();
  int correct = 0;
  for (size_t i = 0; i < l.size(); ++i)
    correct += (l[i] > 0) == (y[i] > 0.5f);
  return static_cast<double>(correct) / static_cast<double>(l.size());
}

}  // namespace

TEST(TrainToy, EmbeddingMeanLinearAdamLearnsSeparableTask) {
  Generator gen(60);
  BagOfEmbeddings model(gen);
  optim::Adam opt(model.named_parameters(), optim::AdamOptions(0.05));
  Tensor test_ids, test_labels;
  make_batch(gen, 200, 12, test_ids, test_labels);

  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 150; ++step) {
    Tensor ids, labels;
    make_batch(gen, 32, 12, ids, labels);
    opt.zero_grad();
    const Variable loss = bce_with_logits(model.forward(ids), labels);
    loss.backward();
    clip_grad_norm_(model.parameters(), 5.0);
    opt.step();
    if (step == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
  }
  model.eval();
  NoGradGuard no_grad;
  const double acc = accuracy(model.forward(test_ids).data(), test_labels);
  EXPECT_LT(last_loss, 0.5 * first_loss);
  EXPECT_GT(acc, 0.9) << "held-out accuracy after 150 Adam steps";
  // The padding row never moved.
  EXPECT_EQ(max(abs(model.embedding->weight.data().select(0, 0))).item<double>(), 0);
}
