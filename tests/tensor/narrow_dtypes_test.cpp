// tests/tensor/narrow_dtypes_test.cpp: the bfloat16, int8 and uint8 DTypes through tensor/:
// names and sizes, casts (bfloat16 rounds to nearest even, NaN stays NaN; floats into int8 and
// uint8 truncate and wrap), printing, and every elementwise op, reduction and matmul in
// bfloat16 against float32.
//
// The bfloat16 tolerances. bfloat16 keeps 8 significand bits, so rounding a value to it has a
// relative error of at most u = 2^-8 (half a unit in the last place). A bfloat16 op computes in
// float32 on rounded inputs and rounds its result once, so against float32 on the unrounded
// inputs, to first order:
//   |f_bf16(x) - f(x)| <= u |x f'(x)|   (the input's rounding, through the op's derivative)
//                       + u |f(x)|       (the output's rounding)
// and for a sum of n terms (sum, matmul) each term's inputs contribute u per factor, plus the
// float32 sum's own error, n 2^-24 sum|terms|. The tests allow 1.1x that bound (second-order
// terms) plus 1e-30 (results that are exactly 0). A second test per op checks the stronger fact
// the bound rests on: the bfloat16 result is the float32 result on the same rounded inputs,
// rounded once, to the bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "tensor/cpu/gemm/bf16_bits.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace loom;

namespace {

constexpr double kU = 0x1p-8;     // bfloat16's unit roundoff: 8 significand bits
constexpr double kU32 = 0x1p-24;  // float32's

// A bfloat16 tensor holding these bit patterns.
Tensor bf16_from_bits(const std::vector<uint16_t>& bits) {
  Tensor t = empty({static_cast<int64_t>(bits.size())}, DType::BFloat16);
  std::memcpy(t.raw_data(), bits.data(), bits.size() * sizeof(uint16_t));
  return t;
}
std::vector<uint16_t> bits_of(const Tensor& bf16) {
  const Tensor c = bf16.contiguous();
  std::vector<uint16_t> bits(static_cast<size_t>(c.numel()));
  std::memcpy(bits.data(), c.raw_data(), bits.size() * sizeof(uint16_t));
  return bits;
}
uint16_t bf16_bits_of(float x) {
  return bits_of(tensor({x}, {1}).to(DType::BFloat16))[0];
}

// Uniform values in [lo, hi], float32.
Tensor uniform_values(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return uniform(shape, lo, hi, gen);
}

// Checks |got - want| <= 1.1 bound + 1e-30, element by element; says which op and element.
void expect_within(const std::string& what, const Tensor& got, const Tensor& want,
                   const std::vector<double>& bound) {
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  ASSERT_EQ(g.size(), bound.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::fabs(g[i] - w[i]), 1.1 * bound[i] + 1e-30)
        << what << ", element " << i << ": bfloat16 " << g[i] << ", float32 " << w[i] << ", bound "
        << bound[i];
}

// The bfloat16 op, applied to rounded inputs, is the float32 op on the same rounded values,
// rounded once on store.
void expect_rounded_float_math(const std::string& what, const Tensor& bf16_result,
                               const Tensor& f32_on_rounded_inputs) {
  EXPECT_EQ(bits_of(bf16_result), bits_of(f32_on_rounded_inputs.to(DType::BFloat16))) << what;
}

}  // namespace

TEST(NarrowDTypes, NamesSizesAndKinds) {
  for (DType d : kEveryDType)
    EXPECT_EQ(dtype_from_name(dtype_name(d)), d) << dtype_name(d);
  EXPECT_STREQ(dtype_name(DType::BFloat16), "bfloat16");
  EXPECT_EQ(dtype_size(DType::BFloat16), 2u);
  EXPECT_EQ(dtype_size(DType::Int8), 1u);
  EXPECT_EQ(dtype_size(DType::UInt8), 1u);
  EXPECT_TRUE(is_floating(DType::BFloat16));
  EXPECT_FALSE(is_floating(DType::Int8));
  EXPECT_FALSE(is_floating(DType::UInt8));
  EXPECT_THROW(dtype_from_name("bf16"), std::invalid_argument);
}

