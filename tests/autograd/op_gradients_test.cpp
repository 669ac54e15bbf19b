// tests/autograd/op_gradients_test.cpp: a gradcheck for every differentiable op, including
// broadcasting edge cases (size-1 dims, scalars, 0-d tensors) and non-contiguous inputs.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"

using namespace loom;

namespace {
using Vars = std::vector<Variable>;

class OpGradients : public ::testing::Test {
 protected:
  Generator gen{1234};
  Tensor r(const Shape& s) { return randn(s, gen, DType::Float64); }
  // Positive values away from 0, for log, sqrt, pow and division.
  Tensor pos(const Shape& s) { return add(rand(s, gen, DType::Float64), 0.5); }
};
}  // namespace

// ---- elementwise binary ------------------------------------------------------------------

TEST_F(OpGradients, AddSubMulDivSameShape) {
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] + v[1]; }, {r({2, 3}), r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] - v[1]; }, {r({2, 3}), r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] * v[1]; }, {r({2, 3}), r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] / v[1]; }, {r({2, 3}), pos({2, 3})});
}

TEST_F(OpGradients, BroadcastingEdgeCases) {
  auto mul_f = [](const Vars& v) { return v[0] * v[1]; };
  auto div_f = [](const Vars& v) { return v[0] / v[1]; };
  auto sub_f = [](const Vars& v) { return v[0] - v[1]; };
  EXPECT_GRADCHECK(mul_f, {r({2, 3}), r({3})});        // row vector
  EXPECT_GRADCHECK(sub_f, {r({2, 3}), r({2, 1})});     // size-1 dim
  EXPECT_GRADCHECK(mul_f, {r({2, 1}), r({1, 3})});     // both sides broadcast
  EXPECT_GRADCHECK(div_f, {r({2, 3}), pos({})});       // 0-d tensor
  EXPECT_GRADCHECK(sub_f, {r({}), r({2, 3})});         // 0-d on the left
  EXPECT_GRADCHECK(mul_f, {r({}), r({})});             // 0-d with 0-d
  EXPECT_GRADCHECK(mul_f, {r({4, 1, 3}), r({2, 1})});  // rank differs, [4, 2, 3]
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] + v[1]; }, {r({1}), r({2, 3})});
}

TEST_F(OpGradients, NonContiguousInputs) {
  const Tensor at = r({3, 2}).t();              // [2, 3] transposed view
  const Tensor bn = r({2, 5}).narrow(1, 1, 3);  // [2, 3] with a row gap
  EXPECT_FALSE(at.is_contiguous());
  EXPECT_FALSE(bn.is_contiguous());
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] * v[1]; }, {at, bn});
  EXPECT_GRADCHECK([](const Vars& v) { return tanh(v[0]) + v[1]; }, {at, bn});
  EXPECT_GRADCHECK([](const Vars& v) { return matmul(v[0], v[1]); }, {at, r({3, 2})});
  EXPECT_GRADCHECK([](const Vars& v) { return sum(v[0], 1); }, {bn});
}

