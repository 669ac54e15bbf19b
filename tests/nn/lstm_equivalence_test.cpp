// tests/nn/lstm_equivalence_test.cpp: the fused LSTM computes what the composed one computes.
//
// On random sizes and options (float64): output, h_n, c_n and the gradient of every input agree
// to 1e-10. In float32 at a size where the CPU recurrence splits rows over threads and runs the
// cell in SIMD: agreement to float rounding. Also a retain_graph double backward through the
// fused node (its saved gates must survive) and the persistent option. The CPU cell against the
// scalar math: tests/tensor/lstm_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/nn/lstm_test_util.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::Variable;
using loom::nn::LstmImpl;
using loom::nn::testing::LstmCase;

// Composed against fused (tests/nn/lstm_test_util.h: output, h_n, c_n, every input's gradient).
void expect_same(const LstmCase& c, DType dtype, double tol, uint64_t seed) {
  loom::nn::testing::expect_impls_agree(c, LstmImpl::Composed, LstmImpl::Fused, dtype, tol, seed);
}

TEST(LstmEquivalence, ComposedAndFusedAgreeInFloat64OnRandomSizes) {
  std::mt19937 rng(2024);
  for (int k = 0; k < 12; ++k)
    expect_same(loom::nn::testing::random_case(rng, 7, 5, 6, 6, 3), DType::Float64, 1e-10, 100 + k);
}

TEST(LstmEquivalence, AgreeUnderRecurrentDropout) {
  std::mt19937 rng(7);
  for (int k = 0; k < 6; ++k) {
    LstmCase c = loom::nn::testing::random_case(rng, 6, 5, 4, 5, 2);
    c.recurrent_dropout = 0.3;
    expect_same(c, DType::Float64, 1e-10, 500 + k);
  }
}

TEST(LstmEquivalence, AgreeInFloat32WhereTheRecurrenceIsThreadedAndVectorised) {
  LstmCase c;
  c.T = 5, c.B = 70, c.in = 24, c.H = 64;  // T*B*4H*H ~ 5.7M: rows split over threads
  c.bidirectional = true;
  c.with_state = true;
  expect_same(c, DType::Float32, 2e-5, 9);
}

TEST(LstmEquivalence, FusedBackwardTwiceWithRetainGraphDoublesTheGradients) {
  LstmCase c;
  c.T = 4;
  const std::vector<Tensor> inputs = loom::nn::testing::make_inputs(c, DType::Float64, 5);
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t, true);
  const Variable y = loom::nn::testing::run_packed(c, LstmImpl::Fused, vars);
  const Tensor u = loom::ones(y.shape(), DType::Float64);
  y.backward(u, /*retain_graph=*/true);
  const std::vector<double> once = vars[1].grad().to_vector<double>();
  y.backward(u);
  const std::vector<double> twice = vars[1].grad().to_vector<double>();
  for (size_t i = 0; i < once.size(); ++i)
    EXPECT_NEAR(twice[i], 2 * once[i], 1e-12);
}

// LSTMOptions::persistent asks a GPU for the one-kernel recurrence; on the CPU the recurrence is
// always one loop, so the option changes nothing (on a GPU: tests/cuda/).
TEST(LstmEquivalence, ThePersistentOptionComputesTheSameFunction) {
  loom::Generator gen(12);
  loom::nn::LSTM lstm(loom::nn::LSTMOptions(5, 6).num_layers(2).bidirectional(true), gen);
  const Variable x(loom::uniform({4, 3, 5}, -1, 1, gen, DType::Float32));
  const loom::nn::LstmOutput f = lstm.forward_full(x);
  lstm.set_persistent(true);
  EXPECT_TRUE(lstm.options().persistent());
  const loom::nn::LstmOutput p = lstm.forward_full(x);
  EXPECT_EQ(loom::nn::testing::max_abs_diff(p.output.data(), f.output.data()), 0.0);
  EXPECT_EQ(loom::nn::testing::max_abs_diff(p.c_n.data(), f.c_n.data()), 0.0);
}

}  // namespace
