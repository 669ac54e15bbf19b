// tests/nn/optim_test.cpp: SGD (plain, momentum, Nesterov), Adam, Adam with L2, AdamW and
// clip_grad_norm_ against torch.optim (golden optim.safetensors, 1e-5 in float32); the fused
// Adam step (adam_step_, tensor/adam.h) against the tensor-op version over many steps; the step
// count kept on the device and the found_inf flag (a skipped step changes nothing, counts
// included); step_if_finite; optimizer state_dict round trips.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <limits>
#include <memory>

#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/sgd.h"
#include "nn_test_util.h"
#include "tensor/adam.h"
#include "tensor/ops.h"

using namespace loom;
using namespace loom::nn;
using namespace loom::nn::optim;
using loom::nn::testing::all_close;
using loom::nn::testing::Golden;

namespace {
using MakeOpt = std::function<std::unique_ptr<Optimizer>(const Variable&)>;

// Runs three steps with the fixture's gradients and compares each result with "<tag>.stepN".
void expect_matches_torch(const std::string& tag, const MakeOpt& make) {
  SCOPED_TRACE(tag);
  const Golden g("optim");
  const Variable p(g["param.init"].clone(), true);
  const auto opt = make(p);
  for (int s = 1; s <= 3; ++s) {
    p.set_grad(g["grad.step" + std::to_string(s)]);
    opt->step();
    EXPECT_TRUE(all_close(p.data(), g[tag + ".step" + std::to_string(s)])) << "step " << s;
  }
}
}  // namespace