TEST_F(OpGradients, WithScalars) {
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] + 2.0; }, {r({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] - 2.0; }, {r({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return 2.0 - v[0]; }, {r({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] * -1.5; }, {r({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return v[0] / 4.0; }, {r({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return 3.0 / v[0]; }, {pos({3})});
  EXPECT_GRADCHECK([](const Vars& v) { return -v[0]; }, {r({2, 2})});
}

// ---- unary -------------------------------------------------------------------------------

TEST_F(OpGradients, Unary) {
  EXPECT_GRADCHECK([](const Vars& v) { return neg(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return exp(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return log(v[0]); }, {pos({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return tanh(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return sigmoid(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return relu(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return leaky_relu(v[0], 0.2); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return elu(v[0], 0.25); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return elu(v[0], 1.5); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return sqrt(v[0]); }, {pos({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return pow(v[0], 2.5); }, {pos({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return pow(v[0], -1.0); }, {pos({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return sigmoid(v[0]); }, {r({})});  // 0-d
}

// ---- matmul ------------------------------------------------------------------------------

TEST_F(OpGradients, Matmul) {
  auto mm = [](const Vars& v) { return matmul(v[0], v[1]); };
  EXPECT_GRADCHECK(mm, {r({2, 3}), r({3, 4})});
  EXPECT_GRADCHECK(mm, {r({1, 3}), r({3, 1})});           // degenerate sizes
  EXPECT_GRADCHECK(mm, {r({2, 2, 3}), r({2, 3, 2})});     // batched
  EXPECT_GRADCHECK(mm, {r({2, 2, 3}), r({3, 2})});        // weight broadcast
  EXPECT_GRADCHECK(mm, {r({2, 1, 2, 3}), r({3, 3, 2})});  // batch dims broadcast
  EXPECT_GRADCHECK([](const Vars& v) { return matmul(v[0], transpose(v[1], 0, 1)); },
                   {r({2, 3}), r({4, 3})});  // x @ W^T, as in Linear
}

// ---- reductions --------------------------------------------------------------------------

TEST_F(OpGradients, Reductions) {
  EXPECT_GRADCHECK([](const Vars& v) { return sum(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return sum(v[0], 0); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return sum(v[0], -1, true); }, {r({2, 3, 2})});
  EXPECT_GRADCHECK([](const Vars& v) { return sum(v[0]); }, {r({})});
  EXPECT_GRADCHECK([](const Vars& v) { return mean(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return mean(v[0], 1); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return mean(v[0], 0, true); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return max(v[0]); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return max(v[0], 1); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return max(v[0], 0, true); }, {r({3, 2, 2})});
}

// ---- shape ops ---------------------------------------------------------------------------

TEST_F(OpGradients, ShapeOps) {
  // Each is followed by a multiply so the upstream gradient differs per position.
  EXPECT_GRADCHECK([](const Vars& v) { return reshape(v[0], {3, 2}); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return reshape(v[0], {6}); }, {r({3, 2}).t()});
  EXPECT_GRADCHECK([](const Vars& v) { return transpose(v[0], 0, 2); }, {r({2, 3, 2})});
  EXPECT_GRADCHECK([](const Vars& v) { return permute(v[0], {1, 2, 0}); }, {r({2, 3, 2})});
  EXPECT_GRADCHECK([](const Vars& v) { return narrow(v[0], 1, 1, 2); }, {r({2, 4})});
  EXPECT_GRADCHECK([](const Vars& v) { return select(v[0], 0, -1); }, {r({3, 2})});
  EXPECT_GRADCHECK([](const Vars& v) { return unsqueeze(v[0], 1); }, {r({2, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return squeeze(v[0], 1); }, {r({2, 1, 3})});
  EXPECT_GRADCHECK([](const Vars& v) { return expand(v[0], {4, 2, 3}); }, {r({2, 1})});
  EXPECT_GRADCHECK([](const Vars& v) { return concat({v[0], v[1]}, 1); }, {r({2, 1}), r({2, 3})});
  EXPECT_GRADCHECK(
      [](const Vars& v) {
        return concat({v[0], v[1], v[0]}, 0);
      },
      {r({1, 2}), r({2, 2})});  // an input used twice
  EXPECT_GRADCHECK(
      [](const Vars& v) {
        std::vector<Variable> parts = split(v[0], 2, 1);  // sizes 2, 2, 1
        return parts[0] * parts[1] + sum(parts[2]);
      },
      {r({2, 5})});
  EXPECT_GRADCHECK(
      [](const Vars& v) {
        std::vector<Variable> parts = chunk(v[0], 3, 0);
        return parts[0] - parts[2] * parts[1];
      },
      {r({3, 2})});
}

// ---- indexing and selection --------------------------------------------------------------

TEST_F(OpGradients, IndexSelectScatterAddsRepeatedRows) {
  const Tensor ids = from_vector<int64_t>({2, 0, 2, 3}, {4});
  EXPECT_GRADCHECK([ids](const Vars& v) { return index_select(v[0], 0, ids); }, {r({4, 3})});
  EXPECT_GRADCHECK([ids](const Vars& v) { return index_select(v[0], 1, ids); }, {r({2, 5})});
}

TEST_F(OpGradients, WhereAndMaskedFill) {
  const Tensor cond = from_vector<bool>({true, false, false, true, true, false}, {2, 3});
  EXPECT_GRADCHECK([cond](const Vars& v) { return where(cond, v[0], v[1]); },
                   {r({2, 3}), r({2, 3})});
  EXPECT_GRADCHECK([cond](const Vars& v) { return where(cond, v[0], v[1]); },
                   {r({3}), r({})});  // both values broadcast
  const Tensor mask = from_vector<bool>({false, true, false}, {3});
  EXPECT_GRADCHECK([mask](const Vars& v) { return masked_fill(v[0], mask, 5.0); }, {r({2, 3})});
}

TEST_F(OpGradients, Cast) {
  // Through float32 and back: linear, so a large eps keeps float32 rounding out of the way.
  GradcheckOptions opt;
  opt.eps = 1e-2;
  opt.atol = 1e-4;
  EXPECT_GRADCHECK(
      [](const Vars& v) { return cast(cast(v[0], DType::Float32) * 2.0, DType::Float64); },
      {r({2, 3})}, opt);
}

TEST_F(OpGradients, Composite) {
  // A two-layer network with a loss: tanh(x W1 + b1) W2, mean squared.
  EXPECT_GRADCHECK(
      [](const Vars& v) {
        Variable h = tanh(matmul(v[0], v[1]) + v[2]);
        return mean(pow(matmul(h, v[3]), 2.0));
      },
      {r({4, 3}), r({3, 5}), r({5}), r({5, 2})});
}
