// tests/tensor/ops_test.cpp: forward values of every op on small known inputs, broadcasting
// edge cases, and non-contiguous inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <utility>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace loom;

namespace {
using V = std::vector<float>;
Tensor iota(const Shape& shape) {
  return arange(static_cast<double>(numel(shape))).reshape(shape);
}

void expect_near(const Tensor& t, const std::vector<double>& want, double tol = 1e-5) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}
}  // namespace

TEST(Elementwise, BinaryArithmetic) {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}), b = tensor({4, 3, 2, 1}, {2, 2});
  EXPECT_EQ((a + b).to_vector<float>(), (V{5, 5, 5, 5}));
  EXPECT_EQ((a - b).to_vector<float>(), (V{-3, -1, 1, 3}));
  EXPECT_EQ((a * b).to_vector<float>(), (V{4, 6, 6, 4}));
  EXPECT_EQ((a / b).to_vector<float>(), (V{0.25, 2.0f / 3, 1.5, 4}));
  EXPECT_EQ(maximum(a, b).to_vector<float>(), (V{4, 3, 3, 4}));
  EXPECT_EQ(minimum(a, b).to_vector<float>(), (V{1, 2, 2, 1}));
  EXPECT_EQ(pow(a, b).to_vector<float>(), (V{1, 8, 9, 4}));
}

// The CPU reads an operand that repeats along a run of dims (a [B, 1, E] dropout mask over
// [B, T, E], a bias row over a batch, a [B, T, 1] token mask) where it lies
// (CpuBackend::binary_repeated) instead of a materialized copy: every element must be the bits of
// the plain kernel on the copy, for each op it takes, either operand repeated, and the shapes it
// leaves to the copy (short rows, two runs of repeated dims).
TEST(Elementwise, AnOperandRepeatedAlongARunOfDimsGivesTheBitsOfItsCopy) {
  Generator gen(11);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4, 30, 20}, {4, 1, 20}},       // a dropout mask over the steps
      {{40, 24}, {24}},                // a bias over a batch (outer 1)
      {{3, 5, 17}, {1, 1, 17}},        // leading dims repeated
      {{6, 40, 1}, {6, 1, 1}},         // inner 1: one value per run of 40
      {{5, 9, 1}, {5, 1, 1}},          // inner 1, runs shorter than a vector: the copy
      {{3, 6, 8}, {3, 1, 8}},          // rows of 8: the copy
      {{2, 3, 20, 4}, {2, 1, 20, 1}},  // two runs: the copy
  };
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul,
                          BinaryOp::Div, BinaryOp::Lt,  BinaryOp::Ge};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32}) {
    for (const auto& [big, small] : cases) {
      // Away from 0: integer division by a generated 0 would throw.
      const Tensor full = mul(add(rand(big, gen), 1.0), 7.0).to(dt);
      const Tensor rep = mul(add(rand(small, gen), 1.0), 5.0).to(dt);
      const Tensor copy = rep.expand(big).contiguous();
      for (BinaryOp op : ops) {
        for (bool swapped : {false, true}) {
          const Tensor& a = swapped ? rep : full;
          const Tensor& b = swapped ? full : rep;
          const Tensor got = op == BinaryOp::Add   ? add(a, b)
                             : op == BinaryOp::Sub ? sub(a, b)
                             : op == BinaryOp::Mul ? mul(a, b)
                             : op == BinaryOp::Div ? div(a, b)
                             : op == BinaryOp::Lt  ? lt(a, b)
                                                   : ge(a, b);
          // The plain kernel on two dense buffers of the output's size.
          const Tensor want = empty(big, TensorOptions(got.dtype()));
          const Tensor& ca = swapped ? copy : full;
          const Tensor& cb = swapped ? full : copy;
          cpu::cpu_backend().binary(op, ca.raw_data(), cb.raw_data(), want.raw_data(), dt,
                                    want.numel());
          ASSERT_EQ(got.shape(), big);
          EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(),
                                static_cast<std::size_t>(got.numel()) * dtype_size(got.dtype())),
                    0)
              << binary_op_name(op) << " " << dtype_name(dt) << " " << shape_str(big) << " and "
              << shape_str(small) << (swapped ? ", repeated operand first" : "");
        }
      }
    }
  }
}