TEST(SGD, MatchesTorch) {
  expect_matches_torch("sgd", [](const Variable& p) {
    return std::make_unique<SGD>(std::vector<Variable>{p}, SGDOptions(0.1));
  });
  expect_matches_torch("sgd_momentum", [](const Variable& p) {
    return std::make_unique<SGD>(std::vector<Variable>{p},
                                 SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  });
  expect_matches_torch("sgd_nesterov", [](const Variable& p) {
    return std::make_unique<SGD>(std::vector<Variable>{p},
                                 SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
  });
  EXPECT_THROW(SGD(std::vector<Variable>{}, SGDOptions(0.1).nesterov(true)), Error);
}

TEST(Adam, MatchesTorch) {
  for (bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "fused" : "tensor ops");
    expect_matches_torch("adam", [&](const Variable& p) {
      return std::make_unique<Adam>(std::vector<Variable>{p}, AdamOptions(0.01).fused(fused));
    });
    expect_matches_torch("adam_l2", [&](const Variable& p) {
      return std::make_unique<Adam>(std::vector<Variable>{p},
                                    AdamOptions(0.01).weight_decay(0.1).fused(fused));
    });
    expect_matches_torch("adamw", [&](const Variable& p) {
      return std::make_unique<AdamW>(std::vector<Variable>{p},
                                     AdamWOptions(0.01).weight_decay(0.1).fused(fused));
    });
  }
}

TEST(Adam, DefaultsArePyTorchs) {
  const AdamOptions a;
  EXPECT_EQ(a.lr_, 1e-3);
  EXPECT_EQ(a.beta1_, 0.9);
  EXPECT_EQ(a.beta2_, 0.999);
  EXPECT_EQ(a.eps_, 1e-8);
  EXPECT_EQ(a.weight_decay_, 0);
  EXPECT_EQ(AdamWOptions().weight_decay_, 1e-2);
}

TEST(Adam, FusedLoopEqualsTensorOpsInFloat64) {
  Generator gen(40);
  const Tensor init = randn({5, 7}, gen, DType::Float64);
  const Variable a(init.clone(), true), b(init.clone(), true);
  AdamW fa(std::vector<Variable>{a}, AdamWOptions(0.05).fused(true));
  AdamW fb(std::vector<Variable>{b}, AdamWOptions(0.05).fused(false));
  for (int s = 0; s < 5; ++s) {
    const Tensor grad = randn({5, 7}, gen, DType::Float64);
    a.set_grad(grad);
    b.set_grad(grad.clone());
    fa.step();
    fb.step();
  }
  EXPECT_TRUE(all_close(a.data(), b.data(), 1e-14, 1e-12));
}

TEST(Optimizer, SkipsParametersWithoutGradAndZeroGrad) {
  const Variable p(ones({2}), true), q(ones({2}), true);
  Adam opt(std::vector<Variable>{p, q}, AdamOptions(0.1));
  p.set_grad(ones({2}));
  opt.step();
  EXPECT_LT(p.data().to_vector<float>()[0], 1.0f);
  EXPECT_EQ(q.data().to_vector<float>()[0], 1.0f);  // no grad: untouched
  const StateDict st = opt.state_dict();
  EXPECT_NE(find_tensor(st, "0.exp_avg"), nullptr);
  EXPECT_EQ(find_tensor(st, "1.step"), nullptr);
  opt.zero_grad();
  EXPECT_EQ(p.grad().to_vector<float>()[0], 0.0f);
  opt.zero_grad(true);
  EXPECT_FALSE(p.grad().defined());
}

// Stepping 2 + 2 with a state_dict round trip in between equals stepping 4.
TEST(Optimizer, StateDictResumeEqualsContinuousRun) {
  Generator gen(41);
  const Tensor init = randn({3, 2}, gen);
  std::vector<Tensor> grads;
  for (int s = 0; s < 4; ++s)
    grads.push_back(randn({3, 2}, gen));
  const NamedParameters none;
  const Variable a(init.clone(), true);
  Adam full_run(NamedParameters{{"w", a}}, AdamOptions(0.01));
  for (const Tensor& gr : grads) {
    a.set_grad(gr);
    full_run.step();
  }
  const Variable b(init.clone(), true);
  StateDict saved;
  {
    Adam first(NamedParameters{{"w", b}}, AdamOptions(0.01));
    for (int s = 0; s < 2; ++s) {
      b.set_grad(grads[s]);
      first.step();
    }
    for (const auto& [n, t] : first.state_dict())
      saved.emplace_back(n, t.clone());
  }
  Adam second(NamedParameters{{"w", b}}, AdamOptions(0.01));
  second.load_state_dict(saved);
  for (int s = 2; s < 4; ++s) {
    b.set_grad(grads[s]);
    second.step();
  }
  EXPECT_TRUE(all_close(a.data(), b.data(), 0, 0));
  // Unknown names and wrong shapes are errors naming the tensor.
  StateDict bad = saved;
  bad.emplace_back("v.exp_avg", zeros({3, 2}));
  EXPECT_THROW(second.load_state_dict(bad), Error);
  StateDict wrong = saved;
  for (auto& [n, t] : wrong)
    if (n == "w.exp_avg") t = zeros({2, 3});
  EXPECT_THROW(second.load_state_dict(wrong), Error);
}

TEST(ClipGradNorm, MatchesTorch) {
  const Golden g("optim");
  for (const auto& [tag, max_norm] : {std::pair{"clipped", 1.0}, {"unclipped", 100.0}}) {
    SCOPED_TRACE(tag);
    const Variable a(zeros({3}), true), b(zeros({2, 2}), true), none(zeros({2}), true);
    a.set_grad(g["clip.grad_a"].clone());
    b.set_grad(g["clip.grad_b"].clone());
    const double total = clip_grad_norm_({a, b, none}, max_norm);
    const std::string t = tag;
    EXPECT_NEAR(total, g["clip." + t + ".total_norm"].item<double>(), 1e-5);
    EXPECT_TRUE(all_close(a.grad(), g["clip." + t + ".grad_a"]));
    EXPECT_TRUE(all_close(b.grad(), g["clip." + t + ".grad_b"]));
  }
}

// ---- the fused step: adam_step_, the step count on the device, found_inf ----------------------

namespace {

// Parameters of odd sizes (1 element, a few, just past a multiple of 1024, several thousand).
const std::vector<int64_t> kSizes = {1, 3, 1025, 7001};

// The state of parameter `name` in `opt`: "<name>.exp_avg" etc. as tensors.
Tensor state_of(const Optimizer& opt, const std::string& key) {
  const StateDict st = opt.state_dict();
  const Tensor* t = find_tensor(st, key);
  return t ? *t : Tensor();
}

// Steps a fused and a tensor-op optimizer side by side for `steps` steps with the same random
// gradients (parameter 1 gets none every third step, so the step counts differ per parameter)
// and compares parameters, both moments and step counts after every step.
void expect_fused_equals_tensor_ops(DType dt, bool adamw, double weight_decay, double rtol,
                                    double atol) {
  SCOPED_TRACE(std::string(adamw ? "AdamW" : "Adam") + " " + dtype_name(dt) + " wd " +
               std::to_string(weight_decay));
  Generator gen(60);
  std::vector<Variable> a, b;
  for (int64_t n : kSizes) {
    const Tensor init = randn({n}, gen, dt);
    a.emplace_back(init.clone(), true);
    b.emplace_back(init.clone(), true);
  }
  AdamOptions o = adamw ? AdamWOptions(0.02) : AdamOptions(0.02);
  o.weight_decay(weight_decay).betas(0.8, 0.95);  // short memories: the corrections matter
  auto make = [&](const std::vector<Variable>& ps, bool fused) -> std::unique_ptr<Adam> {
    AdamOptions f = o;
    f.fused(fused);
    if (adamw) return std::make_unique<AdamW>(ps, f);
    return std::make_unique<Adam>(ps, f);
  };
  const auto fused = make(a, true), ref = make(b, false);
  for (int s = 0; s < 25; ++s) {
    for (std::size_t i = 0; i < kSizes.size(); ++i) {
      if (i == 1 && s % 3 == 2) {
        a[i].set_grad(Tensor());
        b[i].set_grad(Tensor());
        continue;
      }
      const Tensor g = randn({kSizes[i]}, gen, dt);
      a[i].set_grad(g);
      b[i].set_grad(g.clone());
    }
    fused->step();
    ref->step();
    for (std::size_t i = 0; i < kSizes.size(); ++i) {
      const std::string n = std::to_string(i);
      ASSERT_TRUE(all_close(a[i].data(), b[i].data(), atol, rtol))
          << "param " << i << " step " << s;
      ASSERT_TRUE(
          all_close(state_of(*fused, n + ".exp_avg"), state_of(*ref, n + ".exp_avg"), atol, rtol))
          << "exp_avg " << i << " step " << s;
      ASSERT_TRUE(all_close(state_of(*fused, n + ".exp_avg_sq"), state_of(*ref, n + ".exp_avg_sq"),
                            atol, rtol))
          << "exp_avg_sq " << i << " step " << s;
      ASSERT_EQ(state_of(*fused, n + ".step").item<int64_t>(),
                state_of(*ref, n + ".step").item<int64_t>());
    }
  }
  EXPECT_EQ(state_of(*fused, "0.step").item<int64_t>(), 25);
  EXPECT_EQ(state_of(*fused, "1.step").item<int64_t>(), 25 - 8);  // no grad at s = 2, 5, ..., 23
}

// One parameter of the fused step, with its buffers as tensors (CPU).
struct RawParam {
  Tensor p, g, m, v, step;
  RawParam(int64_t n, Generator& gen, int64_t step0)
      : p(randn({n}, gen)),
        g(randn({n}, gen)),
        m(uniform({n}, -0.1, 0.1, gen)),
        v(uniform({n}, 0, 0.1, gen)),
        step(scalar_tensor(static_cast<double>(step0), DType::Int64)) {}
  RawParam clone() const {
    RawParam r = *this;
    r.p = p.clone();
    r.g = g.clone();
    r.m = m.clone();
    r.v = v.clone();
    r.step = step.clone();
    return r;
  }
  AdamTensors arg() const { return {p, g, m, v, step}; }
};

// Bitwise equality of two CPU tensors.
bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.numel() * dtype_size(a.dtype())) == 0;
}

}  // namespace

