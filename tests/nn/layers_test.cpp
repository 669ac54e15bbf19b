// tests/nn/layers_test.cpp: Linear, Embedding, Dropout, SpatialDropout1d and the activation
// modules: gradchecks in float64, goldens from PyTorch (tests/reference/golden/), init ranges.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/activation.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn_test_util.h"

using namespace loom;
using namespace loom::nn;
using loom::nn::testing::all_close;
using loom::nn::testing::Golden;

// ---- Linear ------------------------------------------------------------------------------

TEST(Linear, InitMatchesPyTorchBound) {
  Generator gen(10);
  Linear fc(LinearOptions(25, 40), gen);
  const double bound = 1.0 / std::sqrt(25.0);
  EXPECT_EQ(fc.weight.shape(), (Shape{40, 25}));
  EXPECT_EQ(fc.bias.shape(), (Shape{40}));
  EXPECT_LE(max(abs(fc.weight.data())).item<double>(), bound);
  EXPECT_GT(max(abs(fc.weight.data())).item<double>(), 0.9 * bound);  // fills the range
  EXPECT_LE(max(abs(fc.bias.data())).item<double>(), bound);
  EXPECT_NEAR(init::kaiming_uniform_bound(25, std::sqrt(5.0)), bound, 1e-15);
  // The same seed gives the same weights.
  Generator again(10);
  Linear fc2(LinearOptions(25, 40), again);
  EXPECT_TRUE(all_close(fc.weight.data(), fc2.weight.data(), 0, 0));
}

TEST(Linear, Gradcheck) {
  Generator gen(11);
  Linear fc(LinearOptions(3, 2).dtype(DType::Float64), gen);
  const auto f = [&](const std::vector<Variable>& in) {
    fc.weight = in[1];
    fc.bias = in[2];
    return fc.forward(in[0]);
  };
  EXPECT_GRADCHECK(
      f, {randn({2, 4, 3}, gen, DType::Float64), fc.weight.data().clone(), fc.bias.data().clone()});
  EXPECT_GRADCHECK(
      f, {randn({3}, gen, DType::Float64), fc.weight.data().clone(), fc.bias.data().clone()});
}

TEST(Linear, RejectsWrongInputWidth) {
  Linear fc(LinearOptions(3, 2));
  EXPECT_THROW(fc.forward(Variable(zeros({2, 4}))), Error);
}

// The golden model's head: logits = Linear(out.lstm[:, -1, :]); loss = BCEWithLogits(logits, y).
// Checks the forward value and the Linear's gradients against PyTorch.
TEST(Linear, MatchesPyTorchGolden) {
  for (const char* file : {"lstm_basic", "lstm_bidir"}) {
    SCOPED_TRACE(file);
    const Golden g(file);
    const Tensor w = g["linear.weight"];
    Linear fc(LinearOptions(w.size(1), w.size(0)));
    fc.load_state_dict({{"weight", w}, {"bias", g["linear.bias"]}});
    const Tensor seq = g["out.lstm"];  // [B, T, D*H], batch_first
    const Variable feature(seq.select(1, seq.size(1) - 1).contiguous());
    const Variable logits = fc.forward(feature);
    EXPECT_TRUE(all_close(logits.data(), g["out.logits"]));
    const Variable loss = bce_with_logits(logits, g["input.labels"]);
    EXPECT_TRUE(all_close(loss.data(), g["out.loss"]));
    loss.backward();
    EXPECT_TRUE(all_close(fc.weight.grad(), g["grad.linear.weight"]));
    EXPECT_TRUE(all_close(fc.bias.grad(), g["grad.linear.bias"]));
  }
}

// ---- Embedding ---------------------------------------------------------------------------

TEST(Embedding, InitIsStandardNormalWithZeroPaddingRow) {
  Generator gen(12);
  Embedding emb(EmbeddingOptions(200, 50).padding_idx(-1), gen);  // -1: the last row
  ASSERT_EQ(emb.padding_idx(), std::optional<int64_t>(199));
  const Tensor w = emb.weight.data();
  EXPECT_EQ(max(abs(w.select(0, 199))).item<double>(), 0);
  const Tensor rows = w.narrow(0, 0, 199);
  EXPECT_NEAR(mean(rows).item<double>(), 0, 0.05);
  EXPECT_NEAR(mean(rows * rows).item<double>(), 1, 0.05);
  EXPECT_THROW(Embedding(EmbeddingOptions(5, 2).padding_idx(5)), Error);
}