TEST(NarrowDTypes, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(bf16_bits_of(1.0f), 0x3f80);
  EXPECT_EQ(bf16_bits_of(1.0f + 0x1p-8f), 0x3f80);                     // halfway: stays even
  EXPECT_EQ(bf16_bits_of(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82);           // halfway: up to even
  EXPECT_EQ(bf16_bits_of(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);          // past halfway: up
  EXPECT_EQ(bf16_bits_of(1.0f + 0x1p-8f - 0x1p-20f), 0x3f80);          // short of halfway: down
  EXPECT_EQ(bf16_bits_of(-1.0f - 0x1p-7f - 0x1p-8f), 0xbf82);          // the sign does not matter
  EXPECT_EQ(bf16_bits_of(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_EQ(bf16_bits_of(0x1.fep127f), 0x7f7f);                        // the largest finite
  EXPECT_EQ(bf16_bits_of(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_bits_of(-0.0f), 0x8000);
  EXPECT_EQ(bf16_bits_of(0x1p-133f), 0x0001);  // the smallest subnormal is kept, not flushed
  // From float64 through float32: still the nearest bfloat16 (0.1 -> 0x3dcd = 0.10009765625).
  EXPECT_EQ(tensor({0.1}, {1}, DType::Float64).to(DType::BFloat16).item<double>(), 0.10009765625);
}

TEST(NarrowDTypes, Bfloat16KeepsNaNANaN) {
  EXPECT_TRUE(std::isnan(tensor({NAN, -NAN}, {2}).to(DType::BFloat16).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(tensor({NAN, -NAN}, {2}).to(DType::BFloat16).to_vector<float>()[1]));
  // A NaN whose payload lies only in the 16 bits that are dropped: rounding it like a number
  // would carry into the exponent and give an infinity.
  const uint32_t payload_only_low = 0x7f800001u;
  float nan;
  std::memcpy(&nan, &payload_only_low, sizeof nan);
  Tensor x = empty({1});
  x.data_ptr<float>()[0] = nan;
  EXPECT_TRUE(std::isnan(x.to(DType::BFloat16).item<float>()));
}

// The tensor cast and the GEMM's packing (tensor/cpu/gemm/bf16_bits.h) must round alike: a
// bfloat16 tensor and a float tensor packed for the bf16 GEMM then hold the same numbers.
TEST(NarrowDTypes, Bfloat16CastAgreesWithTheGemmsRounding) {
  std::mt19937 rng(16);
  std::vector<float> values;
  for (int i = 0; i < 100000; ++i) {
    uint32_t u = rng();
    if (i % 4 == 0) u = (u & 0x8000ffffu) | 0x3f800000u;  // around 1: many exact halfway cases
    if (i % 4 == 1) u &= 0x807fffffu;                     // subnormals
    float f;
    std::memcpy(&f, &u, sizeof f);
    values.push_back(f);
  }
  const std::vector<uint16_t> got =
      bits_of(from_vector(values, {static_cast<int64_t>(values.size())}).to(DType::BFloat16));
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t want = cpu::gemm::float_to_bf16(values[i]);
    if (std::isnan(values[i]))
      ASSERT_TRUE(std::isnan(cpu::gemm::bf16_to_float(got[i]))) << i;
    else
      ASSERT_EQ(got[i], want) << "float " << values[i] << " (element " << i << ")";
  }
}

TEST(NarrowDTypes, Bfloat16WidensExactlyAndRoundTripsEveryPattern) {
  std::vector<uint16_t> every(1 << 16);
  for (uint32_t b = 0; b < every.size(); ++b)
    every[b] = static_cast<uint16_t>(b);
  const Tensor as_float = bf16_from_bits(every).to(DType::Float32);
  const std::vector<float> f = as_float.to_vector<float>();
  const std::vector<uint16_t> back = bits_of(as_float.to(DType::BFloat16));
  for (uint32_t b = 0; b < every.size(); ++b) {
    if (std::isnan(f[b])) {
      ASSERT_TRUE(std::isnan(cpu::gemm::bf16_to_float(back[b]))) << b;
      continue;
    }
    ASSERT_EQ(f[b], cpu::gemm::bf16_to_float(static_cast<uint16_t>(b))) << b;  // exact widening
    ASSERT_EQ(back[b], b) << "pattern " << b;
  }
}

TEST(NarrowDTypes, FloatsIntoInt8AndUint8TruncateAndWrap) {
  const Tensor x = tensor({0.9, -0.9, 127.9, -128.5, 200, 300, -1, 255}, {8});
  EXPECT_EQ(x.to(DType::Int8).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 127, -128, -56, 44, -1, -1}));
  EXPECT_EQ(x.to(DType::UInt8).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 127, 128, 200, 44, 255, 255}));
  // Integers in range convert exactly, both ways.
  const std::vector<int8_t> s = {-128, -1, 0, 1, 127};
  EXPECT_EQ(from_vector(s, {5}).to(DType::Float32).to_vector<float>(),
            (std::vector<float>{-128, -1, 0, 1, 127}));
  EXPECT_EQ(from_vector(s, {5}).to(DType::Int64).to(DType::Int8).to_vector<int8_t>(), s);
  const std::vector<uint8_t> u = {0, 1, 128, 255};
  EXPECT_EQ(from_vector(u, {4}).to(DType::BFloat16).to_vector<uint8_t>(), u);
  EXPECT_EQ(full({2}, 3.7, DType::UInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{3, 3}));
}

TEST(NarrowDTypes, IntegerArithmeticStaysInTheType) {
  const Tensor a = from_vector(std::vector<uint8_t>{200, 10, 0}, {3});
  const Tensor b = from_vector(std::vector<uint8_t>{100, 20, 1}, {3});
  EXPECT_EQ((a + b).to_vector<uint8_t>(), (std::vector<uint8_t>{44, 30, 1}));  // wraps mod 256
  EXPECT_EQ((a - b).dtype(), DType::UInt8);
  EXPECT_EQ(maximum(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{200, 20, 1}));
  const Tensor s = from_vector(std::vector<int8_t>{-5, 7, 0}, {3});
  EXPECT_EQ(abs(s).to_vector<int8_t>(), (std::vector<int8_t>{5, 7, 0}));
  EXPECT_EQ(relu(s).to_vector<int8_t>(), (std::vector<int8_t>{0, 7, 0}));
  EXPECT_EQ((s * 2.0).to_vector<int8_t>(), (std::vector<int8_t>{-10, 14, 0}));
  EXPECT_EQ(argmax(s).item<int64_t>(), 1);
  EXPECT_THROW(exp(s), Error);
  EXPECT_THROW(matmul(s.reshape({1, 3}), s.reshape({3, 1})), Error);
}

TEST(NarrowDTypes, Printing) {
  EXPECT_EQ(to_string(tensor({1, 0.1, -2}, {3}, DType::BFloat16)),
            "tensor([ 1.0000,  0.1001, -2.0000], dtype=bfloat16)");
  EXPECT_EQ(to_string(from_vector(std::vector<int8_t>{-128, 0, 127}, {3})),
            "tensor([-128,    0,  127], dtype=int8)");
  EXPECT_EQ(to_string(from_vector(std::vector<uint8_t>{0, 255}, {2})),
            "tensor([  0, 255], dtype=uint8)");
}

// ---- every op in bfloat16 against float32 --------------------------------------------------

namespace {

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  double lo, hi;                             // the inputs' range
  std::function<double(double)> derivative;  // f'(x), for the bound u |x f'(x)|
};

}  // namespace

