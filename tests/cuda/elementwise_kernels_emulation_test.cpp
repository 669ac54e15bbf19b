// tests/cuda/elementwise_kernels_emulation_test.cpp: the kernels and functors of
// cuda/kernels/elementwise_kernels.cuh (map1, map2, where; every op's functor) run on the CPU under
// emulation (tests/cuda/cuda_emulation.h) with their launcher's arguments, against the CPU
// backend's unary, unary_scalar, binary and where, in every build.
//
// Checks: both paths of map1/map2 (packs then tail; the scalar loop one element off) for n from 1
// to 1027 on the launcher's grid and one block; every op on float and double, integer ops, integer
// division by zero (the error word), comparisons into bool with NaN and ties, where on 1-8 byte
// words; float16 in a CUDA build. Exact for the ops IEEE rounds exactly; 4 ulps for exp, log,
// tanh, sigmoid, pow, sqrt (host libm here, Eigen's vectorised approximations on the CPU
// backend; measured worst: 2). The CPU's float neg gives +0 for -(+0) in its AVX packets and -0
// elsewhere; values are compared, so that sign of zero is not checked.
//
// Cannot check: the device's half conversions, libdevice's math, the launchers' dispatch and
// refusals (tests/cuda/parity_elementwise_test.cpp, on a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/elementwise_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_buffers.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::dtype_of;

using emu_test::expect_bytes_equal;
using emu_test::from_double;
using emu_test::host_aligned;
using emu_test::kIsFloating;
using emu_test::kIsHalf;
using emu_test::launcher_grid;
using emu_test::PoisonedBuffer;
namespace ew = elementwise_kernels;

// Inputs: `kind` 0 mixed signs (with -0.0, 0 and ties), 1 positive (log, sqrt, pow), 2 with NaN
// (comparisons only). Integers: small values of both signs; bool: a pattern.
template <typename T>
std::vector<T> inputs(int64_t n, int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double x = u(rng);
    if (i % 7 == 3) x = std::round(x);  // ties between a and b, integers
    if (i % 11 == 5) x = i % 2 ? 0.0 : -0.0;
    if (kind == 1) x = std::fabs(x) + 0.125;
    if constexpr (kIsFloating<T>) {
      v[i] = from_double<T>(x);  // through float for __half
      if (kind == 2 && i % 5 == 1) v[i] = emu_test::nan_value<T>();
    } else if constexpr (std::is_same_v<T, bool>) {
      v[i] = (i * 7 + static_cast<int64_t>(seed)) % 3 == 0;
    } else {
      v[i] = static_cast<T>(std::round(x * 5));
    }
  }
  return v;
}

constexpr double kMathUlps = 4;  // for exp, log, tanh, sigmoid, pow, float sqrt (file header)

// got against the CPU's want. Integers and bool: byte for byte. Floats: equal values when
// ulps == 0 (so a still-poisoned NaN fails; -0 equals +0: the CPU's Eigen negates AVX packs as
// 0 - x, which gives +0 for -(+0), while its scalar tail, the C++ operator and the GPU's neg.f32
// give -0), else within ulps of max(1, |want|).
// float16: the same value when ulps == 0, else one half-ulp (both sides compute in float and
// round once; a few float ulps of difference can move that rounding to the neighbour) on at
// most 1 + n / 64 elements (a flip needs the float result within a few float ulps of a tie
// between two halves: about 1 in 2^11 per float ulp of difference; measured here: none).
template <typename T>
void expect_match(const T* got, const T* want, int64_t n, double ulps, const std::string& what) {
#if LOOM_EMU_HALF
  if constexpr (kIsHalf<T>) {
    emu_test::expect_half_close(got, want, n, ulps == 0 ? 0 : 1, ulps == 0 ? 0 : 1 + n / 64, what);
    return;
  }
#endif
  if constexpr (!std::is_floating_point_v<T>) {
    expect_bytes_equal(got, want, n, what);
  } else {
    const double eps = std::numeric_limits<T>::epsilon();
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 3; ++i) {
      const double x = static_cast<double>(got[i]), y = static_cast<double>(want[i]);
      if (!(ulps == 0 ? x == y : std::fabs(x - y) <= ulps * eps * std::max(1.0, std::fabs(y)))) {
        ++bad;
        ADD_FAILURE() << what << " element " << i << ": emulated kernel " << x << ", CPU " << y;
      }
    }
  }
}

