// tests/nn/lstm_module_test.cpp: the LSTM module: PyTorch's parameter names, shapes and init
// bounds, output shapes, dropout between layers (on in train, off in eval), and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "nn/lstm.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::Variable;
using loom::nn::LSTM;
using loom::nn::LstmImpl;
using loom::nn::LSTMOptions;

TEST(LstmModule, HasPyTorchsParameterNamesShapesAndOrder) {
  loom::Generator gen(1);
  LSTM lstm(LSTMOptions(5, 3).num_layers(2).bidirectional(true), gen);
  const std::vector<std::pair<std::string, loom::Shape>> want = {{"weight_ih_l0", {12, 5}},
                                                                 {"weight_hh_l0", {12, 3}},
                                                                 {"bias_ih_l0", {12}},
                                                                 {"bias_hh_l0", {12}},
                                                                 {"weight_ih_l0_reverse", {12, 5}},
                                                                 {"weight_hh_l0_reverse", {12, 3}},
                                                                 {"bias_ih_l0_reverse", {12}},
                                                                 {"bias_hh_l0_reverse", {12}},
                                                                 {"weight_ih_l1", {12, 6}},
                                                                 {"weight_hh_l1", {12, 3}},
                                                                 {"bias_ih_l1", {12}},
                                                                 {"bias_hh_l1", {12}},
                                                                 {"weight_ih_l1_reverse", {12, 6}},
                                                                 {"weight_hh_l1_reverse", {12, 3}},
                                                                 {"bias_ih_l1_reverse", {12}},
                                                                 {"bias_hh_l1_reverse", {12}}};
  const auto named = lstm.named_parameters();
  ASSERT_EQ(named.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(named[i].first, want[i].first);
    EXPECT_EQ(named[i].second.shape(), want[i].second) << want[i].first;
    EXPECT_TRUE(named[i].second.requires_grad());
  }
}

TEST(LstmModule, InitIsUniformWithinOneOverSqrtHAndSeedable) {
  loom::Generator g1(42), g2(42), g3(43);
  LSTM a(LSTMOptions(4, 16), g1), b(LSTMOptions(4, 16), g2), c(LSTMOptions(4, 16), g3);
  const double bound = 1.0 / std::sqrt(16.0);
  const auto va = a.named_parameters()[1].second.data().to_vector<double>();  // weight_hh_l0
  double lo = 1, hi = -1;
  for (double v : va) {
    EXPECT_LE(std::abs(v), bound);
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  EXPECT_LT(lo, -0.8 * bound);  // 1024 draws cover the range
  EXPECT_GT(hi, 0.8 * bound);
  EXPECT_EQ(va, b.named_parameters()[1].second.data().to_vector<double>());
  EXPECT_NE(va, c.named_parameters()[1].second.data().to_vector<double>());
}

TEST(LstmModule, OutputShapesFollowPyTorch) {
  loom::Generator gen(2);
  for (LstmImpl impl : {LstmImpl::Composed, LstmImpl::Fused}) {
    LSTM lstm(LSTMOptions(3, 4).num_layers(2).bidirectional(true).batch_first(true).impl(impl),
              gen);
    const Variable x(loom::rand({2, 5, 3}, gen));  // [B, T, in]
    const auto y = lstm.forward_full(x);
    EXPECT_EQ(y.output.shape(), loom::Shape({2, 5, 8}));
    EXPECT_EQ(y.h_n.shape(), loom::Shape({4, 2, 4}));
    EXPECT_EQ(y.c_n.shape(), loom::Shape({4, 2, 4}));
    // h_n of the last layer: forward = output at t = T-1 (first half), reverse = at t = 0.
    const auto out = y.output.data(), hn = y.h_n.data();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 4; ++j) {
        EXPECT_EQ(out.select(0, b).select(0, 4).select(0, j).item<float>(),
                  hn.select(0, 2).select(0, b).select(0, j).item<float>());
        EXPECT_EQ(out.select(0, b).select(0, 0).select(0, 4 + j).item<float>(),
                  hn.select(0, 3).select(0, b).select(0, j).item<float>());
      }
  }
}

TEST(LstmModule, DropoutBetweenLayersIsOnInTrainAndOffInEval) {
  for (LstmImpl impl : {LstmImpl::Composed, LstmImpl::Fused}) {
    loom::Generator g1(3), g2(3);
    LSTM with(LSTMOptions(3, 8).num_layers(2).dropout(0.5).impl(impl), g1);
    LSTM without(LSTMOptions(3, 8).num_layers(2).impl(impl), g2);  // same weights
    const Variable x(loom::rand({4, 6, 3}, g1));
    with.eval();
    without.eval();
    const auto e1 = with.forward(x).data().to_vector<float>();
    EXPECT_EQ(e1, without.forward(x).data().to_vector<float>());
    with.train();
    const auto t1 = with.forward(x).data().to_vector<float>();
    const auto t2 = with.forward(x).data().to_vector<float>();
    EXPECT_NE(t1, e1);  // the masks change the second layer's input
    EXPECT_NE(t1, t2);  // and differ from call to call
    // A one-layer LSTM has no "between layers": dropout changes nothing.
    loom::Generator g3(4), g4(4);
    LSTM one(LSTMOptions(3, 8).dropout(0.5).impl(impl), g3), ref(LSTMOptions(3, 8).impl(impl), g4);
    EXPECT_EQ(one.forward(x).data().to_vector<float>(), ref.forward(x).data().to_vector<float>());
  }
}

TEST(LstmModule, GradientsReachEveryParameterThroughEitherImpl) {
  loom::Generator gen(5);
  LSTM lstm(LSTMOptions(3, 4).num_layers(2), gen);
  const Variable x(loom::rand({5, 2, 3}, gen), true);
  for (LstmImpl impl : {LstmImpl::Composed, LstmImpl::Fused}) {
    lstm.set_impl(impl);
    lstm.zero_grad(/*set_to_none=*/true);
    loom::sum(lstm.forward(x)).backward();
    for (const auto& [name, p] : lstm.named_parameters())
      EXPECT_TRUE(p.grad().defined()) << name;
  }
}

TEST(LstmModule, BadInputsThrowNamingTheProblem) {
  loom::Generator gen(6);
  LSTM lstm(LSTMOptions(3, 4).num_layers(2), gen);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] {
              lstm.forward(Variable(loom::zeros({5, 2, 7})));
            }).find("input_size"),
            std::string::npos);
  EXPECT_NE(message([&] {
              lstm.forward(Variable(loom::zeros({5, 3})));
            }).find("3-D"),
            std::string::npos);
  const Variable x(loom::zeros({5, 2, 3}));
  EXPECT_NE(
      message([&] {
        lstm.forward_full(x, Variable(loom::zeros({1, 2, 4})), Variable(loom::zeros({2, 2, 4})));
      }).find("h0"),
      std::string::npos);
  EXPECT_NE(message([&] {
              lstm.forward_full(x, Variable(loom::zeros({2, 2, 4})));
            }).find("both"),
            std::string::npos);
  EXPECT_THROW(LSTM(LSTMOptions(3, 4).dropout(1.0)), loom::Error);
  // The fused path is float32/float64 only and says which implementation to use instead.
  LSTM half(LSTMOptions(3, 4), gen);
  half.to(DType::Float16);
  EXPECT_NE(message([&] {
              half.forward(Variable(loom::zeros({2, 1, 3}, DType::Float16)));
            }).find("Composed"),
            std::string::npos);
}

}  // namespace