TEST(AdamFused, EqualsTensorOpsOverManyStepsInFloat64) {
  for (bool adamw : {false, true})
    for (double wd : {0.0, 0.1})
      expect_fused_equals_tensor_ops(DType::Float64, adamw, wd, 1e-12, 1e-14);
}

// float32: the two paths round differently (the fused loop computes step_size * m / denom,
// the tensor ops (m / denom) * step_size, each op rounding to float), a few ulps per step.
TEST(AdamFused, EqualsTensorOpsOverManyStepsInFloat32) {
  for (bool adamw : {false, true})
    for (double wd : {0.0, 0.1})
      expect_fused_equals_tensor_ops(DType::Float32, adamw, wd, 1e-6, 1e-7);
}

TEST(AdamFused, TheStepReadsAndAdvancesTheStepCount) {
  Generator gen(61);
  AdamHyper h;
  h.lr = 0.1;
  const RawParam fresh(5, gen, 0), later(5, gen, 9);
  RawParam a = fresh.clone(), b = later.clone();
  adam_step_({a.arg(), b.arg()}, h);
  EXPECT_EQ(a.step.item<int64_t>(), 1);
  EXPECT_EQ(b.step.item<int64_t>(), 10);
  // b was at step 9: its update must use t = 10 in the bias corrections (formula in adam.h).
  const double t = 10, b1 = h.beta1, b2 = h.beta2;
  const std::vector<double> p0 = later.p.to_vector<double>(), g = later.g.to_vector<double>(),
                            m0 = later.m.to_vector<double>(), v0 = later.v.to_vector<double>(),
                            p1 = b.p.to_vector<double>();
  for (int i = 0; i < 5; ++i) {
    const double m = b1 * m0[i] + (1 - b1) * g[i], v = b2 * v0[i] + (1 - b2) * g[i] * g[i];
    const double want = p0[i] - h.lr / (1 - std::pow(b1, t)) * m /
                                    (std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + h.eps);
    EXPECT_NEAR(p1[i], want, 1e-6 * (1 + std::abs(want))) << i;
  }
}