// The lengths and placements every map test runs: n around the pack, shift 0 (packs) or 1.
template <typename T>
std::vector<int64_t> lengths() {
  constexpr int64_t P = kPackOf<T>;
  return {1, P - 1, P, P + 1, 4 * P + 3, 1027};
}

// map1 as the launcher runs it: the pack path when x and y are aligned and n >= one pack.
// cpu(x, y, n) runs the CPU backend's op. Also checks the emulated pack path against the
// emulated scalar path, exactly.
template <typename In, typename Out, typename F, typename Cpu>
void check_map1(F f, Cpu cpu, int kind, double ulps, const std::string& what) {
  constexpr int N = kPackOf<In>;
  for (int64_t n : lengths<In>()) {
    const std::vector<In> values = inputs<In>(n, kind, static_cast<uint32_t>(n));
    std::vector<Out> first_run;
    for (int shift : {0, 1}) {
      for (unsigned grid : {0u, 1u}) {
        SCOPED_TRACE(what + " " + dtype_name(dtype_of<In>()) + " n " + std::to_string(n) +
                     " shift " + std::to_string(shift) + " grid " + std::to_string(grid));
        PoisonedBuffer<In> x(n, shift);
        x.assign(values);
        PoisonedBuffer<Out> y(n, shift), want(n, shift);
        cpu(x.data(), want.data(), n);
        const bool vec = n >= N && host_aligned(x.data(), sizeof(In) * N) &&
                         host_aligned(y.data(), sizeof(Out) * N);
        EXPECT_EQ(vec, shift == 0 && n >= N) << "the placement picks the path";
        emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(vec ? n / N : n)},
                                   {kDefaultBlockSize}, ew::map1_kernel<In, Out, N, F>,
                                   static_cast<const In*>(x.data()), y.data(), n, vec, f);
        expect_match(y.data(), want.data(), n, ulps, what);
        EXPECT_TRUE(y.guard_intact());
        if (first_run.empty())
          first_run.assign(y.data(), y.data() + n);
        else
          expect_bytes_equal(y.data(), first_run.data(), n, what + " against the first run");
      }
    }
  }
}

// The CPU backend's unary / unary_scalar as a check_map1 `cpu`.
template <typename T>
auto cpu_unary(UnaryOp op) {
  return [op](const T* x, T* y, int64_t n) { backend_for(kCPU).unary(op, x, y, dtype_of<T>(), n); };
}
template <typename T>
auto cpu_scalar(ScalarOp op, double s) {
  return [op, s](const T* x, T* y, int64_t n) {
    backend_for(kCPU).unary_scalar(op, x, s, y, dtype_of<T>(), n);
  };
}

template <typename T>
void check_unary_float() {
  using U = UnaryOp;
  check_map1<T, T>(ew::UnaryF<U::Neg>{}, cpu_unary<T>(U::Neg), 0, 0, "neg");
  check_map1<T, T>(ew::UnaryF<U::Abs>{}, cpu_unary<T>(U::Abs), 0, 0, "abs");
  check_map1<T, T>(ew::UnaryF<U::Sign>{}, cpu_unary<T>(U::Sign), 0, 0, "sign");
  check_map1<T, T>(ew::UnaryF<U::Relu>{}, cpu_unary<T>(U::Relu), 0, 0, "relu");
  // sqrt: IEEE rounds it exactly, but Eigen's vectorised sqrt (EIGEN_FAST_MATH, its default) is
  // an rsqrt estimate + Newton steps on this machine, float and double: off by an ulp or two.
  check_map1<T, T>(ew::UnaryF<U::Sqrt>{}, cpu_unary<T>(U::Sqrt), 1, kMathUlps, "sqrt");
  check_map1<T, T>(ew::UnaryF<U::Exp>{}, cpu_unary<T>(U::Exp), 0, kMathUlps, "exp");
  check_map1<T, T>(ew::UnaryF<U::Log>{}, cpu_unary<T>(U::Log), 1, kMathUlps, "log");
  check_map1<T, T>(ew::UnaryF<U::Tanh>{}, cpu_unary<T>(U::Tanh), 0, kMathUlps, "tanh");
  check_map1<T, T>(ew::UnaryF<U::Sigmoid>{}, cpu_unary<T>(U::Sigmoid), 0, kMathUlps, "sigmoid");
}

TEST(ElementwiseKernelsEmulation, UnaryFloatOpsOnBothPaths) {
  check_unary_float<float>();
  check_unary_float<double>();
}