TEST(NarrowDTypes, Bfloat16UnaryOpsAgainstFloat32) {
  const auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  const std::vector<UnaryCase> cases = {
      {"neg", [](const Tensor& x) { return neg(x); }, -5, 5, [](double) { return -1.0; }},
      {"exp", [](const Tensor& x) { return exp(x); }, -6, 6, [](double x) { return std::exp(x); }},
      {"log", [](const Tensor& x) { return log(x); }, 0.01, 50, [](double x) { return 1 / x; }},
      {"tanh", [](const Tensor& x) { return tanh(x); }, -4, 4,
       [](double x) { return 1 - std::tanh(x) * std::tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -8, 8,
       [&](double x) { return sig(x) * (1 - sig(x)); }},
      {"relu", [](const Tensor& x) { return relu(x); }, -3, 3, [](double) { return 1.0; }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); }, -3, 3,
       [](double) { return 1.0; }},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.001, 100,
       [](double x) { return 0.5 / std::sqrt(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }, -3, 3, [](double) { return 1.0; }},
      {"sign", [](const Tensor& x) { return sign(x); }, -3, 3, [](double) { return 0.0; }},
      {"x * 3", [](const Tensor& x) { return x * 3.0; }, -3, 3, [](double) { return 3.0; }},
      {"x + 0.3", [](const Tensor& x) { return x + 0.3; }, -3, 3, [](double) { return 1.0; }},
      {"1 / x", [](const Tensor& x) { return 1.0 / x; }, 0.1, 9,
       [](double x) { return -1 / (x * x); }},
      {"pow(x, 1.5)", [](const Tensor& x) { return pow(x, 1.5); }, 0.1, 9,
       [](double x) { return 1.5 * std::sqrt(x); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -1, 1); }, -3, 3, [](double) { return 1.0; }},
  };
  uint64_t seed = 1;
  for (const UnaryCase& c : cases) {
    const Tensor x = uniform_values({1000}, c.lo, c.hi, seed++);
    const Tensor xb = x.to(DType::BFloat16);
    const Tensor got = c.op(xb);
    ASSERT_EQ(got.dtype(), DType::BFloat16) << c.name;
    expect_rounded_float_math(c.name, got, c.op(xb.to(DType::Float32)));
    const Tensor want = c.op(x);
    const std::vector<double> xs = x.to_vector<double>(), ys = want.to_vector<double>();
    std::vector<double> bound(xs.size());
    for (size_t i = 0; i < xs.size(); ++i)
      bound[i] = kU * (std::fabs(xs[i] * c.derivative(xs[i])) + std::fabs(ys[i]));
    expect_within(c.name, got, want, bound);
  }
}