TEST(Elementwise, Scalars) {
  Tensor a = tensor({1, 2, 4}, {3});
  EXPECT_EQ((a + 1.0).to_vector<float>(), (V{2, 3, 5}));
  EXPECT_EQ((1.0 - a).to_vector<float>(), (V{0, -1, -3}));
  EXPECT_EQ((a * 2.0).to_vector<float>(), (V{2, 4, 8}));
  EXPECT_EQ((a / 2.0).to_vector<float>(), (V{0.5, 1, 2}));
  EXPECT_EQ((4.0 / a).to_vector<float>(), (V{4, 2, 1}));
  EXPECT_EQ(pow(a, 2.0).to_vector<float>(), (V{1, 4, 16}));
  EXPECT_EQ((-a).to_vector<float>(), (V{-1, -2, -4}));
  EXPECT_EQ(clamp(a, 1.5, 3).to_vector<float>(), (V{1.5, 2, 3}));
  EXPECT_EQ((arange(3, DType::Int64) * 3.0).to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 6}));
}

TEST(Elementwise, Unary) {
  Tensor x = tensor({-1, 0, 2}, {3}, DType::Float64);
  expect_near(exp(x), {std::exp(-1.0), 1, std::exp(2.0)});
  expect_near(tanh(x), {std::tanh(-1.0), 0, std::tanh(2.0)});
  expect_near(sigmoid(x), {1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-2.0))});
  expect_near(relu(x), {0, 0, 2});
  expect_near(leaky_relu(x, 0.1), {-0.1, 0, 2});
  expect_near(elu(x, 0.25), {0.25 * std::expm1(-1.0), 0, 2});
  expect_near(abs(x), {1, 0, 2});
  expect_near(sign(x), {-1, 0, 1});
  expect_near(neg(x), {1, 0, -2});
  Tensor p = tensor({1, 4, 9}, {3}, DType::Float64);
  expect_near(sqrt(p), {1, 2, 3});
  expect_near(log(p), {0, std::log(4.0), std::log(9.0)});
}

TEST(Elementwise, Float16ComputesInFloat) {
  Tensor x = tensor({-1, 0, 2}, {3}, DType::Float16);
  // Each result is the float32 result rounded once to half.
  const Tensor want = sigmoid(tensor({-1, 0, 2}, {3})).to(DType::Float16);
  EXPECT_EQ(sigmoid(x).to_vector<float>(), want.to_vector<float>());
}

