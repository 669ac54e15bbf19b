// tests/apps/imdb_seq2cnn_test.cpp: the Seq2CNN model of apps/imdb (seq2cnn.h): its parameter
// count at full size, the padding-window trick (the trimmed forward equals the plain one, values
// and gradients, batch 1 and batched), trimmed_length, the two-logit head as one logit, the
// presets and --model seq2cnn, and the Seq2CNN ids (post-padding, unknown words at vocab - 1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/imdb/cli.h"
#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/seq2cnn.h"
#include "autograd/functions.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tests/common/error_of.h"

using namespace loom;
using namespace loom::imdb;
using loom::test::error_of;

namespace {

// Post-padded rows of ids in [1, vocab), the given real lengths, padded with 0 to T.
Tensor post_padded(const std::vector<int64_t>& lengths, int64_t T, int64_t vocab, uint64_t seed) {
  Generator gen(seed);
  const Tensor ids =
      add(mul(rand({static_cast<int64_t>(lengths.size()), T}, gen), static_cast<double>(vocab - 1)),
          1.0)
          .to(DType::Int32);
  std::vector<int32_t> v = ids.to_vector<int32_t>();
  for (std::size_t b = 0; b < lengths.size(); ++b)
    for (int64_t t = lengths[b]; t < T; ++t)
      v[b * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] = 0;
  return from_vector<int32_t>(v, {static_cast<int64_t>(lengths.size()), T});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(DType::Float64), b.to(DType::Float64)))).item<double>();
}

Seq2CnnOptions small(const std::string& activation = "elu") {
  Seq2CnnOptions o;
  o.vocab = 50;
  o.embed = 12;
  o.channels = 10;
  o.activation = activation;
  return o;
}

}  // namespace

TEST(Seq2Cnn, FullSizeHasTheProposalsParameterCount) {
  manual_seed(1);
  Seq2Cnn net(Seq2CnnOptions{});
  int64_t n = 0;
  for (const auto& [name, p] : net.named_parameters())
    n += p.numel();
  EXPECT_EQ(n, 12670978);
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters())
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"embedding.weight", "conv3.weight", "conv3.bias",
                                             "conv4.weight", "conv4.bias", "linear.weight",
                                             "linear.bias"}));
}

TEST(Seq2Cnn, TrimmedLengthIsTheLongestReviewPlusOneWindow) {
  EXPECT_EQ(trimmed_length(post_padded({3}, 20, 50, 1)), 3 + Seq2Cnn::kWidestKernel);
  EXPECT_EQ(trimmed_length(post_padded({3, 9, 0}, 20, 50, 2)), 9 + Seq2Cnn::kWidestKernel);
  EXPECT_EQ(trimmed_length(post_padded({18}, 20, 50, 3)), 20);  // no room: nothing trimmed
  EXPECT_EQ(trimmed_length(post_padded({0}, 20, 50, 4)), Seq2Cnn::kWidestKernel);
}

// The padding-window trick is exact: the same logits and the same gradients as computing every
// window, for one review and for a batch of different lengths (empty, full, truncated-length).
TEST(Seq2Cnn, TrimmedForwardEqualsThePlainForward) {
  for (const std::string act : {"elu", "leaky-relu"}) {
    manual_seed(7);
    Seq2Cnn net(small(act));
    for (const std::vector<int64_t>& lengths :
         {std::vector<int64_t>{5}, std::vector<int64_t>{1, 7, 0, 30, 12}}) {
      SCOPED_TRACE(act + " batch " + std::to_string(lengths.size()));
      const Tensor tokens = post_padded(lengths, 30, 50, 11);
      const Variable plain = net.logits(tokens, /*trim_padding=*/false);
      sum(mul(plain, plain)).backward();
      std::vector<Tensor> plain_grads;
      for (const auto& [name, p] : net.named_parameters())
        plain_grads.push_back(p.grad().clone());
      net.zero_grad();
      const Variable trimmed = net.logits(tokens);
      sum(mul(trimmed, trimmed)).backward();
      EXPECT_LE(max_abs_diff(plain.data(), trimmed.data()), 1e-6);
      std::size_t i = 0;
      for (const auto& [name, p] : net.named_parameters())
        EXPECT_LE(max_abs_diff(plain_grads[i++], p.grad()), 1e-5) << name;
      net.zero_grad();
    }
  }
}

