// tests/nn/amp_autocast_bf16_test.cpp: autocast with bfloat16 (lab 07): the matmul, a Linear
// layer, the composed LSTM, and why bf16 needs no loss scaling.
//
// Tolerances. bfloat16 keeps 8 significand bits (7 stored), so rounding to nearest has relative
// error at most u = 2^-8. The argument of amp_autocast_test.cpp carries over with this u: the
// autocast matmul y = f32(b(a) @ b(b)) differs from the float32 product by rounding a and b
// ((2u + u^2)|a||b| per term), the float32 accumulation (<= k 2^-24 sum |a||b| per pair of
// products VDPBF16PS adds, so 2k 2^-24 covers it) and one rounding of the result (u |y|):
//   |y_bf16 - y32| <= (2u + u^2 + 2k 2^-24) (|a| @ |b|) + u |y32|,
// and the backward GEMMs add the rounding of the incoming gradient (3u on the |.| term).
// Subnormals play no part: bfloat16's smallest normal is float32's, 2^-126.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "nn/amp/autocast.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "tensor/ops.h"
#include "tests/nn/amp_test_util.h"

namespace loom::nn::amp {
namespace {

constexpr double kU = 1.0 / 256;  // 2^-8, bfloat16's unit roundoff
constexpr DType kBf16 = DType::BFloat16, kF32 = DType::Float32;

using testing::expect_within;
using testing::max_abs_diff;

TEST(AmpAutocastBf16, GuardTakesBfloat16AndRestoresFloat16) {
  AutocastGuard fp16;
  EXPECT_EQ(autocast_dtype(), DType::Float16);
  {
    AutocastGuard bf16(kBf16);
    EXPECT_TRUE(autocast_enabled());
    EXPECT_EQ(autocast_dtype(), kBf16);
  }
  EXPECT_EQ(autocast_dtype(), DType::Float16);
}

TEST(AmpAutocastBf16, MatmulRunsInBfloat16WithFloat32AccumulationAndReturnsFloat32) {
  Generator gen(21);
  const int64_t k = 64;
  const Tensor a = randn({9, k}, gen), b = randn({k, 5}, gen);
  const Variable va(a, true), vb(b, true);
  Variable y;
  {
    AutocastGuard autocast(kBf16);
    y = matmul(va, vb);
  }
  EXPECT_EQ(y.dtype(), kF32);
  // Exactly the bfloat16 product, widened (not the float16 one: a different rounding).
  const Tensor yb = matmul(a.to(kBf16), b.to(kBf16)).to(kF32);
  EXPECT_EQ(max_abs_diff(y.data(), yb), 0.0);
  const Tensor y32 = matmul(a, b);
  EXPECT_GT(max_abs_diff(y.data(), y32), 0.0);
  const Tensor abs_prod = matmul(abs(a), abs(b));
  const double c = 2 * kU + kU * kU + 2.0 * k / (1 << 24);
  expect_within(y.data(), y32, abs_prod * c + abs(y32) * kU, "forward");

  const Tensor g = randn({9, 5}, gen);
  y.backward(g);
  EXPECT_EQ(va.grad().dtype(), kF32);
  EXPECT_EQ(vb.grad().dtype(), kF32);
  const Tensor ga32 = matmul(g, b.t()), gb32 = matmul(a.t(), g);
  const double c3 = 3 * kU + 3 * kU * kU + 2.0 * k / (1 << 24);
  expect_within(va.grad(), ga32, matmul(abs(g), abs(b).t()) * c3 + abs(ga32) * kU, "da");
  expect_within(vb.grad(), gb32, matmul(abs(a).t(), abs(g)) * c3 + abs(gb32) * kU, "db");
}

// Why bf16 needs no GradScaler: a gradient of 1e-30 passes through the bfloat16 backward GEMMs
// (bfloat16's range is float32's) while float16 flushes it to zero (its smallest subnormal is
// 2^-24 ~ 6e-8). Both runs see the same tiny upstream gradient.
TEST(AmpAutocastBf16, TinyGradientsSurviveWithoutLossScaling) {
  Generator gen(22);
  const Tensor a = randn({4, 8}, gen), b = randn({8, 3}, gen);
  const Tensor tiny = full({4, 3}, 1e-30);  // the upstream gradient
  auto grad_of_b = [&](DType low) {
    const Variable va(a, false), vb(b, true);
    Variable y;
    {
      nn::amp::AutocastGuard autocast(low);
      y = matmul(va, vb);
    }
    y.backward(tiny);
    return vb.grad();
  };
  EXPECT_EQ(max(abs(grad_of_b(DType::Float16))).item<double>(), 0.0);   // flushed to zero
  EXPECT_GT(max(abs(grad_of_b(DType::BFloat16))).item<double>(), 0.0);  // still there
  // ... and within the bound of the file header, like any other bf16 backward GEMM (k = 4).
  const Tensor want = matmul(a.t(), tiny);
  const double c3 = 3 * kU + 3 * kU * kU + 2.0 * 4 / (1 << 24);
  expect_within(grad_of_b(kBf16), want, matmul(abs(a).t(), abs(tiny)) * c3 + abs(want) * kU,
                "db at 1e-30");
}

// A Linear layer: the weight's bfloat16 copy is cached once per region (the view transpose(W)
// Linear multiplies by), the bias add and the output stay float32, the gradients are float32.
TEST(AmpAutocastBf16, LinearCachesABfloat16WeightAndKeepsFloat32Gradients) {
  Generator gen(23);
  Linear fc(LinearOptions(6, 3), gen);
  const Tensor x = randn({5, 6}, gen);
  Variable loss;
  {
    AutocastGuard autocast(kBf16);
    const Variable y = fc.forward(Variable(x));
    EXPECT_EQ(y.dtype(), kF32);
    EXPECT_EQ(cast_cache_size(), 1u);
    EXPECT_EQ(cast_once(fc.weight, kBf16).dtype(), kBf16);
    loss = sum(y);
  }
  EXPECT_EQ(cast_cache_size(), 0u);
  loss.backward();
  EXPECT_EQ(fc.weight.grad().dtype(), kF32);
  // dL/dW[j, :] = sum_i x[i, :]: x rounded to bf16, the GEMM's result rounded: 3u per term.
  const Tensor want = sum(x, 0).unsqueeze(0).expand({3, 6});
  expect_within(fc.weight.grad(), want, sum(abs(x), 0).unsqueeze(0).expand({3, 6}) * (3 * kU),
                "dW");
  EXPECT_EQ(fc.bias.grad().to_vector<float>(), (std::vector<float>{5, 5, 5}));  // float32 path
}

// The composed LSTM under bfloat16 autocast: gate GEMMs in bf16 (weights cast once for all T
// steps), c_t, the nonlinearities and h_t in float32. Bound: the float16 test's 5e-3 scaled by
// the ratio of unit roundoffs (2^-8 / 2^-11 = 8): 4e-2; a float32 run differs by ~1e-7, a wrong
// gate by O(0.1)..O(1) in some element of 7 x 3 x 5.
TEST(AmpAutocastBf16, ComposedLstmGateGemmsRunInBfloat16WithFloat32CellState) {
  Generator gen(24);
  LSTM composed(LSTMOptions(6, 5).impl(LstmImpl::Composed), gen);
  const Variable x(randn({7, 3, 6}, gen));
  const LstmOutput ref = composed.forward_full(x);
  LstmOutput y;
  {
    AutocastGuard autocast(kBf16);
    y = composed.forward_full(x);
    EXPECT_EQ(cast_cache_size(), 2u);
  }
  EXPECT_EQ(y.output.dtype(), kF32);
  EXPECT_EQ(y.c_n.dtype(), kF32);
  const double diff = max_abs_diff(y.output.data(), ref.output.data());
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 4e-2);
  EXPECT_LT(max_abs_diff(y.c_n.data(), ref.c_n.data()), 4e-2);
  sum(y.output).backward();
  for (const Variable& p : composed.parameters())
    EXPECT_EQ(p.grad().dtype(), kF32);
}

}  // namespace
}  // namespace loom::nn::amp
