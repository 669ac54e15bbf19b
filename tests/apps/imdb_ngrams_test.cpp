// tests/apps/imdb_ngrams_test.cpp: the bag of n-grams beside the LSTM (--ngram-buckets).
//
// The ids on a hand-checked review (words, then hashed pairs, padding left out), the hash against
// splitmix64's published first output, out-of-vocabulary tokens named; the bag (embedding ->
// mean over the non-padding ids -> beside other features) passes a float64 gradcheck; the
// model's new table and head width, the same initial weights as without the bag elsewhere, the
// learning-rate scale (same start, gradient times the scale), a config round trip, and the
// refusals (pipeline stages, seq2cnn, bad sizes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
#include "apps/imdb/ngrams.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/embedding.h"
#include "nn/pooling.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tests/common/error_of.h"

namespace loom::imdb {
namespace {

TEST(NgramIds, HashIsSplitmix64sFinalizer) {
  // splitmix64 seeded with 0 first returns mix64(0x9e3779b97f4a7c15) = 0xe220a8397b1dcdaf.
  EXPECT_EQ(mix64(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(mix64(0), 0u);
}

TEST(NgramIds, WordsThenHashedPairsWithPaddingLeftOut) {
  // vocab 10, 7 buckets: pair ids are 10 + mix64(a * 10 + b) % 7.
  const Tensor tokens = from_vector<int32_t>({0, 0, 3, 4, 3, 4,  //
                                              5, 6, 0, 7, 7, 7},
                                             {2, 6});
  const Tensor ids = ngram_ids(tokens, 10, 7);
  ASSERT_EQ(ids.shape(), Shape({2, 11}));
  EXPECT_EQ(ids.dtype(), DType::Int32);
  auto pair = [](int a, int b) {
    return static_cast<int32_t>(10 + mix64(static_cast<uint64_t>(a * 10 + b)) % 7);
  };
  EXPECT_EQ(pair(3, 4), 15);  // computed independently (Python) from the same formula
  EXPECT_EQ(pair(4, 3), 13);
  const std::vector<int32_t> expected = {
      0, 0,          3,          4,          3, 4, /* pairs */ 0,
      0, pair(3, 4), pair(4, 3), pair(3, 4),  // padding first
      5, 6,          0,          7,          7, 7, /* pairs */ pair(5, 6),
      0, 0,          pair(7, 7), pair(7, 7)};  // 0 in between
  EXPECT_EQ(ids.to_vector<int32_t>(), expected);
  // One step: no pairs.
  EXPECT_EQ(ngram_ids(from_vector<int32_t>({4}, {1, 1}), 10, 7).to_vector<int32_t>(),
            (std::vector<int32_t>{4}));
}

TEST(NgramIds, BadTokensAreNamed) {
  const Tensor tokens = from_vector<int32_t>({1, 2, 12, 3}, {2, 2});
  EXPECT_NE(test::error_of([&] { ngram_ids(tokens, 10, 7); }).find("token 12 at [1, 0]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { ngram_ids(tokens, 20, 0); }).find("buckets must be >= 1"),
            std::string::npos);
}

TEST(NgramBag, GradientsMatchFiniteDifferences) {
  // The model's bag, in float64: rows of the ids' table averaged over the non-zero ids, then
  // concatenated with other features as the head reads them.
  const int64_t vocab = 6, buckets = 5, dim = 3;
  Generator g(11);
  const Tensor table = uniform({vocab + buckets, dim}, -1, 1, g, DType::Float64);
  const Tensor other = uniform({3, 2}, -1, 1, g, DType::Float64);
  const Tensor tokens = from_vector<int32_t>({0, 0, 1, 2, 2,  //
                                              3, 4, 5, 1, 1,  //
                                              0, 0, 0, 0, 5},
                                             {3, 5});
  const Tensor ids = ngram_ids(tokens, vocab, buckets);
  const Tensor padding = eq(ids, zeros({}, TensorOptions(ids.dtype(), ids.device())));
  EXPECT_GRADCHECK(
      [&](const std::vector<Variable>& in) {
        const Variable bag = nn::mean_over_time(nn::embedding(in[0], ids, 0), padding);
        return concat({in[1], bag}, 1);
      },
      {table, other});
}

Config tiny(int64_t buckets) {
  Config c;
  c.vocab = 30;
  c.embed = 6;
  c.lstm_size = 5;
  c.max_len = 8;
  c.pooling = "max-mean";
  c.lstm_impl = "fused";
  c.ngram_buckets = buckets;
  c.ngram_dim = 4;
  return c;
}

TEST(NgramBag, TheModelGetsATableAndAWiderHeadAndKeepsItsOtherInitialWeights) {
  manual_seed(5);
  const ImdbModel plain(tiny(0), kCPU);
  manual_seed(5);
  ImdbModel bag(tiny(9), kCPU);
  const auto a = plain.named_parameters(), b = bag.named_parameters();
  ASSERT_EQ(b.size(), a.size() + 1);
  EXPECT_EQ(b.back().first, "ngram_embedding.weight");
  EXPECT_EQ(b.back().second.shape(), Shape({30 + 9, 4}));
  EXPECT_EQ(sum(abs(b.back().second.data().select(0, 0))).item<double>(), 0.0) << "padding row";
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    EXPECT_EQ(a[i].first, b[i].first);
    if (a[i].first == "linear.weight") {
      EXPECT_EQ(b[i].second.shape(), Shape({1, 2 * 5 + 4}));  // max, mean, then the bag
    } else if (a[i].first != "linear.bias") {                 // drawn before the head: unchanged
      EXPECT_EQ(a[i].second.data().to_vector<float>(), b[i].second.data().to_vector<float>());
    }
  }
  // The bag reaches the logits: changing only its table changes them.
  const Tensor tokens = from_vector<int32_t>({0, 0, 3, 4, 5, 6, 7, 8}, {1, 8});
  bag.set_training(false);
  const float before = bag.forward(tokens).data().item<float>();
  b.back().second.data().fill_(0.5);
  EXPECT_NE(bag.forward(tokens).data().item<float>(), before);
}

TEST(NgramBag, ItsLearningRateScaleLeavesTheStartAndMultipliesTheGradient) {
  // --ngram-lr-scale s: the table is stored divided by s and read times s, so the logits start
  // the same and the table's gradient is s times larger (what Adam turns into s-times-larger
  // moves of the bag).
  const Tensor tokens = from_vector<int32_t>({0, 0, 3, 4, 5, 6, 7, 8,  //
                                              0, 9, 9, 4, 2, 2, 1, 7},
                                             {2, 8});
  const Tensor labels = from_vector<float>({1, 0}, {2, 1});
  std::vector<float> logits[2];
  Tensor grad[2];
  for (int k = 0; k < 2; ++k) {
    Config c = tiny(9);
    c.ngram_lr_scale = k == 0 ? 1.0 : 10.0;
    manual_seed(5);
    ImdbModel m(c, kCPU);
    m.set_training(false);
    const Variable z = m.forward(tokens);
    logits[k] = z.data().to_vector<float>();
    m.backward(m.loss(z, labels));
    grad[k] = m.named_parameters().back().second.grad();
  }
  ASSERT_EQ(logits[0].size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(logits[0][i], logits[1][i], 1e-6);
  const std::vector<float> g1 = grad[0].to_vector<float>(), g10 = grad[1].to_vector<float>();
  double largest = 0;
  for (size_t i = 0; i < g1.size(); ++i) {
    EXPECT_NEAR(g10[i], 10 * g1[i], 1e-5 + 1e-4 * std::abs(g10[i])) << i;
    largest = std::max(largest, static_cast<double>(std::abs(g1[i])));
  }
  EXPECT_GT(largest, 1e-4) << "the bag must receive a gradient";
}

TEST(NgramBag, ConfigKeysRoundTripAndBadValuesAreRefused) {
  Config c = tiny(1000);
  Config back;
  merge_json(back, to_json(c), "test");
  EXPECT_EQ(back.ngram_buckets, 1000);
  EXPECT_EQ(back.ngram_dim, 4);
  EXPECT_NO_THROW(validate(c));
  Config bad = c;
  bad.ngram_buckets = -1;
  EXPECT_NE(test::error_of([&] { validate(bad); }).find("--ngram-buckets must be 0"),
            std::string::npos);
  bad = c;
  bad.ngram_dim = 0;
  EXPECT_NE(test::error_of([&] { validate(bad); }).find("--ngram-dim"), std::string::npos);
  bad = c;
  bad.ngram_lr_scale = 0;
  EXPECT_NE(test::error_of([&] { validate(bad); }).find("--ngram-lr-scale"), std::string::npos);
  bad = c;
  bad.pipeline_stages = 2;
  EXPECT_NE(test::error_of([&] { validate(bad); }).find("not cut into stages"), std::string::npos);
  bad = c;
  bad.model = "seq2cnn";
  EXPECT_NE(test::error_of([&] { validate(bad); }).find("--model seq2cnn has no n-gram bag"),
            std::string::npos);
}

}  // namespace
}  // namespace loom::imdb