template <typename T>
void check_scalar_float() {
  using S = ScalarOp;
  // The launcher converts s to the compute type, as the CPU converts it to T.
  // (float for __half, as the launcher's ScalarFloatF<O, ComputeT<T>>).
  using C = ComputeT<T>;
  auto f = [](auto op_tag, double s) {
    return ew::ScalarFloatF<decltype(op_tag)::value, C>{static_cast<C>(s)};
  };
  const double s = -1.3;  // not representable: both sides round it to T the same way
  check_map1<T, T>(f(std::integral_constant<S, S::Add>{}, s), cpu_scalar<T>(S::Add, s), 0, 0,
                   "add_scalar");
  check_map1<T, T>(f(std::integral_constant<S, S::Mul>{}, s), cpu_scalar<T>(S::Mul, s), 0, 0,
                   "mul_scalar");
  check_map1<T, T>(f(std::integral_constant<S, S::Div>{}, s), cpu_scalar<T>(S::Div, s), 0, 0,
                   "div_scalar");
  check_map1<T, T>(f(std::integral_constant<S, S::RSub>{}, s), cpu_scalar<T>(S::RSub, s), 0, 0,
                   "rsub");
  check_map1<T, T>(f(std::integral_constant<S, S::RDiv>{}, s), cpu_scalar<T>(S::RDiv, s), 1, 0,
                   "rdiv");
  check_map1<T, T>(f(std::integral_constant<S, S::LeakyRelu>{}, 0.01),
                   cpu_scalar<T>(S::LeakyRelu, 0.01), 0, 0, "leaky_relu");
  check_map1<T, T>(f(std::integral_constant<S, S::Max>{}, 0.5), cpu_scalar<T>(S::Max, 0.5), 0, 0,
                   "maximum");
  check_map1<T, T>(f(std::integral_constant<S, S::Elu>{}, 0.25), cpu_scalar<T>(S::Elu, 0.25), 0,
                   kMathUlps, "elu");
  check_map1<T, T>(f(std::integral_constant<S, S::Min>{}, 0.5), cpu_scalar<T>(S::Min, 0.5), 0, 0,
                   "minimum");
  check_map1<T, T>(f(std::integral_constant<S, S::Pow>{}, 2.5), cpu_scalar<T>(S::Pow, 2.5), 1,
                   kMathUlps, "pow_scalar");
}

TEST(ElementwiseKernelsEmulation, ScalarFloatOpsOnBothPaths) {
  check_scalar_float<float>();
  check_scalar_float<double>();
}

template <typename T>
void check_integer_unary_and_scalar() {
  using U = UnaryOp;
  using S = ScalarOp;
  check_map1<T, T>(ew::UnaryF<U::Neg>{}, cpu_unary<T>(U::Neg), 0, 0, "neg");
  check_map1<T, T>(ew::UnaryF<U::Abs>{}, cpu_unary<T>(U::Abs), 0, 0, "abs");
  check_map1<T, T>(ew::UnaryF<U::Sign>{}, cpu_unary<T>(U::Sign), 0, 0, "sign");
  check_map1<T, T>(ew::UnaryF<U::Relu>{}, cpu_unary<T>(U::Relu), 0, 0, "relu");
  // Computed in double and truncated toward zero, as the CPU does; s fractional on purpose.
  check_map1<T, T>(ew::ScalarIntF<S::Add, T>{2.5}, cpu_scalar<T>(S::Add, 2.5), 0, 0, "add");
  check_map1<T, T>(ew::ScalarIntF<S::Mul, T>{-1.5}, cpu_scalar<T>(S::Mul, -1.5), 0, 0, "mul");
  check_map1<T, T>(ew::ScalarIntF<S::Div, T>{2.0}, cpu_scalar<T>(S::Div, 2.0), 0, 0, "div");
  check_map1<T, T>(ew::ScalarIntF<S::RSub, T>{7.0}, cpu_scalar<T>(S::RSub, 7.0), 0, 0, "rsub");
  check_map1<T, T>(ew::ScalarIntF<S::Max, T>{0.5}, cpu_scalar<T>(S::Max, 0.5), 0, 0, "maximum");
  check_map1<T, T>(ew::ScalarIntF<S::Min, T>{-0.5}, cpu_scalar<T>(S::Min, -0.5), 0, 0, "minimum");
}

TEST(ElementwiseKernelsEmulation, IntegerUnaryAndScalarOps) {
  check_integer_unary_and_scalar<int32_t>();
  check_integer_unary_and_scalar<int64_t>();
}

