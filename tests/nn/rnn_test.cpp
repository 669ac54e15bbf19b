// tests/nn/rnn_test.cpp: the tanh RNN (lab 13): gradients of both implementations against central
// differences in float64, the composed and the fused layer bit-identical (values and every
// gradient), training bit-identical on 1, 2 and 3 threads, PyTorch's parameter names, the Huber
// loss, and bad arguments.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/sgd.h"
#include "nn/rnn.h"
#include "tensor/cpu/threads.h"
#include "tests/common/error_of.h"

namespace {

using namespace loom;
using nn::RnnImpl;

// The layer on (x, h0, w_ih, w_hh, b_ih, b_hh), packed as concat(out, h_n) so that gradients
// through both outputs are checked.
Variable run_layer(RnnImpl impl, const std::vector<Variable>& in) {
  const nn::RnnParams p{in[2], in[3], in[4], in[5]};
  const nn::RnnLayerOutput r = impl == RnnImpl::Composed ? nn::rnn_layer_composed(in[0], in[1], p)
                                                         : nn::rnn_layer_fused(in[0], in[1], p);
  return concat({reshape(r.out, {-1}), reshape(r.h_n, {-1})}, 0);
}

std::vector<Tensor> inputs(int64_t T, int64_t B, int64_t in, int64_t H, uint64_t seed) {
  Generator g(seed);
  return {uniform({T, B, in}, -1, 1, g).to(DType::Float64),
          uniform({B, H}, -1, 1, g).to(DType::Float64),
          uniform({H, in}, -0.8, 0.8, g).to(DType::Float64),
          uniform({H, H}, -0.8, 0.8, g).to(DType::Float64),
          uniform({H}, -0.5, 0.5, g).to(DType::Float64),
          uniform({H}, -0.5, 0.5, g).to(DType::Float64)};
}

class RnnGradcheck : public ::testing::TestWithParam<RnnImpl> {};

TEST_P(RnnGradcheck, MatchesFiniteDifferences) {
  const RnnImpl impl = GetParam();
  for (int64_t T : {1, 4}) {
    GradcheckOptions opt;
    opt.seed = 3;
    EXPECT_GRADCHECK([impl](const std::vector<Variable>& in) { return run_layer(impl, in); },
                     inputs(T, 2, 3, 4, 11 + T), opt);
  }
}

INSTANTIATE_TEST_SUITE_P(BothImpls, RnnGradcheck,
                         ::testing::Values(RnnImpl::Composed, RnnImpl::Fused));

// The bytes of a tensor (dense copy).
std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  const auto* b = static_cast<const unsigned char*>(c.raw_data());
  return std::vector<unsigned char>(b, b + c.numel() * dtype_size(c.dtype()));
}

// Output and every input gradient of one forward/backward, as bytes, for a random upstream.
std::vector<std::vector<unsigned char>> forward_backward(RnnImpl impl, DType dt) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs(5, 37, 3, 20, 4))
    vars.emplace_back(t.to(dt), true);
  const Variable y = run_layer(impl, vars);
  Generator g(9);
  y.backward(uniform(y.shape(), -1, 1, g).to(dt));
  std::vector<std::vector<unsigned char>> out{bytes_of(y.data())};
  for (const Variable& v : vars)
    out.push_back(bytes_of(v.grad()));
  return out;
}

TEST(Rnn, ComposedAndFusedAreBitIdentical) {
  for (DType dt : {DType::Float64, DType::Float32}) {
    const auto a = forward_backward(RnnImpl::Composed, dt);
    const auto b = forward_backward(RnnImpl::Fused, dt);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(a[i] == b[i]) << dtype_name(dt) << ": item " << i
                                << " (0 = output, then x, h0, w_ih, w_hh, b_ih, b_hh) differs";
  }
}

