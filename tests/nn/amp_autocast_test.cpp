// tests/nn/amp_autocast_test.cpp: AutocastGuard and the autocast matmul (lab 07).
//
// Tolerances. float16 has an 11-bit significand, so rounding to nearest has relative error at
// most u = 2^-11 ~ 4.9e-4. The autocast matmul y = f32(h(a) @ h(b)) differs from the float32
// product a @ b by:  rounding a and b (each term a_ik b_kj off by <= (2u + u^2)|a_ik||b_kj|), the
// float32 accumulation (<= k 2^-24 sum |a||b|, the same order as the float32 reference's own),
// and one rounding of the result (<= u |y|). So, elementwise,
//   |y16 - y32| <= (2u + u^2 + 2k 2^-24) (|a| @ |b|) + u |y32|.
// The backward GEMMs add the rounding of the incoming gradient: a third u on the |.| term.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "autograd/functions.h"
#include "nn/amp/autocast.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "tensor/ops.h"
#include "tests/nn/amp_test_util.h"

namespace loom::nn::amp {
namespace {

constexpr double kU = 1.0 / 2048;  // 2^-11, float16's unit roundoff

using testing::expect_within;
using testing::max_abs_diff;

TEST(AmpAutocast, GuardScopesNestsAndIsPerThread) {
  EXPECT_FALSE(autocast_enabled());
  {
    AutocastGuard on;
    EXPECT_TRUE(autocast_enabled());
    EXPECT_EQ(autocast_dtype(), DType::Float16);
    {
      AutocastGuard off(DType::Float16, /*enabled=*/false);  // e.g. a numerically touchy block
      EXPECT_FALSE(autocast_enabled());
    }
    EXPECT_TRUE(autocast_enabled());
    bool other_thread = true;
    std::thread([&] { other_thread = autocast_enabled(); }).join();
    EXPECT_FALSE(other_thread);
  }
  EXPECT_FALSE(autocast_enabled());
  EXPECT_THROW(AutocastGuard(DType::Float32), Error);
  EXPECT_THROW(AutocastGuard(DType::Int64), Error);
}

TEST(AmpAutocast, MatmulRunsInFloat16WithFloat32AccumulationAndReturnsFloat32) {
  Generator gen(1);
  const int64_t k = 64;
  const Tensor a = randn({9, k}, gen), b = randn({k, 5}, gen);
  const Variable va(a, true), vb(b, true);
  Variable y;
  {
    AutocastGuard autocast;
    y = matmul(va, vb);
  }
  const Tensor y32 = matmul(a, b);
  EXPECT_EQ(y.dtype(), DType::Float32);
  // Exactly the float16 product (float accumulation, one rounding), widened:
  const Tensor y16 = matmul(a.to(DType::Float16), b.to(DType::Float16)).to(DType::Float32);
  EXPECT_EQ(max_abs_diff(y.data(), y16), 0.0);
  // ... which is not the float32 product (so something did run in float16) ...
  EXPECT_GT(max_abs_diff(y.data(), y32), 0.0);
  // ... but within the bound of the file header.
  const Tensor abs_prod = matmul(abs(a), abs(b));
  const double c = 2 * kU + kU * kU + 2.0 * k / (1 << 24);
  expect_within(y.data(), y32, abs_prod * c + abs(y32) * kU, "forward");

  // Backward: float32 gradients for float32 inputs, each within the bound with the extra
  // rounding of the upstream gradient (3u on the |.| term).
  const Tensor u = randn({9, 5}, gen);
  y.backward(u);
  EXPECT_EQ(va.grad().dtype(), DType::Float32);
  EXPECT_EQ(vb.grad().dtype(), DType::Float32);
  const Tensor ga32 = matmul(u, b.t()), gb32 = matmul(a.t(), u);
  const double c3 = 3 * kU + 3 * kU * kU + 2.0 * k / (1 << 24);
  expect_within(va.grad(), ga32, matmul(abs(u), abs(b).t()) * c3 + abs(ga32) * kU, "da");
  expect_within(vb.grad(), gb32, matmul(abs(a).t(), abs(u)) * c3 + abs(gb32) * kU, "db");
}

TEST(AmpAutocast, BatchedMatmulSumsBroadcastGradientsInFloat32) {
  Generator gen(2);
  const Tensor x = randn({3, 4, 6}, gen), w = randn({6, 2}, gen);
  const Variable vx(x, true), vw(w, true);
  {
    AutocastGuard autocast;
    sum(matmul(vx, vw)).backward();
  }
  ASSERT_EQ(vw.grad().shape(), (Shape{6, 2}));
  EXPECT_EQ(vw.grad().dtype(), DType::Float32);
  // dL/dw = sum over the 12 rows of x, each column: x rounded to fp16 (u), times 1 (exact),
  // per-batch GEMM results rounded to fp16 (u), summed in float32.
  const Tensor want = sum(x.reshape({12, 6}), 0).unsqueeze(1).expand({6, 2});
  const Tensor bound = sum(abs(x).reshape({12, 6}), 0).unsqueeze(1).expand({6, 2}) * (3 * kU);
  expect_within(vw.grad(), want, bound, "dw");
}

TEST(AmpAutocast, LeavesFloat64AndDisabledMatmulsAlone) {
  Generator gen(3);
  const Tensor a = randn({4, 5}, gen, DType::Float64), b = randn({5, 3}, gen, DType::Float64);
  const Tensor a32 = a.to(DType::Float32), b32 = b.to(DType::Float32);
  AutocastGuard autocast;
  const Variable y64 = matmul(Variable(a), Variable(b));
  EXPECT_EQ(y64.dtype(), DType::Float64);
  EXPECT_EQ(max_abs_diff(y64.data(), matmul(a, b)), 0.0);
  AutocastGuard off(DType::Float16, false);
  EXPECT_EQ(max_abs_diff(matmul(Variable(a32), Variable(b32)).data(), matmul(a32, b32)), 0.0);
}

// The float16 copy of a weight is made once per region: Linear multiplies by transpose(weight),
// a view of the parameter, and both uses below share one cached copy. Activations are not
// cached. Leaving the outermost region clears the cache, so the next step sees updated weights.
TEST(AmpAutocast, WeightsAreCastOncePerRegionAndRecastNextStep) {
  Generator gen(4);
  Linear fc(LinearOptions(8, 4).bias(false), gen);
  const Tensor x = randn({2, 8}, gen);
  {
    AutocastGuard autocast;
    const Variable y1 = fc.forward(Variable(x));
    EXPECT_EQ(cast_cache_size(), 1u);
    const Variable y2 = fc.forward(Variable(x));
    EXPECT_EQ(cast_cache_size(), 1u);  // reused, not a second copy
    EXPECT_EQ(max_abs_diff(y1.data(), y2.data()), 0.0);
    matmul(Variable(x), Variable(x.t().contiguous()));  // activations: not cached
    EXPECT_EQ(cast_cache_size(), 1u);
    const Tensor direct = cast_once(fc.weight);  // the parameter itself: a second entry
    EXPECT_EQ(direct.dtype(), DType::Float16);
    EXPECT_EQ(cast_cache_size(), 2u);
    EXPECT_EQ(cast_once(fc.weight).raw_data(), direct.raw_data());
  }
  EXPECT_EQ(cast_cache_size(), 0u);

  // An optimizer-like in-place update between regions: the next region uses the new weights.
  fc.weight.data().fill_(0.5);
  AutocastGuard autocast;
  const Variable y = fc.forward(Variable(x));
  const Tensor want = matmul(x.to(DType::Float16), full({8, 4}, 0.5, DType::Float16));
  EXPECT_EQ(max_abs_diff(y.data(), want), 0.0);
  // set_data() inside a region (a new buffer) also invalidates the cached copy.
  fc.weight.set_data(full({4, 8}, 0.25));
  const Variable z = fc.forward(Variable(x));
  const Tensor want_z = matmul(x.to(DType::Float16), full({8, 4}, 0.25, DType::Float16));
  EXPECT_EQ(max_abs_diff(z.data(), want_z), 0.0);
}

TEST(AmpAutocast, GradientsThroughALinearLayerAreFloat32ForFloat32Parameters) {
  Generator gen(5);
  Linear fc(LinearOptions(6, 3), gen);
  const Tensor x = randn({5, 6}, gen);
  Variable loss;
  {
    AutocastGuard autocast;
    loss = sum(fc.forward(Variable(x)));
  }
  EXPECT_EQ(loss.dtype(), DType::Float32);
  loss.backward();
  EXPECT_EQ(fc.weight.grad().dtype(), DType::Float32);
  EXPECT_EQ(fc.bias.grad().dtype(), DType::Float32);
  // dL/dW[j, :] = sum_i x[i, :] for every output j (x rounded to fp16, GEMM rounding): 3u.
  const Tensor want = sum(x, 0).unsqueeze(0).expand({3, 6});
  expect_within(fc.weight.grad(), want, sum(abs(x), 0).unsqueeze(0).expand({3, 6}) * (3 * kU),
                "dW");
  EXPECT_EQ(fc.bias.grad().to_vector<float>(), (std::vector<float>{5, 5, 5}));  // float32 path
}

// The composed LSTM under autocast: its two gate GEMMs per step run in float16 with the weights
// cast once per region (2 cache entries however long the sequence), while c_t, the gates'
// nonlinearities and h_t stay float32. The fused LSTM under autocast runs its own float16
// GEMMs (nn/lstm_fused.cpp, tensor/lstm.h; bounds in tests/nn/amp_lstm_fused_test.cpp): float32
// out, a float16-sized difference from its float32 result, the same 2 cache entries.
TEST(AmpAutocast, ComposedLstmGateGemmsRunInFloat16WithFloat32CellState) {
  Generator gen(8);
  LSTM composed(LSTMOptions(6, 5).impl(LstmImpl::Composed), gen);
  const Variable x(randn({7, 3, 6}, gen));  // T = 7, B = 3
  const LstmOutput ref = composed.forward_full(x);
  LstmOutput y;
  {
    AutocastGuard autocast;
    y = composed.forward_full(x);
    EXPECT_EQ(cast_cache_size(), 2u);  // transpose(w_ih), transpose(w_hh): once for 7 steps
  }
  EXPECT_EQ(y.output.dtype(), DType::Float32);
  EXPECT_EQ(y.c_n.dtype(), DType::Float32);
  // Gate pre-activations carry ~u relative error (|x|, |W| = O(1), 6 + 5 terms); sigmoid and
  // tanh have slopes <= 1 and c_t adds at most T such errors, damped by f < 1: a few 1e-3 at
  // most. 5e-3 is the bound; a float32 run would differ by ~1e-7, a wrong gate by O(0.1).
  const double diff = max_abs_diff(y.output.data(), ref.output.data());
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 5e-3);
  EXPECT_LT(max_abs_diff(y.c_n.data(), ref.c_n.data()), 5e-3);
  sum(y.output).backward();
  for (const Variable& p : composed.parameters())
    EXPECT_EQ(p.grad().dtype(), DType::Float32);