TEST(AdamFused, ASetFoundInfFlagLeavesEverythingUntouched) {
  Generator gen(62);
  AdamHyper h;
  h.weight_decay = 0.01;
  h.decoupled = true;
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    RawParam a(1025, gen, 4);
    for (Tensor* t : {&a.p, &a.g, &a.m, &a.v})
      *t = t->to(dt);
    const RawParam before = a.clone();
    adam_step_({a.arg()}, h, full({1}, 1.0));
    EXPECT_TRUE(same_bytes(a.p, before.p));
    EXPECT_TRUE(same_bytes(a.m, before.m));
    EXPECT_TRUE(same_bytes(a.v, before.v));
    EXPECT_TRUE(same_bytes(a.g, before.g));
    EXPECT_EQ(a.step.item<int64_t>(), 4);  // a skipped step does not count
    // A NaN flag is "set" too (nonzero); a clean flag runs exactly like no flag.
    adam_step_({a.arg()}, h, full({1}, std::numeric_limits<double>::quiet_NaN()));
    EXPECT_EQ(a.step.item<int64_t>(), 4);
    RawParam c = before.clone();
    adam_step_({a.arg()}, h, zeros({1}));
    adam_step_({c.arg()}, h);
    EXPECT_EQ(a.step.item<int64_t>(), 5);
    EXPECT_TRUE(same_bytes(a.p, c.p));
    EXPECT_TRUE(same_bytes(a.m, c.m));
    EXPECT_TRUE(same_bytes(a.v, c.v));
    EXPECT_FALSE(same_bytes(a.p, before.p));
  }
}

TEST(AdamFused, TheStepRefusesBadArgumentsWhateverTheFlag) {
  Generator gen(63);
  const AdamHyper h;
  const RawParam a(4, gen, 0);
  const Tensor overflow = full({1}, 1.0);
  AdamTensors bad = a.arg();
  bad.param = a.p.to(DType::Float16);
  EXPECT_THROW(adam_step_({bad}, h), Error);
  bad = a.arg();
  bad.step = Tensor();
  EXPECT_THROW(adam_step_({bad}, h, overflow), Error);
  bad = a.arg();
  bad.grad = randn({5}, gen);
  EXPECT_THROW(adam_step_({bad}, h, overflow), Error);
  bad = a.arg();
  bad.grad = randn({8}, gen).slice(0, 0, 8, 2);  // strided
  EXPECT_THROW(adam_step_({bad}, h), Error);
  EXPECT_THROW(adam_step_({a.arg(), a.arg()}, h), Error);  // the same tensor twice
  EXPECT_THROW(adam_step_({a.arg()}, h, full({1}, 1.0, DType::Float64)), Error);
  // An empty parameter still counts its step (like PyTorch's loop over params).
  const Tensor none = empty({0});
  const Tensor step = scalar_tensor(2, DType::Int64);
  adam_step_({{none, empty({0}), empty({0}), empty({0}), step}}, h);
  EXPECT_EQ(step.item<int64_t>(), 3);
}