// Int8 inference: close to the float32 model (quantization error only: the logits move by a small
// fraction of their spread), and the padding-window trick stays exact under int8, to the bit:
// a window's row is quantized by itself and summed in integers, whatever its neighbours.
TEST(Seq2Cnn, Int8InferenceIsCloseToFloatAndItsTrickIsExact) {
  for (const std::string act : {"elu", "leaky-relu"}) {
    SCOPED_TRACE(act);
    manual_seed(5);
    Seq2Cnn net(small(act));
    const Seq2CnnInt8 int8(net);
    const Tensor tokens = post_padded({1, 7, 0, 30, 12}, 30, 50, 13);
    const Tensor exact = net.logits(tokens).data();
    const Tensor approx = int8.logits(tokens);
    ASSERT_EQ(approx.shape(), exact.shape());
    const double spread = max(abs(exact)).item<double>();
    EXPECT_LT(max_abs_diff(approx, exact), 0.05 * spread);
    EXPECT_GT(max_abs_diff(approx, exact), 0.0) << "int8 must differ from float somewhere";
    EXPECT_EQ(max_abs_diff(int8.logits(tokens, /*trim_padding=*/false), approx), 0.0);
    // Batch 1: the same windows; only the float Linear at the end may sum in another order.
    EXPECT_LE(max_abs_diff(int8.logits(tokens.narrow(0, 1, 1)), approx.narrow(0, 1, 1)), 1e-6)
        << "batch 1 gives the batch's row";
  }
}

TEST(Seq2Cnn, ImdbModelGivesOneLogitZ1MinusZ0) {
  Config c;
  apply_preset(c, "seq2cnn-small");
  c.vocab = 50;
  c.embed = c.conv_channels = 8;
  manual_seed(3);
  ImdbModel model(c, kCPU);
  model.set_training(false);
  ASSERT_NE(model.seq2cnn(), nullptr);
  const Tensor tokens = post_padded({4, 9}, 12, 50, 5);
  const Tensor z = model.seq2cnn()->logits(tokens).data();
  const Tensor logit = model.forward(tokens).data();
  EXPECT_EQ(logit.shape(), Shape({2, 1}));
  EXPECT_LE(max_abs_diff(logit, sub(z.narrow(1, 1, 1), z.narrow(1, 0, 1))), 1e-6);
  Config lstm;
  EXPECT_EQ(ImdbModel(lstm, kCPU).seq2cnn(), nullptr);
}

TEST(Seq2Cnn, PresetsAndModelFlag) {
  Config c;
  apply_preset(c, "seq2cnn");
  EXPECT_EQ(c.model, "seq2cnn");
  EXPECT_EQ(c.vocab, 5200);
  EXPECT_EQ(c.max_len, 1000);
  EXPECT_EQ(c.padding, "post");
  EXPECT_EQ(c.oov, "unk-last");
  EXPECT_EQ(c.embed, 1024);
  EXPECT_EQ(c.conv_channels, 1024);
  EXPECT_NO_THROW(validate(c));
  // --model seq2cnn alone brings the seq2cnn preset; a typed flag still wins.
  Request r;
  const char* argv[] = {"imdb", "train", "--model", "seq2cnn", "--embed", "64"};
  ASSERT_EQ(parse_command_line(6, argv, r, /*quiet=*/true), -1);
  EXPECT_EQ(r.config.preset, "seq2cnn");
  EXPECT_EQ(r.config.vocab, 5200);
  EXPECT_EQ(r.config.embed, 64);
  c.activation = "gelu";
  EXPECT_NE(error_of([&] { validate(c); }).find("--activation"), std::string::npos);
  c.activation = "elu";
  c.precision = "bf16";
  EXPECT_NE(error_of([&] { validate(c); }).find("fp32"), std::string::npos);
}

TEST(Seq2Cnn, UnknownWordsMoveToTheLastId) {
  // Encoded with <unk> at 1 and words from 2 (data/vocab.h) -> words from 1, <unk> at vocab - 1.
  std::vector<int32_t> ids = {5, 1, 2, 0, 0};
  move_unknown_last(ids, 10);
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 9, 1, 0, 0}));
  Config c;
  apply_preset(c, "seq2cnn-small");
  const data::EncodeOptions eo = encode_options(c);
  EXPECT_EQ(eo.max_len, 1000);
  EXPECT_EQ(eo.padding, data::PadSide::Post);
  EXPECT_EQ(eo.truncating, data::PadSide::Post);
  EXPECT_EQ(vocab_options(c).oov, data::OovPolicy::Unk);
}