TEST(NarrowDTypes, Bfloat16BinaryOpsAgainstFloat32) {
  const Tensor a = uniform_values({40, 25}, -4, 4, 101), b = uniform_values({40, 25}, 0.2, 4, 102);
  const Tensor ab = a.to(DType::BFloat16), bb = b.to(DType::BFloat16);
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  // Each op with its first-order bound: u (|a df/da| + |b df/db| + |f|).
  const struct {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> op;
    std::function<double(double, double)> input_terms;  // |a df/da| + |b df/db|
  } cases[] = {
      {"add", [](const Tensor& x, const Tensor& y) { return x + y; },
       [](double x, double y) { return std::fabs(x) + std::fabs(y); }},
      {"sub", [](const Tensor& x, const Tensor& y) { return x - y; },
       [](double x, double y) { return std::fabs(x) + std::fabs(y); }},
      {"mul", [](const Tensor& x, const Tensor& y) { return x * y; },
       [](double x, double y) { return 2 * std::fabs(x * y); }},
      {"div", [](const Tensor& x, const Tensor& y) { return x / y; },
       [](double x, double y) { return 2 * std::fabs(x / y); }},
      {"maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); },
       [](double x, double y) { return std::max(std::fabs(x), std::fabs(y)); }},
      {"minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); },
       [](double x, double y) { return std::max(std::fabs(x), std::fabs(y)); }},
  };
  for (const auto& c : cases) {
    const Tensor got = c.op(ab, bb);
    ASSERT_EQ(got.dtype(), DType::BFloat16) << c.name;
    expect_rounded_float_math(c.name, got, c.op(ab.to(DType::Float32), bb.to(DType::Float32)));
    const Tensor want = c.op(a, b);
    const std::vector<double> ys = want.to_vector<double>();
    std::vector<double> bound(ys.size());
    for (size_t i = 0; i < ys.size(); ++i)
      bound[i] = kU * (c.input_terms(av[i], bv[i]) + std::fabs(ys[i]));
    expect_within(c.name, got, want, bound);
  }
  // Comparisons and where see the rounded values: exactly float32's answers on them.
  const Tensor af = ab.to(DType::Float32), bf = bb.to(DType::Float32);
  EXPECT_EQ(lt(ab, bb).to_vector<bool>(), lt(af, bf).to_vector<bool>());
  EXPECT_EQ(eq(ab, ab).to_vector<bool>(), std::vector<bool>(1000, true));
  expect_rounded_float_math("where", where(gt(ab, 0.0), ab, bb), where(gt(af, 0.0), af, bf));
  // Broadcasting works as in float32.
  expect_rounded_float_math("broadcast add", ab + bb.select(0, 0), af + bf.select(0, 0));
}

