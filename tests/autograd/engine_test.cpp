// tests/autograd/engine_test.cpp: backward, accumulation, no-grad, detach, retain_graph and
// the error messages of the engine.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tests/common/error_of.h"

using namespace loom;

using loom::test::error_of;

TEST(Engine, MulThenBackward) {
  Variable a(tensor({1, 2, 3}, {3}), true);
  Variable b(tensor({4, 5, 6}, {3}), true);
  Variable c = a * b;
  EXPECT_FALSE(c.is_leaf());
  EXPECT_EQ(c.grad_fn()->name(), "MulBackward");
  sum(c).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{4, 5, 6}));  // dc/da = b
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{1, 2, 3}));  // dc/db = a
}

TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
  Variable x(tensor({2}, {1}), true);
  sum(x * x).backward();  // d/dx x^2 = 2x = 4
  sum(x * x).backward();  // accumulates: 8
  EXPECT_EQ(x.grad().item<float>(), 8);
  x.zero_grad();
  EXPECT_EQ(x.grad().item<float>(), 0);
  sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().item<float>(), 3);
}

TEST(Engine, DiamondSumsBothPaths) {
  // y = x*x + x*3: two paths from x; dy/dx = 2x + 3.
  Variable x(tensor({1, -2}, {2}), true);
  Variable y = x * x + x * 3.0;
  y.backward(ones({2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, -1}));
}

TEST(Engine, OnlyLeavesGetGrad) {
  Variable x(tensor({1, 2}, {2}), true);
  Variable h = x * 2.0;
  sum(h).backward();
  EXPECT_FALSE(h.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(Engine, InputsWithoutRequiresGradGetNothing) {
  Variable w(tensor({1, 2}, {2}), true);
  Variable x(tensor({3, 4}, {2}));  // requires_grad = false
  sum(w * x).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{3, 4}));
}

TEST(Engine, NoGradGuardRecordsNothing) {
  Variable x(tensor({1}, {1}), true);
  EXPECT_TRUE(is_grad_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(is_grad_enabled());
    Variable y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(is_grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Engine, DetachCutsTheGraph) {
  Variable x(tensor({3}, {1}), true);
  Variable d = (x * x).detach();
  EXPECT_TRUE(d.is_leaf());
  EXPECT_FALSE(d.requires_grad());
  // y = x * detach(x*x): the detached factor is a constant, dy/dx = 9.
  sum(x * d).backward();
  EXPECT_EQ(x.grad().item<float>(), 9);
}

TEST(Engine, SecondBackwardWithoutRetainGraphThrows) {
  Variable x(tensor({1, 2}, {2}), true);
  Variable y = sum(x * x);
  y.backward();
  const std::string msg = error_of([&] { y.backward(); });
  EXPECT_NE(msg.find("MulBackward"), std::string::npos) << msg;
  EXPECT_NE(msg.find("saved tensors were freed by the first backward"), std::string::npos) << msg;
  EXPECT_NE(msg.find("retain_graph=true"), std::string::npos) << msg;
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
  Variable x(tensor({1, 2}, {2}), true);
  Variable y = sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{4, 8}));  // 2 * 2x
}

TEST(Engine, NonScalarBackwardNeedsAGradient) {
  Variable x(tensor({1, 2}, {2}), true);
  Variable y = x * 2.0;
  const std::string msg = error_of([&] { y.backward(); });
  EXPECT_NE(msg.find("only for scalar outputs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { y.backward(ones({3})); }).find("does not match output shape [2]"),
            std::string::npos);
}

TEST(Engine, BackwardWithoutRequiresGradThrows) {
  Variable x(tensor({1}, {1}));
  EXPECT_NE(error_of([&] { sum(x).backward(); }).find("does not require grad"), std::string::npos);
  EXPECT_NE(error_of([] { Variable(zeros({1}, DType::Int64), true); }).find("only floating"),
            std::string::npos);
}

TEST(Engine, BackwardFromALeaf) {
  Variable x(tensor({5}, {}), true);
  x.backward();
  EXPECT_EQ(x.grad().item<float>(), 1);
}

TEST(Engine, PrintsGradFn) {
  Variable x(tensor({1}, {1}), true);
  std::ostringstream out;
  out << x * 2.0;
  EXPECT_EQ(out.str(), "Variable(tensor([2.0000], dtype=float32), grad_fn=MulScalarBackward)");
}

// A graph 300,000 nodes deep (a long unrolled loop): the engine's graph walk must not recurse
// once per node, or it overflows the thread's stack (8 MB) and the test crashes.
TEST(Engine, ADeepChainDoesNotOverflowTheStack) {
  Variable x(tensor({1}, {1}), true);
  Variable y = x;
  for (int i = 0; i < 300000; ++i)
    y = mul(y, 1.0);
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 1.0);
}