TEST(AdamFused, StepIfFiniteSkipsOnTheFlagAndOthersDecline) {
  Generator gen(64);
  const Tensor w0 = randn({3, 4}, gen), b0 = randn({4}, gen);
  const Tensor gw = randn({3, 4}, gen), gb = randn({4}, gen);
  const Variable w(w0.clone(), true), b(b0.clone(), true);
  AdamW opt(NamedParameters{{"w", w}, {"b", b}}, AdamWOptions(0.1));
  w.set_grad(gw);
  b.set_grad(gb);
  Tensor found_inf = full({1}, 1.0);
  EXPECT_TRUE(opt.step_if_finite(found_inf));  // handed over, and skipped on the flag
  EXPECT_TRUE(same_bytes(w.data(), w0));
  EXPECT_TRUE(same_bytes(b.data(), b0));
  EXPECT_EQ(state_of(opt, "w.step").item<int64_t>(), 0);  // state exists, no step counted
  EXPECT_EQ(sum(abs(state_of(opt, "w.exp_avg"))).item<double>(), 0.0);

  found_inf.fill_(0.0);
  EXPECT_TRUE(opt.step_if_finite(found_inf));
  const Variable w2(w0.clone(), true), b2(b0.clone(), true);
  AdamW plain(NamedParameters{{"w", w2}, {"b", b2}}, AdamWOptions(0.1));
  w2.set_grad(gw);
  b2.set_grad(gb);
  plain.step();
  EXPECT_TRUE(same_bytes(w.data(), w2.data()));
  EXPECT_TRUE(same_bytes(b.data(), b2.data()));
  EXPECT_EQ(state_of(opt, "w.step").item<int64_t>(), 1);

  // Optimizers that cannot decide on the device decline and change nothing.
  SGD sgd(std::vector<Variable>{w2}, SGDOptions(0.1));
  EXPECT_FALSE(sgd.step_if_finite(found_inf));
  Adam ops(std::vector<Variable>{w2}, AdamOptions(0.1).fused(false));
  EXPECT_FALSE(ops.step_if_finite(found_inf));
  const Variable half(zeros({4}, DType::Float16), true);
  half.set_grad(ones({4}, DType::Float16));
  Adam with_half(std::vector<Variable>{w2, half}, AdamOptions(0.1));
  EXPECT_FALSE(with_half.step_if_finite(found_inf));  // float16 takes the tensor-op path
  EXPECT_TRUE(same_bytes(w2.data(), w.data()));
  EXPECT_TRUE(with_half.state_dict().empty());
  // The flag must be one float32.
  EXPECT_THROW(opt.step_if_finite(zeros({2})), Error);
  EXPECT_THROW(opt.step_if_finite(zeros({1}, DType::Int64)), Error);
}

// A skipped step is not counted, and the count survives a state_dict round trip: steps
// [run, skip, run | save, load | run, run] equal the same sequence without the round trip, and
// the saved ".step" is a 0-d Int64 equal to the steps that ran.
TEST(AdamFused, StepCountSurvivesACheckpointAndSkipsDoNotCount) {
  Generator gen(65);
  const Tensor init = randn({5, 3}, gen);
  std::vector<Tensor> grads;
  for (int s = 0; s < 5; ++s)
    grads.push_back(randn({5, 3}, gen));
  const Tensor clean = zeros({1}), overflow = full({1}, 1.0);
  const std::vector<bool> skip = {false, true, false, false, false};
  auto run = [&](Adam& opt, const Variable& p, int from, int to) {
    for (int s = from; s < to; ++s) {
      p.set_grad(grads[s]);
      EXPECT_TRUE(opt.step_if_finite(skip[s] ? overflow : clean));
    }
  };
  const Variable a(init.clone(), true);
  Adam continuous(NamedParameters{{"w", a}}, AdamOptions(0.05));
  run(continuous, a, 0, 5);
  EXPECT_EQ(state_of(continuous, "w.step").item<int64_t>(), 4);

  const Variable b(init.clone(), true);
  StateDict saved;
  {
    Adam first(NamedParameters{{"w", b}}, AdamOptions(0.05));
    run(first, b, 0, 3);
    for (const auto& [n, t] : first.state_dict())
      saved.emplace_back(n, t.clone());
  }
  const Tensor* step = find_tensor(saved, "w.step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->dtype(), DType::Int64);
  EXPECT_EQ(step->dim(), 0);
  EXPECT_EQ(step->item<int64_t>(), 2);
  Adam second(NamedParameters{{"w", b}}, AdamOptions(0.05));
  second.load_state_dict(saved);
  run(second, b, 3, 5);
  EXPECT_TRUE(same_bytes(a.data(), b.data()));
  EXPECT_EQ(state_of(second, "w.step").item<int64_t>(), 4);
}

TEST(AdamFused, TheSameTensorTwiceIsAnError) {
  const Variable p(ones({2}), true);
  EXPECT_THROW(Adam(NamedParameters{{"a", p}, {"b", p}}), Error);
}
