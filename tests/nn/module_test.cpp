// tests/nn/module_test.cpp: the Module API: dotted names, registration order, train/eval,
// zero_grad, to(dtype), state_dict round trip and the errors of a strict load.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/sequential.h"
#include "nn_test_util.h"
#include "tests/common/error_of.h"

using namespace loom;
using namespace loom::nn;

namespace {

// Embedding -> mean over time -> Linear, the shape of the IMDB model without the LSTM.
struct TinyNet : Module {
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Linear> linear;
  TinyNet(Generator& gen) : Module("TinyNet") {
    embedding = register_module(
        "embedding", std::make_shared<Embedding>(EmbeddingOptions(7, 5).padding_idx(0), gen));
    linear = register_module("linear", std::make_shared<Linear>(LinearOptions(5, 1), gen));
  }
  Variable forward(const Tensor& ids) { return linear->forward(mean(embedding->forward(ids), 1)); }
};

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (const auto& np : m.named_parameters())
    out.push_back(np.first);
  return out;
}

}  // namespace

TEST(Module, DottedNamesInRegistrationOrder) {
  Generator gen(1);
  TinyNet net(gen);
  EXPECT_EQ(names_of(net),
            (std::vector<std::string>{"embedding.weight", "linear.weight", "linear.bias"}));
  EXPECT_EQ(net.parameters().size(), 3u);
  EXPECT_EQ(net.named_parameters(/*recurse=*/false).size(), 0u);
  const auto mods = net.named_modules();
  ASSERT_EQ(mods.size(), 3u);
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[1].first, "embedding");
  EXPECT_EQ(mods[2].second->type_name(), "Linear");
  for (const Variable& p : net.parameters())
    EXPECT_TRUE(p.requires_grad());
}

TEST(Module, SequentialNamesChildrenByIndex) {
  Generator gen(2);
  Sequential seq{std::make_shared<Linear>(LinearOptions(4, 8), gen), std::make_shared<ReLU>(),
                 std::make_shared<Linear>(LinearOptions(8, 2).bias(false), gen)};
  EXPECT_EQ(names_of(seq), (std::vector<std::string>{"0.weight", "0.bias", "2.weight"}));
  const Variable y = seq.forward(Variable(randn({3, 4}, gen)));
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
}

TEST(Module, RegistrationRejectsBadNames) {
  Module m("M");
  m.register_parameter("w", Variable(zeros({2})));
  EXPECT_THROW(m.register_parameter("w", Variable(zeros({2}))), Error);
  EXPECT_THROW(m.register_parameter("a.b", Variable(zeros({2}))), Error);
  EXPECT_THROW(m.register_module("w", std::make_shared<ReLU>()), Error);
  EXPECT_THROW(m.forward(Variable(zeros({1}))), Error);
}

TEST(Module, TrainEvalReachesEveryDescendant) {
  Generator gen(3);
  TinyNet net(gen);
  EXPECT_TRUE(net.linear->is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.linear->is_training());
  EXPECT_FALSE(net.embedding->is_training());
  net.train();
  EXPECT_TRUE(net.embedding->is_training());
}

TEST(Module, ZeroGradZeroesOrDrops) {
  Generator gen(4);
  TinyNet net(gen);
  const Tensor ids = from_vector<int64_t>({1, 2, 3, 4}, {2, 2});
  sum(net.forward(ids)).backward();
  ASSERT_TRUE(net.linear->weight.grad().defined());
  EXPECT_GT(sum(abs(net.linear->weight.grad())).item<double>(), 0);
  net.zero_grad();
  EXPECT_EQ(sum(abs(net.linear->weight.grad())).item<double>(), 0);
  net.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(net.linear->weight.grad().defined());
}

TEST(Module, ToDtypeKeepsHandles) {
  Generator gen(5);
  TinyNet net(gen);
  const Variable w = net.linear->weight;
  const double before = w.data().to_vector<double>()[0];
  net.to(DType::Float64);
  EXPECT_EQ(w.dtype(), DType::Float64);  // the same handle sees the new data
  EXPECT_DOUBLE_EQ(w.data().to_vector<double>()[0], before);
}

TEST(Module, StateDictRoundTrip) {
  Generator g1(6), g2(7);
  TinyNet a(g1), b(g2);
  EXPECT_FALSE(loom::nn::testing::all_close(a.linear->weight.data(), b.linear->weight.data()));
  b.load_state_dict(a.state_dict());
  for (const auto& [name, t] : a.state_dict())
    EXPECT_TRUE(loom::nn::testing::all_close(t, *find_tensor(b.state_dict(), name), 0, 0)) << name;
  // Loading copies: changing a afterwards leaves b alone.
  a.linear->bias.data().fill_(42);
  EXPECT_NE(b.linear->bias.data().to_vector<double>()[0], 42);
}

using loom::test::error_of;

TEST(Module, StrictLoadErrorsNameTheTensor) {
  Generator gen(8);
  TinyNet net(gen);
  StateDict missing = net.state_dict();
  missing.pop_back();
  EXPECT_NE(error_of([&] { net.load_state_dict(missing); }).find("missing parameter 'linear.bias'"),
            std::string::npos);
  EXPECT_NO_THROW(net.load_state_dict(missing, /*strict=*/false));

  StateDict extra = net.state_dict();
  extra.emplace_back("lstm.weight_ih_l0", zeros({4, 5}));
  EXPECT_NE(
      error_of([&] { net.load_state_dict(extra); }).find("unexpected tensor 'lstm.weight_ih_l0'"),
      std::string::npos);

  StateDict shape = net.state_dict();
  shape[1].second = zeros({2, 5});
  const std::string msg = error_of([&] { net.load_state_dict(shape); });
  EXPECT_NE(msg.find("'linear.weight' has shape [2, 5]"), std::string::npos) << msg;

  StateDict dtype = net.state_dict();
  dtype[2].second = zeros({1}, DType::Float64);
  EXPECT_NE(error_of([&] { net.load_state_dict(dtype); }).find("'linear.bias' has dtype float64"),
            std::string::npos);
  // A failed load changes nothing.
  const auto before = net.linear->weight.data().to_vector<float>();
  StateDict partial = net.state_dict();
  partial[1].second = full({1, 5}, 3.0);
  partial[2].second = zeros({7});
  EXPECT_THROW(net.load_state_dict(partial), Error);
  EXPECT_EQ(net.linear->weight.data().to_vector<float>(), before);
}