TEST(Embedding, LooksUpRowsAnyIdShape) {
  Generator gen(13);
  Embedding emb(EmbeddingOptions(6, 3), gen);
  const Tensor ids = from_vector<int32_t>({5, 0, 2, 2, 1, 4}, {2, 3});
  const Variable y = emb.forward(ids);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3}));
  EXPECT_TRUE(all_close(y.data().select(0, 1).select(0, 2), emb.weight.data().select(0, 4), 0, 0));
  EXPECT_THROW(emb.forward(from_vector<int64_t>({6}, {1})), Error);  // id out of range
  EXPECT_THROW(emb.forward(zeros({2})), Error);                      // float ids
}

TEST(Embedding, GradcheckAndPaddingRowGetsNoGradient) {
  Generator gen(14);
  const Tensor ids = from_vector<int64_t>({0, 3, 3, 1, 0, 2}, {3, 2});  // repeats and padding
  const auto f = [&](const std::vector<Variable>& in) { return embedding(in[0], ids, 0); };
  // Row 0's analytic gradient is zero by design, so gradcheck only the no-padding lookup ...
  EXPECT_GRADCHECK([&](const std::vector<Variable>& in) { return embedding(in[0], ids); },
                   {randn({4, 3}, gen, DType::Float64)});
  // ... and check the padded version's gradient directly: row 0 zero, the others as without.
  const Variable w(randn({4, 3}, gen, DType::Float64), true);
  const Tensor u = randn({3, 2, 3}, gen, DType::Float64);
  f({w}).backward(u);
  const Tensor padded = w.grad().clone();
  w.set_grad(Tensor());
  embedding(w, ids).backward(u);
  EXPECT_EQ(max(abs(padded.select(0, 0))).item<double>(), 0);
  EXPECT_GT(max(abs(w.grad().select(0, 0))).item<double>(), 0);
  EXPECT_TRUE(all_close(padded.narrow(0, 1, 3), w.grad().narrow(0, 1, 3), 0, 0));
  // Row 3 was picked twice: its gradient is the sum of both upstream rows.
  EXPECT_TRUE(all_close(padded.select(0, 3),
                        u.select(0, 0).select(0, 1) + u.select(0, 1).select(0, 0), 1e-15, 0));
}

// Against PyTorch: the padding fixture's embedding output, and a padding row that stays zero
// through an optimizer step because it gets no gradient.
TEST(Embedding, MatchesPyTorchGoldenWithPadding) {
  const Golden g("lstm_padding");
  const Tensor w = g["embedding.weight"];
  Embedding emb(EmbeddingOptions(w.size(0), w.size(1)).padding_idx(0));
  emb.load_state_dict({{"weight", w}});
  const Variable y = emb.forward(g["input.tokens"]);
  EXPECT_TRUE(all_close(y.data(), g["out.embedding"]));
  EXPECT_EQ(max(abs(w.select(0, 0))).item<double>(), 0);  // PyTorch's padding row is zero too
  // PyTorch's embedding gradient has a zero padding row as well.
  EXPECT_EQ(max(abs(g["grad.embedding.weight"].select(0, 0))).item<double>(), 0);
  sum(y).backward();
  EXPECT_EQ(max(abs(emb.weight.grad().select(0, 0))).item<double>(), 0);
}

// ---- Dropout -----------------------------------------------------------------------------

TEST(Dropout, TrainingDropsAndScalesEvalIsIdentity) {
  Generator gen(15);
  Dropout drop(DropoutOptions(0.25), gen);
  const Variable x(ones({100, 100}));
  const Tensor y = drop.forward(x).data();
  const auto v = y.to_vector<float>();
  int64_t zeros_seen = 0;
  for (float e : v) {
    ASSERT_TRUE(e == 0.0f || std::abs(e - 1.0f / 0.75f) < 1e-6f) << e;
    zeros_seen += e == 0.0f;
  }
  EXPECT_NEAR(zeros_seen / 1e4, 0.25, 0.03);
  drop.eval();
  EXPECT_EQ(drop.forward(x).data().raw_data(), x.data().raw_data());  // same tensor, no copy
  Dropout all(DropoutOptions(1.0), gen);
  EXPECT_EQ(max(abs(all.forward(x).data())).item<double>(), 0);
  EXPECT_THROW(Dropout(DropoutOptions(1.5)), Error);
}

