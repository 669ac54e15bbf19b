// tests/tensor/factories_test.cpp: factories, seeding, dtype casts, item, printing.
#include <gtest/gtest.h>

#include <cmath>

#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace loom;

TEST(Factories, ZerosOnesFullArange) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0));
  EXPECT_EQ(ones({2}, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(full({3}, 2.5, DType::Float64).to_vector<double>(), (std::vector<double>(3, 2.5)));
  EXPECT_EQ(arange(4).to_vector<float>(), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::Float64).to_vector<double>(),
            (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(scalar_tensor(3).dim(), 0);
  EXPECT_EQ(scalar_tensor(3).numel(), 1);
  EXPECT_EQ(zeros_like(arange(3, DType::Int32)).dtype(), DType::Int32);
}

TEST(Factories, FromVector) {
  Tensor a = from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(a.dtype(), DType::Int32);
  EXPECT_EQ(a.select(1, 2).to_vector<int32_t>(), (std::vector<int32_t>{3, 6}));
  Tensor b = from_vector<bool>({true, false}, {2});
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(Factories, SeededGeneratorIsReproducible) {
  Generator g1(42), g2(42), g3(7);
  Tensor a = randn({100}, g1), b = randn({100}, g2), c = randn({100}, g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  // The generator advanced: the next draw differs from the first.
  EXPECT_NE(randn({100}, g1).to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(g1.offset(), 200u);
  manual_seed(3);
  Tensor d = rand({5});
  manual_seed(3);
  EXPECT_EQ(rand({5}).to_vector<float>(), d.to_vector<float>());
}

TEST(Factories, RandomMoments) {
  Generator g(1);
  const std::vector<double> u = rand({20000}, g, DType::Float64).to_vector<double>();
  const std::vector<double> n = randn({20000}, g, DType::Float64).to_vector<double>();
  double su = 0, sn = 0, sn2 = 0, lo = 1, hi = 0;
  for (double v : u) {
    su += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  for (double v : n) {
    sn += v;
    sn2 += v * v;
  }
  EXPECT_NEAR(su / 20000, 0.5, 0.01);
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_NEAR(sn / 20000, 0.0, 0.03);
  EXPECT_NEAR(sn2 / 20000, 1.0, 0.03);
}

TEST(Casts, BetweenDtypes) {
  Tensor f = tensor({-1.5, 0, 2.7}, {3});
  EXPECT_EQ(f.to(DType::Int32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2}));
  EXPECT_EQ(f.to(DType::Bool).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(f.to(DType::Float64).dtype(), DType::Float64);
  EXPECT_EQ(f.to(DType::Float32).storage(), f.storage());  // same dtype: no copy
  EXPECT_EQ(cast(f, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2}));
}

TEST(Casts, Float16RoundTrip) {
  // Exactly representable in binary16: survive the round trip unchanged.
  Tensor exact = tensor({0.5, -2, 1024, 0.0009765625, 65504}, {5});
  EXPECT_EQ(exact.to(DType::Float16).to(DType::Float32).to_vector<float>(),
            exact.to_vector<float>());
  // 0.1 rounds to the nearest half, 0.0999755859375.
  EXPECT_EQ(tensor({0.1}, {1}).to(DType::Float16).to(DType::Float64).item<double>(),
            0.0999755859375);
  // float16 arithmetic: computed in float, rounded on store.
  Tensor h = tensor({1, 2}, {2}, DType::Float16);
  EXPECT_EQ((h * 3.0).to_vector<float>(), (std::vector<float>{3, 6}));
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{1, 2}));
}

TEST(Item, ConvertsAndChecks) {
  EXPECT_EQ(tensor({4.0}, {}, DType::Int64).item<int64_t>(), 4);
  EXPECT_DOUBLE_EQ(tensor({0.25}, {1, 1}).item<double>(), 0.25);
  EXPECT_THROW(zeros({2}).item<float>(), Error);
}

TEST(Printing, LikePyTorch) {
  EXPECT_EQ(to_string(tensor({1, 2, 3, 4}, {2, 2})),
            "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], dtype=float32)");
  EXPECT_EQ(to_string(tensor({-1, 10}, {2}, DType::Int64)), "tensor([-1, 10], dtype=int64)");
  EXPECT_EQ(to_string(scalar_tensor(0.5)), "tensor(0.5000, dtype=float32)");
  EXPECT_EQ(to_string(from_vector<bool>({true, false}, {2})), "tensor([ True, False], dtype=bool)");
  EXPECT_EQ(to_string(Tensor()), "tensor(undefined)");
}

TEST(Printing, SummarisesLargeTensors) {
  const std::string s = to_string(arange(2000, DType::Int64));
  EXPECT_EQ(s, "tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64)");
}