// Five SGD steps of RNN -> last h -> Linear -> MSE in float64 on `threads` threads; the bytes of
// every parameter. Sizes large enough that the recurrence and the GEMMs split over threads
// (T B H^2 = 6.3M multiply-adds), a batch that is not a multiple of the slice alignment.
std::vector<unsigned char> train(RnnImpl impl, int threads) {
  const int saved = get_num_threads();
  set_num_threads(threads);
  const int64_t T = 24, B = 67, in = 3, H = 64;
  Generator gen(5);
  nn::RNN rnn(nn::RNNOptions(in, H).impl(impl), gen);
  nn::Linear fc(nn::LinearOptions(H, 1), gen);
  rnn.to(DType::Float64);
  fc.to(DType::Float64);
  std::vector<Variable> params = rnn.parameters();
  for (const Variable& p : fc.parameters())
    params.push_back(p);
  nn::optim::SGD sgd(params, nn::optim::SGDOptions(0.1));
  const Tensor x = uniform({T, B, in}, -1, 1, gen).to(DType::Float64);
  const Tensor y = uniform({B, 1}, -1, 1, gen).to(DType::Float64);
  for (int step = 0; step < 5; ++step) {
    sgd.zero_grad(true);
    const Variable loss =
        nn::mse_loss(fc.forward(squeeze(rnn.forward_full(Variable(x)).h_n, 0)), y);
    loss.backward();
    sgd.step();
  }
  set_num_threads(saved);
  std::vector<unsigned char> all;
  for (const Variable& p : params) {
    const std::vector<unsigned char> b = bytes_of(p.data());
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

TEST(Rnn, TrainingIsBitIdenticalForEveryThreadCountAndImpl) {
  const std::vector<unsigned char> reference = train(RnnImpl::Composed, 1);
  for (RnnImpl impl : {RnnImpl::Composed, RnnImpl::Fused})
    for (int threads : {1, 2, 3})
      EXPECT_TRUE(train(impl, threads) == reference)
          << (impl == RnnImpl::Fused ? "fused" : "composed") << " on " << threads << " threads";
}

TEST(Rnn, PyTorchNamesShapesAndBatchFirst) {
  nn::RNN rnn(nn::RNNOptions(3, 5).batch_first(true));
  const auto named = rnn.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "weight_ih_l0");
  EXPECT_EQ(named[0].second.shape(), Shape({5, 3}));
  EXPECT_EQ(named[1].first, "weight_hh_l0");
  EXPECT_EQ(named[1].second.shape(), Shape({5, 5}));
  EXPECT_EQ(named[2].first, "bias_ih_l0");
  EXPECT_EQ(named[3].first, "bias_hh_l0");
  const nn::RnnOutput y = rnn.forward_full(Variable(zeros({2, 7, 3})));
  EXPECT_EQ(y.output.shape(), Shape({2, 7, 5}));
  EXPECT_EQ(y.h_n.shape(), Shape({1, 2, 5}));
}

TEST(Rnn, BadArgumentsNameTheProblem) {
  nn::RNN rnn(nn::RNNOptions(3, 5));
  EXPECT_NE(test::error_of([&] {
              rnn.forward_full(Variable(zeros({4, 2, 2})));
            }).find("input has 2 features"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              rnn.forward_full(Variable(zeros({4, 2, 3}, DType::Float64)));
            }).find("float64"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              rnn.forward_full(Variable(zeros({4, 2, 3})), Variable(zeros({1, 3, 5})));
            }).find("h0"),
            std::string::npos);
}

TEST(HuberLoss, ValuesAndGradient) {
  // d = 0.5 (quadratic: 0.125), d = -3 with delta 1 (linear: 1 * (3 - 0.5) = 2.5).
  const Variable x(from_vector<double>({0.5, -3.0}, {2}), true);
  const Tensor y = zeros({2}, DType::Float64);
  const Variable l = nn::huber_loss(x, y, nn::Reduction::Sum);
  EXPECT_DOUBLE_EQ(l.data().item<double>(), 0.125 + 2.5);
  l.backward();
  EXPECT_DOUBLE_EQ(x.grad().to_vector<double>()[0], 0.5);
  EXPECT_DOUBLE_EQ(x.grad().to_vector<double>()[1], -1.0);
  Generator g(2);
  const Tensor target = uniform({3, 4}, -2, 2, g).to(DType::Float64);
  for (nn::Reduction r : {nn::Reduction::Mean, nn::Reduction::Sum, nn::Reduction::None}) {
    EXPECT_GRADCHECK(
        [&](const std::vector<Variable>& in) { return nn::huber_loss(in[0], target, r, 0.7); },
        {uniform({3, 4}, -2, 2, g).to(DType::Float64)});
  }
}

}  // namespace