// map2 likewise: the pack path when a, b and out are aligned and n >= one pack.
template <typename In, typename Out, typename F>
void check_map2(BinaryOp op, F f, int kind, double ulps) {
  constexpr int N = kPackOf<In>;
  const std::string what = binary_op_name(op);
  for (int64_t n : lengths<In>()) {
    const std::vector<In> va = inputs<In>(n, kind, 1), vb = inputs<In>(n, kind, 2);
    for (int shift : {0, 1}) {
      for (unsigned grid : {0u, 1u}) {
        SCOPED_TRACE(what + " " + dtype_name(dtype_of<In>()) + " n " + std::to_string(n) +
                     " shift " + std::to_string(shift) + " grid " + std::to_string(grid));
        PoisonedBuffer<In> a(n, shift), b(n, shift);
        a.assign(va);
        b.assign(vb);
        if (op == BinaryOp::Div && !kIsFloating<In>) {
          for (int64_t i = 0; i < n; ++i)
            if (b[i] == In(0)) b[i] = In(3);  // division by zero has its own test
        }
        PoisonedBuffer<Out> out(n, shift), want(n, shift);
        backend_for(kCPU).binary(op, a.data(), b.data(), want.data(), dtype_of<In>(), n);
        const bool vec = n >= N && host_aligned(a.data(), sizeof(In) * N) &&
                         host_aligned(b.data(), sizeof(In) * N) &&
                         host_aligned(out.data(), sizeof(Out) * N);
        emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(vec ? n / N : n)},
                                   {kDefaultBlockSize}, ew::map2_kernel<In, Out, N, F>,
                                   static_cast<const In*>(a.data()),
                                   static_cast<const In*>(b.data()), out.data(), n, vec, f);
        expect_match(out.data(), want.data(), n, ulps, what);
        EXPECT_TRUE(out.guard_intact());
      }
    }
  }
}

template <typename T>
void check_comparisons() {
  using B = BinaryOp;
  const int kind = kIsFloating<T> ? 2 : 0;  // NaN among the floats
  check_map2<T, bool>(B::Eq, ew::BinaryF<B::Eq>{}, kind, 0);
  check_map2<T, bool>(B::Ne, ew::BinaryF<B::Ne>{}, kind, 0);
  check_map2<T, bool>(B::Lt, ew::BinaryF<B::Lt>{}, kind, 0);
  check_map2<T, bool>(B::Le, ew::BinaryF<B::Le>{}, kind, 0);
  check_map2<T, bool>(B::Gt, ew::BinaryF<B::Gt>{}, kind, 0);
  check_map2<T, bool>(B::Ge, ew::BinaryF<B::Ge>{}, kind, 0);
}

template <typename T>
void check_arithmetic() {
  using B = BinaryOp;
  check_map2<T, T>(B::Add, ew::BinaryF<B::Add>{}, 0, 0);
  check_map2<T, T>(B::Sub, ew::BinaryF<B::Sub>{}, 0, 0);
  check_map2<T, T>(B::Mul, ew::BinaryF<B::Mul>{}, 0, 0);
  check_map2<T, T>(B::Div, ew::BinaryF<B::Div>{}, 1, 0);
  check_map2<T, T>(B::Max, ew::BinaryF<B::Max>{}, 0, 0);
  check_map2<T, T>(B::Min, ew::BinaryF<B::Min>{}, 0, 0);
  if constexpr (kIsFloating<T>)  // no integer pow (the launcher refuses it)
    check_map2<T, T>(B::Pow, ew::BinaryF<B::Pow>{}, 1, kMathUlps);
}

TEST(ElementwiseKernelsEmulation, BinaryOpsOnBothPaths) {
  check_arithmetic<float>();
  check_arithmetic<double>();
  check_arithmetic<int32_t>();
  check_arithmetic<int64_t>();
  check_comparisons<float>();
  check_comparisons<double>();
  check_comparisons<int32_t>();
  check_comparisons<int64_t>();
  check_comparisons<bool>();
  using B = BinaryOp;
  check_map2<bool, bool>(B::Max, ew::BinaryF<B::Max>{}, 0, 0);
  check_map2<bool, bool>(B::Min, ew::BinaryF<B::Min>{}, 0, 0);
}