TEST(Dropout, SameSeedSameMaskAndGradcheck) {
  Generator a(16), b(16);
  Dropout da(DropoutOptions(0.5), a), db(DropoutOptions(0.5), b);
  const Variable x(ones({4, 8}));
  EXPECT_TRUE(all_close(da.forward(x).data(), db.forward(x).data(), 0, 0));
  // With the generator re-seeded before every call the mask is fixed, so gradcheck applies.
  Generator gen(17);
  Dropout d(DropoutOptions(0.3), gen);
  const auto f = [&](const std::vector<Variable>& in) {
    gen.manual_seed(17);
    return d.forward(in[0]);
  };
  EXPECT_GRADCHECK(f, {randn({3, 5}, gen, DType::Float64)});
}

TEST(SpatialDropout1d, DropsWholeChannelsPerSample) {
  Generator gen(18);
  SpatialDropout1d sd(DropoutOptions(0.5), gen);
  const Variable x(ones({4, 6, 10}));  // [batch, seq, channels]
  const Tensor y = sd.forward(x).data();
  int64_t dropped = 0;
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t c = 0; c < 10; ++c) {
      const Tensor col = y.select(0, b).select(1, c);  // [seq]
      const double first = col.to_vector<double>()[0];
      EXPECT_TRUE(first == 0.0 || first == 2.0) << first;
      EXPECT_EQ(max(abs(col - first)).item<double>(), 0) << "channel " << c << " of sample " << b;
      dropped += first == 0.0;
    }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 40);
  EXPECT_THROW(sd.forward(Variable(ones({4, 10}))), Error);
  sd.eval();
  EXPECT_TRUE(all_close(sd.forward(x).data(), x.data(), 0, 0));
  // Gradcheck with a fixed mask.
  sd.train();
  const auto f = [&](const std::vector<Variable>& in) {
    gen.manual_seed(19);
    return sd.forward(in[0]);
  };
  EXPECT_GRADCHECK(f, {randn({2, 3, 4}, gen, DType::Float64)});
}

// draw_mask is the mask forward multiplies by (the same draw); undefined where forward is the
// identity. The IMDB model multiplies two of them into one mask (apps/imdb/model.cpp).
TEST(SpatialDropout1d, DrawMaskIsTheMaskForwardUses) {
  Generator gen(20);
  SpatialDropout1d sd(DropoutOptions(0.3), gen);
  const Variable x(randn({3, 5, 8}, gen));
  gen.manual_seed(21);
  const Tensor y = sd.forward(x).data();
  gen.manual_seed(21);
  const Tensor mask = sd.draw_mask(x);
  ASSERT_EQ(mask.shape(), (Shape{3, 1, 8}));
  EXPECT_TRUE(all_close(y, mul(x.data(), mask), 0, 0));
  EXPECT_TRUE(all_close(dropout_with_mask(x, mask).data(), y, 0, 0));
  sd.eval();
  EXPECT_FALSE(sd.draw_mask(x).defined());
  EXPECT_THROW(sd.draw_mask(Variable(ones({4, 10}))), Error);
  // dropout_with_mask's gradient: g * mask.
  sd.train();
  const Tensor keep = sd.draw_mask(x).to(DType::Float64);
  const auto f = [&](const std::vector<Variable>& in) { return dropout_with_mask(in[0], keep); };
  EXPECT_GRADCHECK(f, {randn({3, 5, 8}, gen, DType::Float64)});
}

// ---- activations -------------------------------------------------------------------------

TEST(Activations, ModulesForwardAndGradcheck) {
  Generator gen(20);
  std::vector<std::shared_ptr<Module>> mods{
      std::make_shared<ReLU>(), std::make_shared<Tanh>(), std::make_shared<Sigmoid>(),
      std::make_shared<LeakyReLU>(LeakyReLUOptions().negative_slope(0.2))};
  // Keep inputs away from ReLU's kink at 0, where central differences are meaningless.
  Tensor x = randn({3, 4}, gen, DType::Float64);
  x = x + mul(sign(x), 0.1);
  for (const auto& m : mods) {
    SCOPED_TRACE(m->type_name());
    EXPECT_GRADCHECK([&](const std::vector<Variable>& in) { return m->forward(in[0]); }, {x});
  }
  const Variable v(tensor({-2.0, 3.0}, {2}));
  EXPECT_TRUE(all_close(mods[3]->forward(v).data(), tensor({-0.4, 3.0}, {2}), 1e-7, 0));
  EXPECT_TRUE(all_close(mods[0]->forward(v).data(), tensor({0.0, 3.0}, {2}), 0, 0));
}
