// tests/nn/lstm_equivalence_test.cpp: the fused LSTM computes what the composed one computes.
//
// On random sizes and options (float64): output, h_n, c_n and the gradient of every input agree
// to 1e-10. In float32 at a size where the CPU pointwise loop runs on several threads and in
// SIMD: agreement to float rounding. Also: the backend's pointwise kernels (vectorised, built
// with -ffast-math) against the scalar double math of tensor/kernels/lstm_pointwise.h, and a
// retain_graph double backward through the fused node (its saved gates must survive).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tensor/kernels/lstm_pointwise.h"
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

TEST(LstmEquivalence, AgreeInFloat32WhereThePointwiseLoopIsThreadedAndVectorised) {
  LstmCase c;
  c.T = 5, c.B = 70, c.in = 24, c.H = 64;  // B*H >= 4096: the threaded path; H % 8 != tail
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

// The backend's vectorised loops against the scalar header math in double, element by element.
TEST(LstmPointwiseBackend, CpuKernelsMatchTheScalarMath) {
  const int64_t B = 70, H = 67;  // threaded, and H not a multiple of the SIMD width
  loom::Generator g(11);
  const Tensor pre = loom::uniform({B, 4 * H}, -4, 4, g, DType::Float64);
  const Tensor c_prev = loom::uniform({B, H}, -2, 2, g, DType::Float64);
  const Tensor dh = loom::uniform({B, H}, -1, 1, g, DType::Float64);
  const Tensor dc_next = loom::uniform({B, H}, -1, 1, g, DType::Float64);
  loom::Backend& be = loom::backend_for(loom::kCPU);
  const Tensor act = pre.clone(), c = loom::empty({B, H}, DType::Float64),
               tc = loom::empty({B, H}, DType::Float64), h = loom::empty({B, H}, DType::Float64);
  be.lstm_pointwise_forward(act.raw_data(), c_prev.raw_data(), c.raw_data(), tc.raw_data(),
                            h.raw_data(), DType::Float64, B, H);
  const Tensor dpre = loom::empty({B, 4 * H}, DType::Float64), dc = dc_next.clone();
  be.lstm_pointwise_backward(dh.raw_data(), dc.raw_data(), act.raw_data(), dpre.raw_data(),
                             c_prev.raw_data(), tc.raw_data(), DType::Float64, B, H);
  const double* P = pre.data_ptr<double>();
  const double* A = act.data_ptr<double>();
  const double* DP = dpre.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const double* p = P + b * 4 * H + j;
      const auto f = loom::kernels::lstm_pointwise_forward<double>(
          {p[0], p[H], p[2 * H], p[3 * H]}, c_prev.data_ptr<double>()[b * H + j]);
      const double* a = A + b * 4 * H + j;
      ASSERT_NEAR(a[0], f.act.i, 1e-13);
      ASSERT_NEAR(a[H], f.act.f, 1e-13);
      ASSERT_NEAR(a[2 * H], f.act.g, 1e-13);
      ASSERT_NEAR(a[3 * H], f.act.o, 1e-13);
      ASSERT_NEAR(c.data_ptr<double>()[b * H + j], f.c, 1e-13);
      ASSERT_NEAR(h.data_ptr<double>()[b * H + j], f.h, 1e-13);
      const auto r = loom::kernels::lstm_pointwise_backward<double>(
          dh.data_ptr<double>()[b * H + j], dc_next.data_ptr<double>()[b * H + j], f.act,
          c_prev.data_ptr<double>()[b * H + j], f.tanh_c);
      const double* d = DP + b * 4 * H + j;
      ASSERT_NEAR(d[0], r.d_pre.i, 1e-13);
      ASSERT_NEAR(d[H], r.d_pre.f, 1e-13);
      ASSERT_NEAR(d[2 * H], r.d_pre.g, 1e-13);
      ASSERT_NEAR(d[3 * H], r.d_pre.o, 1e-13);
      ASSERT_NEAR(dc.data_ptr<double>()[b * H + j], r.dc_prev, 1e-13);
    }
  }
}

TEST(LstmPointwiseBackend, RejectsUnsupportedDtypes) {
  loom::Backend& be = loom::backend_for(loom::kCPU);
  const Tensor g = loom::zeros({1, 4}, DType::Int32), s = loom::zeros({1, 1}, DType::Int32);
  EXPECT_THROW(be.lstm_pointwise_forward(g.raw_data(), s.raw_data(), s.raw_data(), s.raw_data(),
                                         s.raw_data(), DType::Int32, 1, 1),
               loom::Error);
}

}  // namespace