TEST(ElementwiseKernelsEmulation, IntegerDivisionByZeroSetsTheErrorWord) {
  const int64_t n = 9;
  PoisonedBuffer<int32_t> a(n), b(n), out(n);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = static_cast<int32_t>(10 * i - 7);
    b[i] = i == 6 ? 0 : static_cast<int32_t>(i - 3 == 0 ? 2 : i - 3);
  }
  unsigned long long slot = ~0ull;  // ErrorSlot's "nothing reported"
  ew::BinaryF<BinaryOp::Div> f;
  f.error = &slot;
  emu::emulate_launch_serial({1}, {kDefaultBlockSize},
                             ew::map2_kernel<int32_t, int32_t, 4, decltype(f)>,
                             static_cast<const int32_t*>(a.data()),
                             static_cast<const int32_t*>(b.data()), out.data(), n, true, f);
  EXPECT_EQ(slot, 0u) << "the division by zero was not reported";
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(out[i], i == 6 ? 0 : a[i] / b[i]) << "element " << i;  // C++ truncates, as CUDA
  // No zero divisor: nothing reported.
  b[6] = 5;
  slot = ~0ull;
  emu::emulate_launch_serial({1}, {kDefaultBlockSize},
                             ew::map2_kernel<int32_t, int32_t, 4, decltype(f)>,
                             static_cast<const int32_t*>(a.data()),
                             static_cast<const int32_t*>(b.data()), out.data(), n, true, f);
  EXPECT_EQ(slot, ~0ull);
}

// ---- float16 -----------------------------------------------------------------------------
// The __half instantiations the launchers make: In = Out = __half (8-half packs, or the scalar
// path one element off), computing in float; comparisons into bool. Against the CPU backend's
// float16 (Eigen::half widened to float, the float kernel, rounded back). Exact (same value)
// for the ops IEEE rounds exactly — float's 24 bits hold a half sum, difference, product or
// quotient closely enough that rounding once more to half gives the correctly rounded half —
// one half-ulp for exp/log/tanh/sigmoid/pow/sqrt (file header: the float results differ by a
// few float ulps).

TEST(ElementwiseKernelsEmulation, Float16UnaryAndScalarOpsOnBothPaths) {
#if LOOM_EMU_HALF
  check_unary_float<__half>();
  check_scalar_float<__half>();
  // Past float16's range and into its subnormals: the rounding at the edges (65520 and up
  // round to inf; below 2^-14 the spacing is 2^-24), on both sides.
  using S = ScalarOp;
  check_map1<__half, __half>(ew::ScalarFloatF<S::Mul, float>{30000.0f},
                             cpu_scalar<__half>(S::Mul, 30000.0), 0, 0, "mul_scalar to inf");
  check_map1<__half, __half>(ew::ScalarFloatF<S::Mul, float>{1e-5f},
                             cpu_scalar<__half>(S::Mul, 1e-5), 0, 0, "mul_scalar to subnormal");
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(ElementwiseKernelsEmulation, Float16BinaryOpsOnBothPaths) {
#if LOOM_EMU_HALF
  check_arithmetic<__half>();
  check_comparisons<__half>();
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

template <typename W>
void check_where(int64_t n, unsigned grid) {
  SCOPED_TRACE(std::to_string(sizeof(W)) + "-byte words n " + std::to_string(n) + " grid " +
               std::to_string(grid));
  PoisonedBuffer<bool> cond(n);
  PoisonedBuffer<W> a(n), b(n), out(n), want(n);
  for (int64_t i = 0; i < n; ++i) {
    cond[i] = (i * 5) % 3 != 0;
    a[i] = static_cast<W>(sizeof(W) == 1 ? i % 2 : 1000 + i);
    b[i] = static_cast<W>(sizeof(W) == 1 ? (i + 1) % 2 : 2000 + i);
  }
  const DType dt = sizeof(W) == 1   ? DType::Bool
                   : sizeof(W) == 2 ? DType::Float16
                   : sizeof(W) == 4 ? DType::Int32
                                    : DType::Int64;
  backend_for(kCPU).where(cond.data(), a.data(), b.data(), want.data(), dt, n);
  emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(n)}, {kDefaultBlockSize},
                             ew::where_kernel<W>, static_cast<const bool*>(cond.data()),
                             static_cast<const W*>(a.data()), static_cast<const W*>(b.data()),
                             out.data(), n);
  expect_bytes_equal(out.data(), want.data(), n, "where");
  EXPECT_TRUE(out.guard_intact());
}

TEST(ElementwiseKernelsEmulation, WhereMovesWords) {
  for (int64_t n : {1, 17, 700}) {
    for (unsigned grid : {0u, 1u}) {
      check_where<uint8_t>(n, grid);
      check_where<uint16_t>(n, grid);  // float16's word
      check_where<uint32_t>(n, grid);
      check_where<uint64_t>(n, grid);
    }
  }
}

}  // namespace
}  // namespace loom::cuda