TEST(Elementwise, Comparisons) {
  Tensor a = tensor({1, 2, 3}, {3}), b = tensor({2, 2, 2}, {3});
  EXPECT_EQ(eq(a, b).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(ne(a, b).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(lt(a, b).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(le(a, b).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(gt(a, b).to_vector<bool>(), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(ge(a, b).to_vector<bool>(), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(gt(a, 1.5).dtype(), DType::Bool);
  EXPECT_EQ(lt(a, 1.5).to_vector<bool>(), (std::vector<bool>{true, false, false}));
}

TEST(Broadcasting, EdgeCases) {
  Tensor m = iota({2, 3});
  // Row vector, column vector, size-1 dims on both sides, 0-d scalar tensor.
  EXPECT_EQ((m + tensor({10, 20, 30}, {3})).to_vector<float>(), (V{10, 21, 32, 13, 24, 35}));
  EXPECT_EQ((m + tensor({100, 200}, {2, 1})).to_vector<float>(), (V{100, 101, 102, 203, 204, 205}));
  Tensor outer = tensor({1, 2}, {2, 1}) * tensor({1, 10, 100}, {1, 3});
  EXPECT_EQ(outer.shape(), (Shape{2, 3}));
  EXPECT_EQ(outer.to_vector<float>(), (V{1, 10, 100, 2, 20, 200}));
  Tensor s = m * scalar_tensor(2);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ((scalar_tensor(2) + scalar_tensor(3)).dim(), 0);
  EXPECT_EQ((iota({2, 1, 3}) + iota({4, 1})).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ((zeros({0, 3}) + ones({3})).shape(), (Shape{0, 3}));
}

TEST(Elementwise, NonContiguousInputs) {
  Tensor a = iota({3, 2}).t();              // [2, 3], strides [1, 2]
  Tensor b = iota({2, 4}).narrow(1, 1, 3);  // [2, 3] with a row gap
  EXPECT_EQ((a + b).to_vector<float>(), (V{1, 4, 7, 6, 9, 12}));
  EXPECT_EQ(exp(a * 0.0).to_vector<float>(), V(6, 1));
}

TEST(Selection, WhereAndMaskedFill) {
  Tensor c = from_vector<bool>({true, false, true}, {3});
  Tensor a = tensor({1, 2, 3}, {3}), b = tensor({-1, -2, -3}, {3});
  EXPECT_EQ(where(c, a, b).to_vector<float>(), (V{1, -2, 3}));
  EXPECT_EQ(where(c, a, scalar_tensor(0)).to_vector<float>(), (V{1, 0, 3}));
  Tensor x = iota({2, 3});
  Tensor mask = from_vector<bool>({false, true, false}, {3});  // broadcasts over rows
  EXPECT_EQ(masked_fill(x, mask, -9).to_vector<float>(), (V{0, -9, 2, 3, -9, 5}));
}

TEST(Reductions, SumMeanMaxArgmax) {
  Tensor x = tensor({1, 5, 3, 4, 2, 6}, {2, 3});
  EXPECT_EQ(sum(x).item<float>(), 21);
  EXPECT_EQ(sum(x).dim(), 0);
  EXPECT_EQ(sum(x, 0).to_vector<float>(), (V{5, 7, 9}));
  EXPECT_EQ(sum(x, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(sum(x, -1).to_vector<float>(), (V{9, 12}));
  EXPECT_EQ(mean(x).item<float>(), 3.5);
  EXPECT_EQ(mean(x, 0).to_vector<float>(), (V{2.5, 3.5, 4.5}));
  EXPECT_EQ(max(x).item<float>(), 6);
  EXPECT_EQ(max(x, 1).to_vector<float>(), (V{5, 6}));
  EXPECT_EQ(min(x, 0).to_vector<float>(), (V{1, 2, 3}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(argmax(x, 0, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(argmax(x).item<int64_t>(), 5);
  // Non-contiguous input, 3-D middle-axis reduction.
  EXPECT_EQ(sum(x.t(), 1).to_vector<float>(), (V{5, 7, 9}));
  EXPECT_EQ(sum(iota({2, 3, 2}), 1).to_vector<float>(), (V{6, 9, 24, 27}));
  EXPECT_EQ(sum(scalar_tensor(4)).item<float>(), 4);
  EXPECT_EQ(sum(zeros({0, 2}), 0).to_vector<float>(), (V{0, 0}));
}

TEST(Reductions, SumToShape) {
  Tensor g = ones({4, 2, 3});
  EXPECT_EQ(sum_to_shape(g, {3}).to_vector<float>(), (V{8, 8, 8}));
  EXPECT_EQ(sum_to_shape(g, {2, 1}).to_vector<float>(), (V{12, 12}));
  EXPECT_EQ(sum_to_shape(g, {}).item<float>(), 24);
}

TEST(Matmul, TwoDAndTransposedViews) {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = tensor({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (V{4, 5, 10, 11}));
  // a @ a^T through a transposed view (no copy) and through a dense copy agree.
  EXPECT_EQ(matmul(a, a.t()).to_vector<float>(), (V{14, 32, 32, 77}));
  EXPECT_EQ(matmul(a, a.t().contiguous()).to_vector<float>(), (V{14, 32, 32, 77}));
  EXPECT_EQ(matmul(a.t(), a).to_vector<float>(), matmul(a.t().contiguous(), a).to_vector<float>());
  // A column block with a row gap (ld > cols).
  Tensor wide = iota({3, 4});
  EXPECT_EQ(matmul(wide.narrow(1, 1, 2), tensor({1, 1}, {2, 1})).to_vector<float>(),
            (V{3, 11, 19}));
}

TEST(Matmul, BatchedWithBroadcast) {
  Tensor a = iota({2, 2, 3});
  Tensor w = tensor({1, 0, 0, 1, 1, 1}, {3, 2});  // broadcast over the batch
  Tensor c = matmul(a, w);
  EXPECT_EQ(c.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(c.to_vector<float>(), (V{2, 3, 8, 9, 14, 15, 20, 21}));
  // Batch dims broadcast: [2, 1, 2, 3] @ [3, 3, 2] -> [2, 3, 2, 2].
  Tensor d = matmul(iota({2, 1, 2, 3}), iota({3, 3, 2}));
  EXPECT_EQ(d.shape(), (Shape{2, 3, 2, 2}));
  // Element [1, 2, 1, 0] = row [9, 10, 11] . column 0 of batch 2 [12, 14, 16].
  EXPECT_EQ(d.select(0, 1).select(0, 2).select(0, 1).select(0, 0).item<float>(),
            9 * 12 + 10 * 14 + 11 * 16);
  // Batched transposed view.
  Tensor bt = iota({2, 2, 3}).transpose(1, 2);
  EXPECT_EQ(matmul(a, bt).to_vector<float>(), matmul(a, bt.contiguous()).to_vector<float>());
}

TEST(Matmul, Float64Float16Int) {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}, DType::Float64);
  EXPECT_EQ(matmul(a, a).to_vector<double>(), (std::vector<double>{7, 10, 15, 22}));
  EXPECT_EQ(matmul(a.to(DType::Float16), a.to(DType::Float16)).to_vector<float>(),
            (V{7, 10, 15, 22}));
  EXPECT_EQ(matmul(a.to(DType::Int64), a.to(DType::Int64)).to_vector<int64_t>(),
            (std::vector<int64_t>{7, 10, 15, 22}));
}

TEST(Matmul, ThreadCountSetting) {
  const int before = get_num_threads();
  set_num_threads(1);
  EXPECT_EQ(get_num_threads(), 1);
  Tensor a = randn({64, 64});
  const V one = matmul(a, a).to_vector<float>();
  set_num_threads(2);
  const V two = matmul(a, a).to_vector<float>();
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_NEAR(one[i], two[i], 1e-4);
  set_num_threads(before);
}

TEST(Join, ConcatSplitChunk) {
  Tensor a = iota({2, 2}), b = tensor({9, 9}, {2, 1});
  Tensor c = concat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.to_vector<float>(), (V{0, 1, 9, 2, 3, 9}));
  EXPECT_EQ(concat({a, a}, 0).shape(), (Shape{4, 2}));
  Tensor st = stack({tensor({1, 2}, {2}), tensor({3, 4}, {2})}, 1);
  EXPECT_EQ(st.shape(), (Shape{2, 2}));
  EXPECT_EQ(st.to_vector<float>(), (V{1, 3, 2, 4}));
  std::vector<Tensor> parts = split(arange(5), 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].to_vector<float>(), (V{4}));
  EXPECT_EQ(parts[1].storage(), parts[0].storage());  // views
  std::vector<Tensor> sized = split(iota({2, 5}), std::vector<int64_t>{1, 4}, 1);
  EXPECT_EQ(sized[1].shape(), (Shape{2, 4}));
  std::vector<Tensor> ch = chunk(iota({6, 2}), 3, 0);
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[1].to_vector<float>(), (V{4, 5, 6, 7}));
}

TEST(Index, SelectAndAdd) {
  Tensor table = iota({4, 2});
  Tensor ids = from_vector<int64_t>({3, 0, 3}, {3});
  EXPECT_EQ(index_select(table, 0, ids).to_vector<float>(), (V{6, 7, 0, 1, 6, 7}));
  EXPECT_EQ(index_select(table, 1, from_vector<int32_t>({1}, {1})).to_vector<float>(),
            (V{1, 3, 5, 7}));
  // Scatter-add: repeated index 3 accumulates.
  Tensor g = index_add(zeros({4, 2}), 0, ids, ones({3, 2}));
  EXPECT_EQ(g.to_vector<float>(), (V{1, 1, 0, 0, 0, 0, 2, 2}));
  Tensor h = zeros({2, 3});
  index_add_(h, 1, from_vector<int64_t>({2, 2}, {2}), ones({2, 2}));
  EXPECT_EQ(h.to_vector<float>(), (V{0, 0, 2, 0, 0, 2}));
}
