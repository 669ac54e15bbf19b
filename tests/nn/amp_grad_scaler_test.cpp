// tests/nn/amp_grad_scaler_test.cpp: GradScaler (nn/amp/grad_scaler.h) and the CPU backend's
// two scaler kernels (tensor/cpu/cpu_amp.cpp), lab 07.
//
// Covers: unscale_ divides every gradient in one pass; a forced overflow (inf or NaN) skips
// the step and halves the scale; growth after growth_interval clean steps and the reset of
// that count by an overflow; a scaled run without overflow matches an unscaled float32 run;
// small gradients that flush to zero in float16 without scaling survive with it; the two
// collapse aborts; the state round trip; misuse errors; the disabled pass-through; step() with
// fused Adam deciding on the device (no host read of the flag) equals the host-read path.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "autograd/functions.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "nn/optim/sgd.h"
#include "tensor/ops.h"

namespace loom::nn::amp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A parameter [n] whose gradient is set directly to `grad` (as if a backward had run).
Variable param_with_grad(const std::vector<double>& grad) {
  Variable p(zeros({static_cast<int64_t>(grad.size())}), true);
  p.set_grad(tensor(grad, {static_cast<int64_t>(grad.size())}));
  return p;
}

// One scaler iteration over hand-set gradients; returns whether the step ran.
bool iterate(GradScaler& scaler, const std::vector<Variable>& params) {
  scaler.scale(Variable(scalar_tensor(1.0)));  // creates the state on the first call
  scaler.unscale_(params);
  const bool stepped = scaler.step([] {});
  scaler.update();
  return stepped;
}

bool iterate_clean(GradScaler& scaler) {
  return iterate(scaler, {param_with_grad({1.0, 2.0})});
}
bool iterate_overflow(GradScaler& scaler) {
  return iterate(scaler, {param_with_grad({1.0, kInf})});
}

TEST(AmpGradScaler, ScaleMultipliesTheLossAndUnscaleDividesEveryGradient) {
  GradScaler scaler(GradScalerOptions().init_scale(1024));
  const Variable loss(scalar_tensor(0.75), true);
  const Variable scaled = scaler.scale(loss);
  EXPECT_DOUBLE_EQ(scaled.item<double>(), 0.75 * 1024);
  scaled.backward();
  EXPECT_DOUBLE_EQ(loss.grad().item<double>(), 1024.0);  // backward carries the scale

  // Three buffers, two dtypes: the float32 pair is one kernel call, the float64 one another.
  Variable a = param_with_grad({1024.0, -2048.0, 512.0});
  Variable b(zeros({2, 2}), true);
  b.set_grad(tensor({3072, 0, -1024, 4096}, {2, 2}));
  Variable c(zeros({2}, DType::Float64), true);
  c.set_grad(tensor({1024, 10240}, {2}, DType::Float64));
  Variable no_grad(zeros({3}), true);      // no .grad: skipped
  scaler.unscale_({a, b, no_grad, c, a});  // a twice (tied weights): unscaled once
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{1, -2, 0.5}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{3, 0, -1, 4}));
  EXPECT_EQ(c.grad().to_vector<double>(), (std::vector<double>{1, 10}));
  EXPECT_FALSE(scaler.found_inf());
  EXPECT_FALSE(no_grad.grad().defined());
}

