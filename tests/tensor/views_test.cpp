// tests/tensor/views_test.cpp: views share storage and never copy; contiguous(), copy_().
#include <gtest/gtest.h>

#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace loom;

namespace {
Tensor iota(const Shape& shape) {
  return arange(static_cast<double>(numel(shape))).reshape(shape);
}
}  // namespace

TEST(Views, ReshapeOfContiguousSharesStorage) {
  Tensor a = arange(6);
  Tensor b = a.reshape({2, 3});
  EXPECT_EQ(a.storage(), b.storage());
  EXPECT_EQ(b.shape(), (Shape{2, 3}));
  EXPECT_EQ(b.strides(), (Shape{3, 1}));
  b.narrow(0, 1, 1).fill_(9);  // writes through the view into a
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 1, 2, 9, 9, 9}));
}

TEST(Views, ViewInfersMinusOne) {
  EXPECT_EQ(arange(12).view({3, -1}).shape(), (Shape{3, 4}));
}

TEST(Views, NarrowAndSliceAreViews) {
  Tensor a = iota({4, 5});
  Tensor n = a.narrow(1, 1, 3);  // columns 1..3
  EXPECT_EQ(n.storage(), a.storage());
  EXPECT_EQ(n.shape(), (Shape{4, 3}));
  EXPECT_EQ(n.offset(), 1);
  EXPECT_FALSE(n.is_contiguous());
  EXPECT_EQ(n.select(0, 1).to_vector<float>(), (std::vector<float>{6, 7, 8}));
  Tensor s = a.slice(0, 0, 4, 2);  // rows 0 and 2
  EXPECT_EQ(s.storage(), a.storage());
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}));
}

TEST(Views, TransposePermuteNoCopy) {
  Tensor a = iota({2, 3, 4});
  Tensor t = a.transpose(0, 2);
  EXPECT_EQ(t.storage(), a.storage());
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 4, 12}));
  Tensor p = a.permute({1, 2, 0});
  EXPECT_EQ(p.storage(), a.storage());
  EXPECT_EQ(p.shape(), (Shape{3, 4, 2}));
  // p[2][3][1] = a[1][2][3] = 12 + 8 + 3
  EXPECT_EQ(p.select(0, 2).select(0, 3).select(0, 1).item<float>(), 23.0f);
}

TEST(Views, ExpandUsesStrideZero) {
  Tensor row = tensor({1, 2, 3}, {1, 3});
  Tensor e = row.expand({4, 3});
  EXPECT_EQ(e.storage(), row.storage());
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(e.contiguous().to_vector<float>(),
            (std::vector<float>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(tensor({5}, {}).expand({2, 2}).to_vector<float>(), (std::vector<float>(4, 5)));
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor a = iota({2, 3});
  EXPECT_EQ(a.contiguous().storage(), a.storage());
  Tensor c = a.t().contiguous();
  EXPECT_NE(c.storage(), a.storage());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // reshape of a non-contiguous view must copy, and get the values right.
  EXPECT_EQ(a.t().reshape({6}).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Views, SqueezeUnsqueezeFlatten) {
  Tensor a = iota({2, 1, 3});
  EXPECT_EQ(a.squeeze(1).shape(), (Shape{2, 3}));
  EXPECT_EQ(a.squeeze().shape(), (Shape{2, 3}));
  EXPECT_EQ(a.unsqueeze(0).shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_TRUE(a.unsqueeze(1).is_contiguous());
  EXPECT_EQ(a.flatten().shape(), (Shape{6}));
  EXPECT_EQ(iota({2, 3, 4}).flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(a.size(-1), 3);
}

TEST(Views, CopyIntoStridedView) {
  Tensor a = zeros({3, 3});
  a.t().narrow(0, 1, 1).copy_(tensor({7, 8, 9}, {1, 3}));  // writes column 1 of a
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 7, 0, 0, 8, 0, 0, 9, 0}));
  Tensor b = zeros({2, 2});
  b.copy_(tensor({1, 2}, {2}));  // broadcast source
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{1, 2, 1, 2}));
}

TEST(Views, CloneIsIndependent) {
  Tensor a = iota({2, 2});
  Tensor b = a.clone();
  EXPECT_NE(a.storage(), b.storage());
  b.fill_(0);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 1, 2, 3}));
}
