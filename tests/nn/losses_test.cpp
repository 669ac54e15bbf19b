// tests/nn/losses_test.cpp: every loss against PyTorch's values and gradients (golden
// losses.safetensors, mean and sum), gradchecks in float64 for every reduction, stability at
// extreme logits, and the errors for bad targets.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/losses.h"
#include "nn_test_util.h"

using namespace loom;
using namespace loom::nn;
using loom::nn::testing::all_close;
using loom::nn::testing::Golden;

namespace {
using LossFn = std::function<Variable(const Variable&, const Tensor&, Reduction)>;

struct Case {
  const char* name;
  LossFn fn;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all{{"bce_with_logits", bce_with_logits},
                                     {"bce", binary_cross_entropy},
                                     {"bce_edge", binary_cross_entropy},
                                     {"cross_entropy", cross_entropy},
                                     {"mse", mse_loss}};
  return all;
}
}  // namespace

TEST(Losses, MatchPyTorchGolden) {
  const Golden g("losses");
  for (const Case& c : cases()) {
    for (const auto& [red, tag] : {std::pair{Reduction::Mean, "mean"}, {Reduction::Sum, "sum"}}) {
      const std::string n = c.name;
      SCOPED_TRACE(n + " " + tag);
      const Variable x(g[n + ".input"], true);
      const Variable loss = c.fn(x, g[n + ".target"], red);
      // bce_edge's gradients reach 2.5e11: compare relatively.
      EXPECT_TRUE(all_close(loss.data(), g[n + "." + tag], 1e-5, 1e-5));
      loss.backward();
      EXPECT_TRUE(all_close(x.grad(), g[n + ".grad_" + tag], 1e-5, 1e-5));
    }
  }
}

TEST(Losses, GradcheckEveryReduction) {
  Generator gen(30);
  const Tensor logits = randn({3, 4}, gen, DType::Float64);
  const Tensor soft = rand({3, 4}, gen, DType::Float64);
  const Tensor probs = add(mul(rand({3, 4}, gen, DType::Float64), 0.8), 0.1);
  const Tensor classes = from_vector<int64_t>({2, 0, 3}, {3});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(
        [&](const std::vector<Variable>& in) { return bce_with_logits(in[0], soft, r); }, {logits});
    EXPECT_GRADCHECK(
        [&](const std::vector<Variable>& in) { return binary_cross_entropy(in[0], soft, r); },
        {probs});
    EXPECT_GRADCHECK(
        [&](const std::vector<Variable>& in) { return cross_entropy(in[0], classes, r); },
        {logits});
    EXPECT_GRADCHECK([&](const std::vector<Variable>& in) { return mse_loss(in[0], soft, r); },
                     {logits});
  }
}

TEST(Losses, NoneKeepsShape) {
  const Tensor x = zeros({2, 3});
  EXPECT_EQ(bce_with_logits(Variable(x), zeros({2, 3}), Reduction::None).shape(), (Shape{2, 3}));
  EXPECT_EQ(cross_entropy(Variable(x), from_vector<int64_t>({0, 2}, {2}), Reduction::None).shape(),
            (Shape{2}));
  EXPECT_EQ(mse_loss(Variable(x), zeros({2, 3})).shape(), (Shape{}));
}

TEST(Losses, BceWithLogitsIsStableAtHugeLogits) {
  const Variable x(tensor({-1000.0, 1000.0, -1000.0, 1000.0}, {4}), true);
  const Tensor y = tensor({1.0, 0.0, 0.0, 1.0}, {4});
  const Variable l = bce_with_logits(x, y, Reduction::None);
  EXPECT_TRUE(all_close(l.data(), tensor({1000.0, 1000.0, 0.0, 0.0}, {4}), 1e-3, 0));
  sum(l).backward();
  EXPECT_TRUE(all_close(x.grad(), tensor({-1.0, 1.0, 0.0, 0.0}, {4}), 1e-6, 0));
}

TEST(Losses, BadTargetsThrow) {
  const Variable x(zeros({2, 3}));
  EXPECT_THROW(bce_with_logits(x, zeros({3, 2})), Error);                    // shape
  EXPECT_THROW(mse_loss(x, zeros({2, 3}, DType::Float64)), Error);           // dtype
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({0, 3}, {2})), Error);  // class 3 of 3
  EXPECT_THROW(cross_entropy(x, zeros({2})), Error);                         // float targets
  EXPECT_THROW(binary_cross_entropy(Variable(full({2}, 1.5)), zeros({2})), Error);
}
