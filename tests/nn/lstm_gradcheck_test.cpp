// tests/nn/lstm_gradcheck_test.cpp: both LSTM implementations pass gradcheck (lab 04).
//
// Tiny float64 cases (T=3, B=2, in=3, H=2 and a few variations): 1 and 2 layers, one and two
// directions, with and without h0/c0, batch_first both ways, and recurrent dropout (fixed masks).
// gradcheck (autograd/gradcheck.h) compares the backward of every input (x, h0, c0 and every weight
// and bias) with central differences of a random projection of concat(output, h_n, c_n), so the
// gradients reaching the LSTM through h_n and c_n are checked as well as those through the output
// sequence.
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "tests/nn/lstm_test_util.h"

namespace {

using loom::nn::LstmImpl;
using loom::nn::testing::LstmCase;

std::vector<LstmCase> cases() {
  std::vector<LstmCase> v;
  for (int layers : {1, 2})
    for (bool bidir : {false, true})
      for (bool bf : {false, true})
        for (bool state : {false, true}) {
          LstmCase c;
          c.layers = layers;
          c.bidirectional = bidir;
          c.batch_first = bf;
          c.with_state = state;
          v.push_back(c);
        }
  LstmCase one_step;  // T = 1: no recurrent GEMM in backward, h0 is the only h_{t-1}
  one_step.T = 1;
  one_step.with_state = true;
  v.push_back(one_step);
  for (bool bidir : {false, true}) {  // recurrent dropout: one mask per sequence on h_{t-1}
    LstmCase d;
    d.T = 4, d.B = 3, d.H = 3;
    d.bidirectional = bidir;
    d.with_state = true;
    d.layers = bidir ? 2 : 1;
    d.recurrent_dropout = 0.5;
    v.push_back(d);
  }
  return v;
}

class LstmGradcheck : public ::testing::TestWithParam<std::tuple<LstmCase, LstmImpl>> {};

TEST_P(LstmGradcheck, MatchesFiniteDifferences) {
  const auto& [c, impl] = GetParam();
  const std::vector<loom::Tensor> inputs =
      loom::nn::testing::make_inputs(c, loom::DType::Float64, 7);
  loom::GradcheckOptions opt;
  opt.seed = 3;
  EXPECT_GRADCHECK(
      [c = c, impl = impl](const std::vector<loom::Variable>& in) {
        return loom::nn::testing::run_packed(c, impl, in);
      },
      inputs, opt);
}

INSTANTIATE_TEST_SUITE_P(Lab04, LstmGradcheck,
                         ::testing::Combine(::testing::ValuesIn(cases()),
                                            ::testing::Values(LstmImpl::Composed, LstmImpl::Fused)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name() +
                                  (std::get<1>(info.param) == LstmImpl::Fused ? "_fused"
                                                                              : "_composed");
                         });

}  // namespace