TEST(AmpGradScaler, ForcedOverflowSkipsTheStepAndHalvesTheScale) {
  GradScaler scaler;  // 2^16
  int steps = 0;
  Variable clean = param_with_grad({1, 2});
  Variable bad = param_with_grad({3, kInf});
  scaler.scale(Variable(scalar_tensor(1.0)));
  scaler.unscale_({clean, bad});
  EXPECT_TRUE(scaler.found_inf());
  EXPECT_FALSE(scaler.step([&] { ++steps; }));
  scaler.update();
  EXPECT_EQ(steps, 0);
  EXPECT_EQ(scaler.scale_value(), 32768.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_EQ(scaler.consecutive_skips(), 1);

  // NaN counts as overflow too; a clean iteration then steps and keeps the scale.
  EXPECT_FALSE(iterate(scaler, {param_with_grad({std::nan("")})}));
  EXPECT_EQ(scaler.scale_value(), 16384.0);
  EXPECT_EQ(scaler.consecutive_skips(), 2);
  scaler.scale(Variable(scalar_tensor(1.0)));
  scaler.unscale_({param_with_grad({1, 2})});
  EXPECT_TRUE(scaler.step([&] { ++steps; }));
  scaler.update();
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(scaler.scale_value(), 16384.0);
  EXPECT_EQ(scaler.skipped_steps(), 2);
  EXPECT_EQ(scaler.consecutive_skips(), 0);
}

TEST(AmpGradScaler, GrowsAfterTheIntervalAndAnOverflowResetsTheCount) {
  GradScaler scaler(GradScalerOptions().init_scale(8).growth_interval(3));
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_EQ(scaler.scale_value(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 2);
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_EQ(scaler.scale_value(), 16.0);  // third clean step in a row: doubled
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_FALSE(iterate_overflow(scaler));  // 2 clean, then overflow: back to 8, count reset
  EXPECT_EQ(scaler.scale_value(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_EQ(scaler.scale_value(), 8.0);  // only 2 since the overflow
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_EQ(scaler.scale_value(), 16.0);
}

// A tiny regression trained twice from the same initial weights: plain float32 SGD, and float32
// SGD through an (enabled) scaler. Multiplying by 2^16 and by 2^-16 is exact in binary floating
// point as long as nothing overflows or becomes subnormal, so the runs agree to rounding (in
// practice bit for bit); the tolerance only allows for that.
TEST(AmpGradScaler, ARunWithoutOverflowMatchesUnscaledFloat32) {
  Generator gen(7);
  const Tensor x = randn({16, 5}, gen);
  const Tensor y = randn({16, 2}, gen);
  auto train = [&](bool with_scaler) {
    Generator init(3);
    Linear model(LinearOptions(5, 2), init);
    optim::SGD opt(model.named_parameters(), optim::SGDOptions(0.1).momentum(0.9));
    GradScaler scaler(GradScalerOptions().enabled(with_scaler).growth_interval(4));
    for (int it = 0; it < 30; ++it) {
      opt.zero_grad();
      const Variable loss = mse_loss(model.forward(Variable(x)), y);
      scaler.scale(loss).backward();
      EXPECT_TRUE(scaler.step(opt));
      scaler.update();
    }
    if (with_scaler) {
      EXPECT_EQ(scaler.skipped_steps(), 0);
      EXPECT_GT(scaler.scale_value(), 65536.0);  // grew (interval 4) without overflowing
    }
    return std::make_pair(model.weight.data().to_vector<float>(),
                          model.bias.data().to_vector<float>());
  };
  const auto plain = train(false), scaled = train(true);
  for (std::size_t i = 0; i < plain.first.size(); ++i)
    EXPECT_NEAR(scaled.first[i], plain.first[i], 1e-6 * (1 + std::fabs(plain.first[i]))) << i;
  for (std::size_t i = 0; i < plain.second.size(); ++i)
    EXPECT_NEAR(scaled.second[i], plain.second[i], 1e-6 * (1 + std::fabs(plain.second[i]))) << i;
}

// float16's smallest subnormal is 2^-24 ~ 5.96e-8, so 1e-8 rounds to 0. Under autocast the
// backward GEMM of y = x @ w runs in float16 with the incoming gradient cast to float16: a
// gradient of 1e-8 per output element vanishes, and w.grad is exactly zero. Scaled by 2^16 it
// is 6.6e-4 (a normal float16), the GEMM keeps it, and unscaling in float32 gives back ~1e-8.
TEST(AmpGradScaler, SmallGradientsFlushToZeroInFloat16WithoutScalingAndSurviveWithIt) {
  EXPECT_EQ(scalar_tensor(1e-8).to(DType::Float16).item<double>(), 0.0);
  EXPECT_GT(scalar_tensor(1e-8 * 65536).to(DType::Float16).item<double>(), 0.0);

  Generator gen(11);
  const Tensor x = uniform({4, 8}, 0.5, 1.5, gen);
  auto grad_of_w = [&](GradScaler* scaler) {
    Variable w(uniform({8, 3}, -1, 1, gen), true);
    Variable loss;
    {
      AutocastGuard autocast;
      loss = mul(sum(matmul(Variable(x), w)), 1e-8);  // dL/dy = 1e-8 everywhere
    }
    if (scaler) {
      scaler->scale(loss).backward();
      scaler->unscale_({w});
    } else {
      loss.backward();
    }
    return w.grad().to_vector<double>();
  };
  const std::vector<double> unscaled = grad_of_w(nullptr);
  for (double g : unscaled)
    EXPECT_EQ(g, 0.0);
  GradScaler scaler;
  const std::vector<double> scaled = grad_of_w(&scaler);
  EXPECT_FALSE(scaler.found_inf());
  // Expected dL/dw[k, j] = 1e-8 * sum_i x[i, k]. Error: x rounded to fp16 (2^-11 relative),
  // the scaled gradient 1e-8 * 2^16 rounded to fp16 (2^-11), the GEMM result rounded (2^-11):
  // 3 * 2^-11 ~ 1.5e-3 relative; 2e-3 leaves room for the float32 sums.
  const std::vector<double> xv = x.to_vector<double>();
  for (int k = 0; k < 8; ++k) {
    double col = 0;
    for (int i = 0; i < 4; ++i)
      col += xv[i * 8 + k];
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(scaled[k * 3 + j], 1e-8 * col, 2e-3 * 1e-8 * col) << k << "," << j;
  }
}

TEST(AmpGradScaler, AbortsWhenTheScaleFallsBelowMinScale) {
  GradScaler scaler(GradScalerOptions().init_scale(4).min_scale(1));
  EXPECT_FALSE(iterate_overflow(scaler));  // 2
  EXPECT_FALSE(iterate_overflow(scaler));  // 1: not below 1 yet
  try {
    iterate_overflow(scaler);  // 0.5
    FAIL() << "expected loom::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("loss scale collapsed"), std::string::npos) << msg;
    EXPECT_NE(msg.find("below min_scale"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 steps skipped"), std::string::npos) << msg;
  }
}

TEST(AmpGradScaler, AbortsAfterTooManyConsecutiveSkips) {
  GradScaler scaler(GradScalerOptions().max_consecutive_skips(5));
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(iterate_overflow(scaler));
  EXPECT_TRUE(iterate_clean(scaler));  // a clean step resets the streak
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(iterate_overflow(scaler));
  try {
    iterate_overflow(scaler);
    FAIL() << "expected loom::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("5 steps in a row were skipped"), std::string::npos) << msg;
  }
}

// With check_interval > 1 the host looks less often, but the device-side flag is sticky: a
// collapse that a later clean step "hides" is still reported at the next check.
TEST(AmpGradScaler, ASparseCollapseCheckStillCatchesACollapse) {
  GradScaler scaler(GradScalerOptions().max_consecutive_skips(2).check_interval(4));
  EXPECT_FALSE(iterate_overflow(scaler));
  EXPECT_FALSE(iterate_overflow(scaler));  // collapsed here, not checked yet
  EXPECT_TRUE(iterate_clean(scaler));
  EXPECT_THROW(iterate_clean(scaler), Error);  // 4th update: checked
}

TEST(AmpGradScaler, StateRoundTripsThroughAStateDict) {
  GradScaler a(GradScalerOptions().init_scale(256).growth_interval(3));
  iterate_clean(a);
  iterate_overflow(a);
  iterate_clean(a);
  iterate_clean(a);
  const std::map<std::string, Tensor> state = a.state_dict();
  ASSERT_EQ(state.size(), 4u);
  EXPECT_EQ(state.at("scale").item<double>(), 128.0);
  EXPECT_EQ(state.at("growth_tracker").item<int64_t>(), 2);
  EXPECT_EQ(state.at("skipped_steps").item<int64_t>(), 1);
  EXPECT_EQ(state.at("consecutive_skips").item<int64_t>(), 0);
  EXPECT_EQ(state.at("growth_tracker").dtype(), DType::Int64);

  GradScaler b(GradScalerOptions().init_scale(256).growth_interval(3));
  b.load_state_dict(state);
  EXPECT_EQ(b.scale_value(), 128.0);
  EXPECT_EQ(b.growth_tracker(), 2);
  EXPECT_EQ(b.skipped_steps(), 1);
  // Both continue identically: the next clean step completes the interval in each.
  iterate_clean(a);
  iterate_clean(b);
  EXPECT_EQ(a.scale_value(), 256.0);
  EXPECT_EQ(b.scale_value(), 256.0);

  std::map<std::string, Tensor> broken = state;
  broken.erase("skipped_steps");
  EXPECT_THROW(b.load_state_dict(broken), Error);
  broken = state;
  broken["scale"] = zeros({2});
  EXPECT_THROW(b.load_state_dict(broken), Error);
}

TEST(AmpGradScaler, StepWithAnOptimizerUnscalesItsParametersFirst) {
  Variable w(ones({2}), true);
  optim::SGD opt(std::vector<Variable>{w}, optim::SGDOptions(0.5));
  GradScaler scaler(GradScalerOptions().init_scale(4));
  scaler.scale(sum(mul(w, 2.0))).backward();  // dL/dw = 2, scaled: 8
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{8, 8}));
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{2, 2}));
  EXPECT_EQ(w.data().to_vector<float>(), (std::vector<float>{0, 0}));  // 1 - 0.5 * 2
}

TEST(AmpGradScaler, MisuseThrowsClearErrors) {
  GradScaler scaler;
  Variable p = param_with_grad({1});
  EXPECT_THROW(scaler.unscale_({p}), Error);  // gradients but no scale() yet
  scaler.scale(Variable(scalar_tensor(1.0)));
  EXPECT_THROW(scaler.step([] {}), Error);  // step(fn) needs unscale_ first
  EXPECT_THROW(scaler.update(), Error);     // nothing to update from
  scaler.unscale_({p});
  EXPECT_THROW(scaler.unscale_({p}), Error);  // twice in one iteration
  scaler.step([] {});
  EXPECT_THROW(scaler.step([] {}), Error);  // twice in one iteration
  scaler.update();

  Variable half(zeros({2}, DType::Float16), true);
  half.set_grad(ones({2}, DType::Float16));
  EXPECT_THROW(scaler.unscale_({half}), Error);  // master gradients must be float32

  EXPECT_THROW(GradScaler(GradScalerOptions().backoff_factor(1.5)), Error);
  EXPECT_THROW(GradScaler(GradScalerOptions().growth_factor(1.0)), Error);
  EXPECT_THROW(GradScaler(GradScalerOptions().growth_interval(0)), Error);
  EXPECT_THROW(GradScaler(GradScalerOptions().init_scale(0)), Error);
}

TEST(AmpGradScaler, DisabledIsAPassThrough) {
  GradScaler scaler(GradScalerOptions().enabled(false));
  const Variable loss(scalar_tensor(3.0), true);
  EXPECT_EQ(scaler.scale(loss).item<double>(), 3.0);
  Variable p = param_with_grad({kInf});
  scaler.unscale_({p});
  int steps = 0;
  EXPECT_TRUE(scaler.step([&] { ++steps; }));
  scaler.update();
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(scaler.scale_value(), 1.0);
  EXPECT_TRUE(std::isinf(p.grad().item<double>()));  // untouched
}

// Adam that declines the device flag: GradScaler then reads found_inf on the host and calls
// step() or not (the path every optimizer took before step_if_finite existed).
class HostReadAdam : public optim::Adam {
 public:
  using optim::Adam::Adam;
  bool step_if_finite(const Tensor&) override { return false; }
};

// A Linear regression trained through a scaler with Adam, with inf injected into one gradient
// at iterations 3 and 7 (after backward, as an fp16 overflow would leave it). Returns the
// weights, the scaler's skipped count and scale, Adam's step count, and what step() returned.
struct ScaledRun {
  std::vector<float> weight, bias;
  int64_t skipped = 0, adam_steps = 0;
  double scale = 0;
  std::vector<bool> returned;
};
template <typename Opt>
ScaledRun scaled_adam_run(const optim::AdamOptions& options) {
  Generator gen(21);
  const Tensor x = randn({8, 5}, gen), y = randn({8, 2}, gen);
  Generator init(5);
  Linear model(LinearOptions(5, 2), init);
  Opt opt(model.named_parameters(), options);
  GradScaler scaler(GradScalerOptions().init_scale(1024).growth_interval(3));
  ScaledRun out;
  for (int it = 0; it < 12; ++it) {
    opt.zero_grad();
    scaler.scale(mse_loss(model.forward(Variable(x)), y)).backward();
    if (it == 3 || it == 7) model.bias.grad().narrow(0, 1, 1).fill_(kInf);
    out.returned.push_back(scaler.step(opt));
    scaler.update();
  }
  out.weight = model.weight.data().to_vector<float>();
  out.bias = model.bias.data().to_vector<float>();
  out.skipped = scaler.skipped_steps();
  out.scale = scaler.scale_value();
  out.adam_steps = find_tensor(opt.state_dict(), "weight.step")->template item<int64_t>();
  return out;
}

TEST(AmpGradScaler, StepWithFusedAdamDecidesOnTheDeviceAndEqualsTheHostReadPath) {
  const optim::AdamOptions o = optim::AdamOptions(0.05).weight_decay(0.01);
  const ScaledRun device = scaled_adam_run<optim::Adam>(o);
  const ScaledRun host = scaled_adam_run<HostReadAdam>(o);
  // The same kernel ran on the same numbers; only who decided to skip differs: bitwise equal.
  EXPECT_EQ(device.weight, host.weight);
  EXPECT_EQ(device.bias, host.bias);
  // Skipped steps are counted on the device either way, and Adam's own count excludes them.
  EXPECT_EQ(device.skipped, 2);
  EXPECT_EQ(host.skipped, 2);
  EXPECT_EQ(device.scale, host.scale);
  EXPECT_EQ(device.adam_steps, 10);
  EXPECT_EQ(host.adam_steps, 10);
  // What step() can say: the host-read path knows which steps it skipped; the device path
  // handed every step over without reading the flag.
  for (int it = 0; it < 12; ++it) {
    EXPECT_TRUE(device.returned[it]) << it;
    EXPECT_EQ(host.returned[it], it != 3 && it != 7) << it;
  }
  // And the tensor-op Adam (which declines the flag too) agrees to float32 rounding.
  const ScaledRun ops = scaled_adam_run<optim::Adam>(optim::AdamOptions(o).fused(false));
  EXPECT_EQ(ops.adam_steps, 10);
  for (std::size_t i = 0; i < device.weight.size(); ++i)
    EXPECT_NEAR(device.weight[i], ops.weight[i], 1e-6 * (1 + std::fabs(ops.weight[i]))) << i;
  for (std::size_t i = 0; i < device.bias.size(); ++i)
    EXPECT_NEAR(device.bias[i], ops.bias[i], 1e-6 * (1 + std::fabs(ops.bias[i]))) << i;
}

// The kernels on their own: found_inf is OR-ed across calls (only ever set, never cleared),
// float16 buffers work (computed in float), and growth stops at float32's top.
TEST(AmpBackendKernels, UnscaleAndCheckOrsTheFlagAndHandlesFloat16) {
  Backend& be = backend_for(kCPU);
  const Tensor h = tensor({2, -4, 65504}, {3}, DType::Float16);
  const Tensor f = tensor({8, 16}, {2});
  void* ptrs[] = {h.raw_data()};
  const int64_t counts[] = {3};
  const float inv = 0.5f;
  float found = 0.0f;
  be.amp_unscale_and_check(ptrs, counts, 1, DType::Float16, &inv, &found);
  EXPECT_EQ(h.to_vector<double>(), (std::vector<double>{1, -2, 32752}));
  EXPECT_EQ(found, 0.0f);
  found = 1.0f;  // set by an earlier call: a clean buffer must not clear it
  void* fptrs[] = {f.raw_data()};
  const int64_t fcounts[] = {2};
  be.amp_unscale_and_check(fptrs, fcounts, 1, DType::Float32, &inv, &found);
  EXPECT_EQ(found, 1.0f);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{4, 8}));
  EXPECT_THROW(be.amp_unscale_and_check(fptrs, fcounts, 1, DType::Int64, &inv, &found), Error);

  float scale = 3e38f;
  int64_t counters[Backend::kAmpNumCounters] = {0, 0, 0, 0};
  const float clean = 0.0f;
  Backend::AmpScaleUpdate args;
  args.growth_interval = 1;
  be.amp_update_scale(&scale, counters, &clean, args);
  EXPECT_EQ(scale, 3e38f);  // 6e38 is not a float32: the scale stays
  EXPECT_EQ(counters[Backend::kAmpGrowthTracker], 0);
}

}  // namespace
}  // namespace loom::nn::amp
