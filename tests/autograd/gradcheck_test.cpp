// tests/autograd/gradcheck_test.cpp: gradcheck itself finds wrong gradients and reports them.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"

using namespace loom;

namespace {
// y = x^2 with a deliberately wrong backward (3x instead of 2x) at every element.
Variable bad_square(const Variable& x) {
  struct Saved {
    Tensor x;
  };
  return record(
      "BadSquareBackward", mul(x.data(), x.data()), {x}, Saved{x.data()},
      [](const Tensor& g, const Saved& s) { return std::vector<Tensor>{mul(g, mul(s.x, 3.0))}; });
}
}  // namespace

TEST(Gradcheck, PassesOnACorrectOp) {
  Generator gen(1);
  const GradcheckResult r = gradcheck([](const std::vector<Variable>& v) { return v[0] * v[0]; },
                                      {randn({2, 3}, gen, DType::Float64)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Gradcheck, ReportsInputIndexExpectedActual) {
  Generator gen(2);
  const Tensor a = randn({2}, gen, DType::Float64);
  const Tensor x = tensor({1, 2, 3, 4}, {2, 2}, DType::Float64);
  const GradcheckResult r =
      gradcheck([](const std::vector<Variable>& v) { return v[0] + bad_square(v[1]); }, {a, x});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.input, 1);
  EXPECT_EQ(r.index, (Shape{0, 0}));
  // At x = 1 the analytic gradient is 1.5x the numeric one (3x vs 2x, times the same u).
  EXPECT_NEAR(r.actual, 1.5 * r.expected, 1e-6);
  EXPECT_NE(r.message.find("input 1 (shape [2, 2]) at index [0, 0]"), std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("expected (numeric)"), std::string::npos);
}

TEST(Gradcheck, RejectsNonFloat64AndExpandedInputs) {
  auto f = [](const std::vector<Variable>& v) { return v[0]; };
  EXPECT_THROW(gradcheck(f, {zeros({2})}), Error);
  EXPECT_THROW(gradcheck(f, {zeros({1}, DType::Float64).expand({3})}), Error);
}