TEST(NarrowDTypes, Bfloat16ReductionsAgainstFloat32) {
  const Tensor x = uniform_values({30, 200}, -2, 2, 201);
  const Tensor xb = x.to(DType::BFloat16), xr = xb.to(DType::Float32);
  // max, min and argmax pick a rounded input: exact on the rounded values.
  expect_rounded_float_math("max", max(xb, 1), max(xr, 1));
  expect_rounded_float_math("min", min(xb, 0), min(xr, 0));
  EXPECT_EQ(argmax(xb, 1).to_vector<int64_t>(), argmax(xr, 1).to_vector<int64_t>());
  // Sums accumulate in float32 and round once: sum |x_i| (u + n 2^-24) + u |sum|.
  for (int64_t dim : {0, 1}) {
    const Tensor got = sum(xb, dim), want = sum(x, dim);
    ASSERT_EQ(got.dtype(), DType::BFloat16);
    const int64_t n = x.size(dim);
    const std::vector<double> mag = sum(abs(x), dim).to_vector<double>();
    const std::vector<double> ys = want.to_vector<double>();
    std::vector<double> bound(ys.size());
    for (size_t i = 0; i < ys.size(); ++i)
      bound[i] = mag[i] * (kU + n * kU32) + kU * std::fabs(ys[i]);
    expect_within("sum over dim " + std::to_string(dim), got, want, bound);
    const Tensor m = mean(xb, dim);
    EXPECT_EQ(m.dtype(), DType::BFloat16);
  }
}

TEST(NarrowDTypes, Bfloat16MatmulAgainstFloat32) {
  // Both run on the packed GEMM (tensor/cpu/gemm/), summing in float32: matmul_mixed keeps the
  // float32 result, matmul rounds it to bfloat16 once.
  const int64_t m = 17, k = 300, n = 23;
  const Tensor a = uniform_values({m, k}, -1, 1, 301), b = uniform_values({k, n}, -1, 1, 302);
  const Tensor ab = a.to(DType::BFloat16), bb = b.to(DType::BFloat16);
  const Tensor got = matmul(ab, bb), want = matmul(a, b);
  ASSERT_EQ(got.dtype(), DType::BFloat16);
  // Both factors of each term rounded (2u), the float32 sum (k 2^-24), the result rounded (u).
  const std::vector<double> mag = matmul(abs(a), abs(b)).to_vector<double>();
  const std::vector<double> ys = want.to_vector<double>();
  std::vector<double> bound(ys.size());
  for (size_t i = 0; i < ys.size(); ++i)
    bound[i] = mag[i] * (2 * kU + k * kU32) + kU * std::fabs(ys[i]);
  expect_within("matmul", got, want, bound);
  // And against float32 on the rounded inputs: within the float32 sum's error, then rounded.
  const Tensor on_rounded = matmul(ab.to(DType::Float32), bb.to(DType::Float32));
  const std::vector<double> r = on_rounded.to_vector<double>();
  for (size_t i = 0; i < ys.size(); ++i)
    bound[i] = mag[i] * k * kU32 + kU * std::fabs(r[i]);
  expect_within("matmul on rounded inputs", got, on_rounded, bound);
  const Tensor mixed = matmul_mixed(ab, bb);
  ASSERT_EQ(mixed.dtype(), DType::Float32);
  expect_rounded_float_math("matmul = matmul_mixed rounded", got, mixed);
  for (size_t i = 0; i < ys.size(); ++i)
    bound[i] = mag[i] * k * kU32;
  expect_within("matmul_mixed on rounded inputs", mixed, on_rounded, bound);
}

TEST(NarrowDTypes, Bfloat16IndexOps) {
  const Tensor x = uniform_values({6, 4}, -3, 3, 401).to(DType::BFloat16);
  const Tensor idx = tensor({4, 0, 4}, {3}, DType::Int64);
  const Tensor picked = index_select(x, 0, idx);
  EXPECT_EQ(bits_of(picked.select(0, 0)), bits_of(x.select(0, 4)));  // a copy: the same bits
  const Tensor acc = zeros({6, 4}, DType::BFloat16);
  const Tensor added = index_add(acc, 0, idx, picked);
  expect_rounded_float_math("index_add", added,
                            index_add(acc.to(DType::Float32), 0, idx, picked.to(DType::Float32)));
}
