// tests/nn/optim_test.cpp: SGD (plain, momentum, Nesterov), Adam, Adam with L2, AdamW and
// clip_grad_norm_ against torch.optim (golden optim.safetensors, 1e-5 in float32); the fused
// CPU Adam loop against the tensor-op version; optimizer state_dict round trip.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/sgd.h"
#include "nn_test_util.h"

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