  Generator gen2(8);
  LSTM fused(LSTMOptions(6, 5).impl(LstmImpl::Fused), gen2);
  const LstmOutput fref = fused.forward_full(x);
  AutocastGuard autocast;
  const LstmOutput fy = fused.forward_full(x);
  EXPECT_EQ(cast_cache_size(), 2u);  // w_ih, w_hh themselves (the fused path casts no views)
  EXPECT_EQ(fy.output.dtype(), DType::Float32);
  const double fdiff = max_abs_diff(fy.output.data(), fref.output.data());
  EXPECT_GT(fdiff, 0.0);
  EXPECT_LT(fdiff, 5e-3);
}

// matmul_mixed (tensor/ops.h): float16 operands, float32 accumulation and output. The widened
// product is exact, so the only difference from a float32 GEMM on the same (float16) values is
// summation order: relative 1e-6 is ~ 8 float32 roundings of 5-term sums, far below float16's
// 4.9e-4.
TEST(AmpAutocast, MatmulMixedMultipliesFloat16InputsIntoFloat32) {
  Generator gen(6);
  const Tensor a = randn({3, 5}, gen).to(DType::Float16);
  const Tensor bt = randn({4, 5}, gen).to(DType::Float16);  // read transposed, in place
  const Tensor c = matmul_mixed(a, bt.t());
  EXPECT_EQ(c.dtype(), DType::Float32);
  const Tensor want = matmul(a.to(DType::Float32), bt.to(DType::Float32).t());
  expect_within(c, want, abs(want) * 1e-6 + 1e-7, "C");

  // The sum is never rounded to float16: 1 + 2^-11 is not a float16 value but survives.
  const Tensor row = tensor({1.0, 1.0 / 2048}, {1, 2}, DType::Float16);
  const Tensor col = ones({2, 1}, DType::Float16);
  EXPECT_EQ(matmul_mixed(row, col).item<double>(), 1.0 + 1.0 / 2048);
  EXPECT_THROW(matmul_mixed(row.to(DType::Float32), col.to(DType::Float32)), Error);
}

}  // namespace
}  // namespace loom::nn::amp
