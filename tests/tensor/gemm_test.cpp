// tests/tensor/gemm_test.cpp: the packed GEMM (tensor/cpu/gemm/) against its references (lab 10).
//
// Three kinds of promise. (1) Every vector micro-kernel gives exactly the bits of its scalar twin
// on the same packed panels, and every kernel level gives the same bits for the whole GEMM.
// (2) The whole GEMM matches a naive triple loop on odd sizes (1..257), both transposes, leading
// dimensions wider than the matrix, alpha and beta: int8 exactly; fp32 and bf16 within the
// rounding-error bound of a k-term float sum, |error| <= (k + 8) u (|alpha| sum|a b| + |beta c|)
// with u = 2^-24 (bf16 inputs are exact in float and so are their products, so the bound is the
// same on the rounded inputs); fp32 against Eigen within twice that (both within it of the exact
// sum). (3) Results are the same bits on 1, 2 and 3 threads. On a CPU without AVX-512 (or AVX2)
// the same tests run the kernels it has.
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Core>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm/bf16_bits.h"
#include "tensor/cpu/gemm/blocking.h"
#include "tensor/cpu/gemm/gemm.h"
#include "tensor/cpu/gemm/kernels.h"
#include "tensor/cpu/gemm/pack.h"
#include "tensor/cpu/gemm/tasks.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace {

using namespace loom;
using namespace loom::cpu;
using namespace loom::cpu::gemm;

// Restores the kernel level and the thread count a test changes.
class GemmTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_kernel_level(saved_level_);
    set_num_threads(saved_threads_);
  }
  KernelLevel saved_level_ = kernel_level();
  int saved_threads_ = get_num_threads();
};

// Random values: floats in [-1, 1], bfloat16 patterns of such floats, all bytes.
template <typename T>
std::vector<T> random_values(int64_t n, std::mt19937& rng) {
  std::vector<T> v(static_cast<std::size_t>(n));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);  // int8: -128..127 after the cast
  for (T& x : v) {
    if constexpr (std::is_same_v<T, float>) x = real(rng);
    if constexpr (std::is_same_v<T, uint16_t>) x = float_to_bf16(real(rng));
    if constexpr (sizeof(T) == 1) x = static_cast<T>(byte(rng));
  }
  return v;
}

double value_of(float x) {
  return x;
}
double value_of(uint16_t bits) {
  return bf16_to_float(bits);
}
double value_of(uint8_t x) {
  return x;
}
double value_of(int8_t x) {
  return x;
}

// One GEMM problem: its arguments and its operands, filled at random.
template <typename TA, typename TB, typename TC>
struct Problem {
  MatmulArgs args;
  std::vector<TA> a;
  std::vector<TB> b;
  std::vector<TC> c;  // C before the product

  Problem(int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t pad, double alpha, double beta,
          std::mt19937& rng) {
    args.m = m, args.n = n, args.k = k, args.trans_a = ta, args.trans_b = tb;
    args.lda = (ta ? m : k) + pad, args.ldb = (tb ? k : n) + pad, args.ldc = n + pad;
    args.alpha = alpha, args.beta = beta;
    a = random_values<TA>((ta ? k : m) * args.lda, rng);
    b = random_values<TB>((tb ? n : k) * args.ldb, rng);
    if constexpr (std::is_same_v<TC, float>) c = random_values<float>(m * args.ldc, rng);
    if constexpr (std::is_same_v<TC, int32_t>) c.assign(m * args.ldc, -7);
  }
  double op_a(int64_t i, int64_t kk) const {
    return value_of(args.trans_a ? a[kk * args.lda + i] : a[i * args.lda + kk]);
  }
  double op_b(int64_t kk, int64_t j) const {
    return value_of(args.trans_b ? b[j * args.ldb + kk] : b[kk * args.ldb + j]);
  }
};

std::vector<float> run(const Problem<float, float, float>& p) {
  std::vector<float> c = p.c;
  gemm_f32(p.a.data(), p.b.data(), c.data(), p.args);
  return c;
}
std::vector<float> run(const Problem<uint16_t, uint16_t, float>& p) {
  std::vector<float> c = p.c;
  gemm_bf16(p.a.data(), p.b.data(), c.data(), p.args);
  return c;
}
std::vector<int32_t> run(const Problem<uint8_t, int8_t, int32_t>& p) {
  std::vector<int32_t> c = p.c;
  gemm_u8s8(p.a.data(), p.b.data(), c.data(), p.args);
  return c;
}

// The naive triple loop in double (exact for int8 at these sizes), checked against `got`: int32
// exactly, float within the bound of this file's header. Padding columns must be untouched.
template <typename TA, typename TB, typename TC>
void expect_matches_triple_loop(const Problem<TA, TB, TC>& p, const std::vector<TC>& got) {
  const MatmulArgs& q = p.args;
  for (int64_t i = 0; i < q.m; ++i)
    for (int64_t j = 0; j < q.ldc; ++j) {
      const TC c0 = p.c[i * q.ldc + j], out = got[i * q.ldc + j];
      if (j >= q.n) {
        ASSERT_EQ(std::memcmp(&c0, &out, sizeof c0), 0) << "padding written at " << i << "," << j;
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t kk = 0; kk < q.k; ++kk) {
        sum += p.op_a(i, kk) * p.op_b(kk, j);
        magnitude += std::abs(p.op_a(i, kk) * p.op_b(kk, j));
      }
      const double beta_c = q.beta == 0 ? 0.0 : q.beta * c0;
      const double want = q.alpha * sum + beta_c;
      if constexpr (std::is_same_v<TC, int32_t>) {
        ASSERT_EQ(out, static_cast<int32_t>(want)) << "C(" << i << ", " << j << ")";
      } else {
        const double bound =
            (q.k + 8) * std::ldexp(1.0, -24) * (std::abs(q.alpha) * magnitude + std::abs(beta_c));
        ASSERT_NEAR(out, want, bound + 1e-30) << "C(" << i << ", " << j << ")";
      }
    }
}

// Shapes: the corners (1, the register blocks 12, 32 and their neighbours, 257) and the LSTM's.
struct Shape {
  int64_t m, n, k;
};
const std::vector<Shape> kShapes = {{1, 1, 1},      {1, 257, 3},    {257, 1, 129},   {2, 3, 5},
                                    {11, 31, 7},    {12, 32, 1},    {13, 33, 2},     {25, 65, 17},
                                    {37, 96, 255},  {64, 100, 256}, {100, 400, 100}, {129, 97, 257},
                                    {200, 31, 511}, {255, 257, 64}, {7, 300, 513}};

template <typename TA, typename TB, typename TC>
void check_all_shapes(uint32_t seed) {
  std::mt19937 rng(seed);
  for (const Shape& s : kShapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t pad = (s.m + s.k + t) % 5;  // leading dimensions 0..4 wider than needed
      const double alpha = t == 3 ? -0.5 : 1.0, beta = t == 0 ? 0.0 : (t == 1 ? 1.0 : 0.25);
      SCOPED_TRACE(testing::Message()
                   << s.m << "x" << s.n << "x" << s.k << " ta " << ta << " tb " << tb << " pad "
                   << pad << " alpha " << alpha << " beta " << beta);
      const Problem<TA, TB, TC> p(s.m, s.n, s.k, ta, tb, pad, alpha, beta, rng);
      expect_matches_triple_loop(p, run(p));
    }
}

template <typename TA, typename TB, typename TC>
void check_all_shapes_integer(uint32_t seed) {
  std::mt19937 rng(seed);
  for (const Shape& s : kShapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const double alpha = t == 3 ? -2 : 1, beta = t == 0 ? 0 : (t == 1 ? 1 : 3);
      SCOPED_TRACE(testing::Message() << s.m << "x" << s.n << "x" << s.k << " ta " << ta);
      const Problem<TA, TB, TC> p(s.m, s.n, s.k, ta, tb, t % 3, alpha, beta, rng);
      expect_matches_triple_loop(p, run(p));
    }
}

TEST_F(GemmTest, Fp32MatchesTheTripleLoop) {
  check_all_shapes<float, float, float>(1);
}
TEST_F(GemmTest, Bf16MatchesFloatMathOnTheRoundedInputs) {
  check_all_shapes<uint16_t, uint16_t, float>(2);
}
TEST_F(GemmTest, U8S8IsExact) {
  check_all_shapes_integer<uint8_t, int8_t, int32_t>(3);
}

// ---- micro-kernels -------------------------------------------------------------------------

// `kernel` and its scalar twin on the same random panels, into tiles of C that are full or cut
// short (rows, columns; C wider than the tile): the same bits, inside the tile and out. With
// beta == 0, C starts as NaN (float) to show it is not read.
template <typename TA, typename TB, typename TC>
void expect_kernel_matches_reference(const MicroKernel<TA, TB, TC>& kernel, uint32_t seed) {
  SCOPED_TRACE(kernel.name);
  std::mt19937 rng(seed);
  constexpr int G = kGroup<TA>;
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t ldc = nr + 3;
  const std::pair<int, int> tiles[] = {{mr, nr}, {mr - 1, nr / 2}, {1, 1}, {mr, nr / 2 + 1}};
  for (int64_t groups : {1, 2, 37, 256})
    for (const auto& [rows, cols] : tiles)
      for (int beta : {0, 1, 3}) {
        const std::vector<TA> a = random_values<TA>(groups * mr * G, rng);
        const std::vector<TB> b = random_values<TB>(groups * nr * G, rng);
        std::vector<TC> c(mr * ldc, TC(5));
        if constexpr (std::is_same_v<TC, float>) {
          c = random_values<float>(mr * ldc, rng);
          if (beta == 0) c.assign(c.size(), std::numeric_limits<float>::quiet_NaN());
        }
        std::vector<TC> got = c, want = c;
        kernel.run(groups, a.data(), b.data(), {got.data(), ldc, rows, cols, TC(2), TC(beta)});
        kernel.reference(groups, a.data(), b.data(),
                         {want.data(), ldc, rows, cols, TC(2), TC(beta)});
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(TC)), 0)
            << groups << " k groups, tile " << rows << "x" << cols << ", beta " << beta;
      }
}

TEST_F(GemmTest, EveryKernelGivesTheBitsOfItsScalarTwin) {
  for (KernelLevel level : {KernelLevel::Reference, KernelLevel::Avx2, KernelLevel::Avx512}) {
    expect_kernel_matches_reference(f32_kernel(level), 10);
    expect_kernel_matches_reference(bf16_kernel(level), 11);
    expect_kernel_matches_reference(u8s8_kernel(level), 12);
  }
}

// A kernel that reads A where it is stored (run_a_in_place) gives the bits of `run` on the same
// rows packed, over whole and cut-short tiles, beta 0 and not, with rows of A padded (lda).
TEST_F(GemmTest, AKernelReadingAUnpackedGivesTheBitsOfThePackedPanel) {
  std::mt19937 rng(14);
  int kernels_tried = 0;
  for (KernelLevel level : {KernelLevel::Reference, KernelLevel::Avx2, KernelLevel::Avx512}) {
    const KernelBf16& kernel = bf16_kernel(level);
    if (kernel.run_a_in_place == nullptr) continue;
    SCOPED_TRACE(kernel.name);
    ++kernels_tried;
    const int mr = kernel.mr, nr = kernel.nr;
    for (int64_t groups : {1, 37, 256}) {
      const int64_t depth = 2 * groups, lda = depth + 6, ldc = nr + 3;
      const std::vector<uint16_t> a = random_values<uint16_t>(mr * lda, rng);
      const std::vector<uint16_t> b = random_values<uint16_t>(groups * nr * 2, rng);
      std::vector<uint16_t> packed(packed_size<uint16_t>(mr, depth, mr));
      kernel.pack_a({a.data(), lda, 1}, 0, mr, 0, depth, packed.data());
      for (int cols : {nr, nr / 2 + 1, 3})
        for (float beta : {0.0f, 0.5f}) {
          const std::vector<float> c = random_values<float>(mr * ldc, rng);
          std::vector<float> got = c, want = c;
          kernel.run(groups, packed.data(), b.data(), {want.data(), ldc, mr, cols, 1.5f, beta});
          kernel.run_a_in_place(groups, a.data(), lda, b.data(),
                                {got.data(), ldc, mr, cols, 1.5f, beta});
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << groups << " k groups, " << cols << " columns, beta " << beta;
        }
    }
  }
  if (kernels_tried == 0) GTEST_SKIP() << "no kernel on this CPU reads A unpacked";
}

// Every kernel's packer of A writes the panels of pack.h's (a vector one must not change a bit):
// A as stored and transposed, whole and ragged panels, an even and an odd depth.
TEST_F(GemmTest, EveryPackerOfAWritesThePortablePanels) {
  std::mt19937 rng(13);
  const int64_t m = 23, k = 41;  // stored [m, k] or, transposed, [k, m]
  const std::vector<uint16_t> stored = random_values<uint16_t>(m * k, rng);
  for (KernelLevel level : {KernelLevel::Reference, KernelLevel::Avx2, KernelLevel::Avx512}) {
    const KernelBf16& kernel = bf16_kernel(level);
    SCOPED_TRACE(kernel.name);
    const int mr = kernel.mr;
    for (bool transposed : {false, true})
      for (int64_t rows : {int64_t{mr}, int64_t{mr - 3}})
        for (int64_t depth : {int64_t{40}, int64_t{37}}) {
          const MatrixView<uint16_t> a = transposed ? MatrixView<uint16_t>{stored.data(), 1, m}
                                                    : MatrixView<uint16_t>{stored.data(), k, 1};
          const int64_t size = packed_size<uint16_t>(mr, depth, mr);
          std::vector<uint16_t> got(size, 7), want(size, 9);
          kernel.pack_a(a, 5, rows, 1, depth, got.data());
          ASSERT_TRUE(mr == 10 || mr == 4) << "a new register block: add its portable packer";
          (mr == 10 ? pack_a<uint16_t, 10> : pack_a<uint16_t, 4>)(a, 5, rows, 1, depth,
                                                                  want.data());
          EXPECT_EQ(got, want) << (transposed ? "transposed, " : "") << rows << " rows, depth "
                               << depth;
        }
  }
}

// The runs of `p` at every kernel level: the same bits (the level changes speed only).
template <typename TA, typename TB, typename TC>
void expect_same_bits_at_every_level(const Problem<TA, TB, TC>& p) {
  set_kernel_level(KernelLevel::Reference);
  const std::vector<TC> want = run(p);
  for (KernelLevel level : {KernelLevel::Avx2, KernelLevel::Avx512}) {
    set_kernel_level(level);
    const std::vector<TC> got = run(p);
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(TC)), 0)
        << "level " << kernel_level_name(kernel_level());
  }
}

TEST_F(GemmTest, EveryKernelLevelGivesTheSameBits) {
  std::mt19937 rng(20);
  for (const Shape& s : {Shape{100, 400, 100}, Shape{129, 97, 257}, Shape{7, 300, 513}}) {
    SCOPED_TRACE(testing::Message() << s.m << "x" << s.n << "x" << s.k);
    expect_same_bits_at_every_level(
        Problem<float, float, float>(s.m, s.n, s.k, false, true, 1, 1.5, 0.5, rng));
    expect_same_bits_at_every_level(
        Problem<uint16_t, uint16_t, float>(s.m, s.n, s.k, true, false, 2, 1.0, 1.0, rng));
    expect_same_bits_at_every_level(  // A as stored: whole panels read unpacked at even k
        Problem<uint16_t, uint16_t, float>(s.m, s.n, s.k, false, true, 3, 1.0, 0.5, rng));
    expect_same_bits_at_every_level(
        Problem<uint8_t, int8_t, int32_t>(s.m, s.n, s.k, false, false, 0, 1, 0, rng));
  }
  std::printf("kernels on this CPU: %s, %s, %s\n", f32_kernel(KernelLevel::Avx512).name,
              bf16_kernel(KernelLevel::Avx512).name, u8s8_kernel(KernelLevel::Avx512).name);
}

// ---- threads -------------------------------------------------------------------------------

template <typename TA, typename TB, typename TC>
void expect_same_bits_on_1_2_3_threads(const Problem<TA, TB, TC>& p) {
  set_num_threads(1);
  const std::vector<TC> want = run(p);
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    const std::vector<TC> got = run(p);
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(TC)), 0)
        << threads << " threads";
  }
}

TEST_F(GemmTest, ThreadCountDoesNotChangeABit) {
  std::mt19937 rng(30);
  // Every shape splits over 3 threads (kMinThreadWork = 2^22 multiply-adds a thread, or more):
  // the first two share each block, the second runs each thread on its own rows (B small beside
  // A), the last splits into runs of columns as well (3 A micro-panels).
  for (const Shape& s : {Shape{203, 257, 301}, Shape{1000, 130, 100}, Shape{25, 700, 800}}) {
    SCOPED_TRACE(testing::Message() << s.m << "x" << s.n << "x" << s.k);
    ASSERT_GE(s.m * s.n * s.k, 3 * kMinThreadWork);
    expect_same_bits_on_1_2_3_threads(
        Problem<float, float, float>(s.m, s.n, s.k, true, true, 3, 1.0, 0.5, rng));
    expect_same_bits_on_1_2_3_threads(
        Problem<uint16_t, uint16_t, float>(s.m, s.n, s.k, false, true, 0, 1.0, 0.0, rng));
    expect_same_bits_on_1_2_3_threads(
        Problem<uint8_t, int8_t, int32_t>(s.m, s.n, s.k, true, false, 1, 1, 1, rng));
  }
}

// Called from every thread of a parallel region, each thread on its own rows (an LSTM's
// per-thread time loop): each runs the product alone, and gets the bits it gets outside.
TEST_F(GemmTest, EachThreadOfARegionRunsItsOwnProduct) {
  std::mt19937 rng(31);
  const Problem<uint16_t, uint16_t, float> p(50, 400, 100, false, true, 0, 1.0, 1.0, rng);
  set_num_threads(2);
  const std::vector<float> want = run(p);
  std::vector<std::vector<float>> got(2);
#pragma omp parallel num_threads(2)
  got[static_cast<std::size_t>(omp_get_thread_num())] = run(p);
  for (const std::vector<float>& g : got)
    EXPECT_EQ(std::memcmp(g.data(), want.data(), g.size() * sizeof(float)), 0);
}

// ---- B packed once -------------------------------------------------------------------------

// B packed once gives the bits of packing it per call: one row (the GEMV path) and many, over
// several column blocks (n > 512) and k blocks (k > 512 pairs' worth), B transposed or not.
TEST_F(GemmTest, Bf16PrepackedBGivesTheSameBits) {
  std::mt19937 rng(32);
  for (bool tb : {false, true}) {
    for (int64_t m : {1, 13}) {
      SCOPED_TRACE(testing::Message() << "m " << m << (tb ? ", B transposed" : ""));
      const Problem<uint16_t, uint16_t, float> p(m, 600, 1100, false, tb, 2, 1.0, 0.5, rng);
      PackedBf16B packed;
      pack_b_bf16(p.b.data(), p.args, packed);
      std::vector<float> got = p.c;
      gemm_bf16_packed(p.a.data(), packed, got.data(), p.args);
      const std::vector<float> want = run(p);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
  }
  PackedBf16B never;
  std::vector<uint16_t> a(4);
  std::vector<float> c(4);
  MatmulArgs args;
  args.m = 2, args.n = 2, args.k = 2, args.lda = 2, args.ldb = 2, args.ldc = 2;
  EXPECT_THROW(gemm_bf16_packed(a.data(), never, c.data(), args), Error);  // not packed
  pack_b_bf16(a.data(), args, never);
  args.k = 3;
  EXPECT_THROW(gemm_bf16_packed(a.data(), never, c.data(), args), Error);  // another k
}

// ---- fp32 against Eigen --------------------------------------------------------------------

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stored = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

TEST_F(GemmTest, Fp32AgreesWithEigen) {
  std::mt19937 rng(40);
  for (const Shape& s : {Shape{100, 400, 100}, Shape{257, 129, 255}, Shape{33, 1, 77}})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const Problem<float, float, float> p(s.m, s.n, s.k, ta, tb, 2, 0.75, 0.5, rng);
      const MatmulArgs& q = p.args;
      const Stored a(p.a.data(), ta ? s.k : s.m, ta ? s.m : s.k, Eigen::OuterStride<>(q.lda));
      const Stored b(p.b.data(), tb ? s.n : s.k, tb ? s.k : s.n, Eigen::OuterStride<>(q.ldb));
      const Stored c0(p.c.data(), s.m, s.n, Eigen::OuterStride<>(q.ldc));
      const RowMatrix op_a = ta ? RowMatrix(a.transpose()) : RowMatrix(a);
      const RowMatrix op_b = tb ? RowMatrix(b.transpose()) : RowMatrix(b);
      const RowMatrix eigen = 0.75f * (op_a * op_b) + 0.5f * c0;
      const RowMatrix magnitude =
          0.75f * (op_a.cwiseAbs() * op_b.cwiseAbs()) + 0.5f * c0.cwiseAbs();
      const std::vector<float> got = run(p);
      const Stored loom_c(got.data(), s.m, s.n, Eigen::OuterStride<>(q.ldc));
      const double u = std::ldexp(1.0, -24);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j)
          ASSERT_NEAR(loom_c(i, j), eigen(i, j), 2 * (s.k + 8) * u * magnitude(i, j))
              << s.m << "x" << s.n << "x" << s.k << " ta " << ta << " tb " << tb;
    }
}

// ---- edges of the contract -----------------------------------------------------------------

TEST_F(GemmTest, KZeroScalesCByBeta) {
  MatmulArgs args;
  args.m = 2, args.n = 3, args.k = 0, args.lda = 1, args.ldb = 3, args.ldc = 3;
  std::vector<float> c(6, 4.0f);
  args.beta = 0.5;
  gemm_f32(nullptr, nullptr, c.data(), args);
  EXPECT_EQ(c, std::vector<float>(6, 2.0f));
  c.assign(6, std::numeric_limits<float>::quiet_NaN());
  args.beta = 0.0;  // C is not read: NaN becomes 0
  gemm_f32(nullptr, nullptr, c.data(), args);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

// A batch of products each too small to split (an LSTM's input gradient for a batch-first x: T
// products of B x 4H x in) runs whole products on each thread: the bits of one thread, and of each
// product alone.
TEST_F(GemmTest, ABatchOfSmallProductsSplitsOverThreadsWithTheSameBits) {
  std::mt19937 rng(51);
  const int64_t batch = 7, m = 50, n = 100, k = 400;  // 2 M multiply-adds each: one thread's
  ASSERT_LT(m * n * k, kMinThreadWork);
  const std::vector<uint16_t> a = random_values<uint16_t>(batch * m * k, rng);
  const std::vector<uint16_t> b = random_values<uint16_t>(k * n, rng);
  MatmulArgs args;
  args.batch = batch, args.m = m, args.n = n, args.k = k, args.lda = k, args.ldb = n;
  args.ldc = batch * n;  // product i writes columns [i n, (i + 1) n) of each row, as dx does
  args.stride_a = m * k, args.stride_b = 0, args.stride_c = n;
  auto run_batch = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> c(m * batch * n);
    gemm_bf16(a.data(), b.data(), c.data(), args);
    return c;
  };
  const std::vector<float> want = run_batch(1);
  for (int threads : {2, 3})
    EXPECT_EQ(0, std::memcmp(run_batch(threads).data(), want.data(), want.size() * sizeof(float)))
        << threads << " threads";
  MatmulArgs one = args;
  one.batch = 1, one.ldc = n;
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<float> single(m * n);
    gemm_bf16(a.data() + i * m * k, b.data(), single.data(), one);
    for (int64_t r = 0; r < m; ++r)
      ASSERT_EQ(0, std::memcmp(single.data() + r * n, want.data() + r * batch * n + i * n,
                               n * sizeof(float)))
          << "product " << i << ", row " << r;
  }
}

TEST_F(GemmTest, BatchRunsEachProductAtItsStrides) {
  std::mt19937 rng(50);
  const int64_t m = 13, n = 35, k = 19;
  const std::vector<float> a = random_values<float>(3 * m * k, rng);
  const std::vector<float> b = random_values<float>(k * n, rng);
  MatmulArgs args;
  args.batch = 3, args.m = m, args.n = n, args.k = k, args.lda = k, args.ldb = n, args.ldc = n;
  args.stride_a = m * k, args.stride_b = 0, args.stride_c = m * n;  // one B for the batch
  std::vector<float> batched(3 * m * n);
  gemm_f32(a.data(), b.data(), batched.data(), args);
  args.batch = 1;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> single(m * n);
    gemm_f32(a.data() + i * m * k, b.data(), single.data(), args);
    EXPECT_EQ(0, std::memcmp(single.data(), batched.data() + i * m * n, m * n * sizeof(float)));
  }
}

template <typename Fn>
void expect_error(Fn fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST_F(GemmTest, BadArgumentsThrowNamingTheArgument) {
  MatmulArgs args;
  args.m = 2, args.n = 3, args.k = 4, args.lda = 4, args.ldb = 3, args.ldc = 3;
  std::vector<float> a(8), b(12), c(6);
  MatmulArgs bad = args;
  bad.lda = 3;
  expect_error([&] { gemm_f32(a.data(), b.data(), c.data(), bad); },
               "gemm_f32: lda = 3 is less than A's 4 stored columns");
  bad = args, bad.trans_b = true;  // stored [3, 4] now: ldb 3 < 4
  expect_error([&] { gemm_f32(a.data(), b.data(), c.data(), bad); }, "(B transposed)");
  bad = args, bad.ldc = 2;
  expect_error([&] { gemm_f32(a.data(), b.data(), c.data(), bad); }, "ldc = 2 is less than n = 3");
  bad = args, bad.m = -1;
  expect_error([&] { gemm_f32(a.data(), b.data(), c.data(), bad); }, "m, n, k >= 0");
  std::vector<uint8_t> a8(8);
  std::vector<int8_t> b8(12);
  std::vector<int32_t> c32(6);
  bad = args, bad.alpha = 0.5;
  expect_error([&] { gemm_u8s8(a8.data(), b8.data(), c32.data(), bad); },
               "gemm_u8s8: alpha must be an integer");
}

// ---- packing and tasks ---------------------------------------------------------------------

TEST_F(GemmTest, PackingInterleavesKPairsForVdpbf16ps) {
  // A 3 x 3 matrix of bfloat16 patterns 1..9 (row-major), packed as op(A) with mr = 2 and as
  // op(B) with nr = 2. k = 3 pads to two pairs; row (column) 3 of the second panel is zeros.
  const std::vector<uint16_t> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const MatrixView<uint16_t> view{x.data(), 3, 1};
  ASSERT_EQ(packed_size<uint16_t>(3, 3, 2), 16);
  std::vector<uint16_t> packed(16, 99);
  pack_a<uint16_t, 2>(view, 0, 3, 0, 3, packed.data());
  // Panel 0: pair 0 = (a00 a01)(a10 a11), pair 1 = (a02 0)(a12 0); panel 1: rows 2 and padding.
  EXPECT_EQ(packed, (std::vector<uint16_t>{1, 2, 4, 5, 3, 0, 6, 0, 7, 8, 0, 0, 9, 0, 0, 0}));
  pack_b<uint16_t, 2>(view, 0, 3, 0, 3, packed.data());
  // Panel 0: pair 0 = (b00 b10)(b01 b11), pair 1 = (b20 0)(b21 0); panel 1: column 2, padding.
  EXPECT_EQ(packed, (std::vector<uint16_t>{1, 4, 2, 5, 7, 0, 8, 0, 3, 6, 0, 0, 9, 0, 0, 0}));
}

TEST_F(GemmTest, BlocksAndUnitsDependOnTheShapeOnly) {
  EXPECT_EQ(k_block_depth(400, 256, 1), 200);      // 200 + 200, not 256 + 144
  EXPECT_EQ(k_block_depth(101, 512, 2), 102);      // one block, the last pair padded
  EXPECT_EQ(k_block_depth(513, 512, 2), 258);      // 258 + 255: blocks start on whole pairs
  EXPECT_EQ(column_runs(1000, 13, 400000000), 1);  // 10000 rows: A micro-panels are enough
  EXPECT_EQ(column_runs(10, 13, 4000000), 1);      // 100 rows: 10 A micro-panels, too
  EXPECT_EQ(column_runs(3, 13, 4000000), 3);       // 30 rows: 3 micro-panels x 3 runs
  EXPECT_EQ(column_runs(1, 16, 1 << 20), 8);       // one micro-panel: 8 runs of 2 B panels
  EXPECT_EQ(column_runs(1, 16, 1 << 17), 2);       // ... unless that leaves too little work
  for (int64_t runs : {1, 2, 3, 7}) {              // runs cover the panels once, in order
    EXPECT_EQ(run_begin(0, runs, 13), 0);
    EXPECT_EQ(run_begin(runs, runs, 13), 13);
    for (int64_t r = 0; r < runs; ++r)
      EXPECT_LE(run_begin(r, runs, 13), run_begin(r + 1, runs, 13));
  }
}

// ---- bfloat16 conversion -------------------------------------------------------------------

TEST(Bf16Bits, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.5f), 0xc020);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3f80);                     // halfway: stays even
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82);           // halfway: up to even
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);          // past halfway: up
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bf16(0x1p-133f), 0x0001);  // the smallest bfloat16 subnormal is kept
  const uint16_t nan = float_to_bf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16_to_float(nan)));
  uint32_t payload_nan_bits = 0x7f800001;  // a NaN whose payload is only in the dropped bits
  float payload_nan;
  std::memcpy(&payload_nan, &payload_nan_bits, sizeof payload_nan);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(payload_nan))));
}

TEST(Bf16Bits, RoundTripsEveryPatternAndPicksTheNearest) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = bf16_to_float(static_cast<uint16_t>(bits));
    if (!std::isnan(f)) {
      ASSERT_EQ(float_to_bf16(f), bits);
    }
  }
  std::mt19937 rng(60);
  std::uniform_real_distribution<float> real(-1e6f, 1e6f);
  for (int i = 0; i < 100000; ++i) {
    const float x = real(rng);
    const uint16_t r = float_to_bf16(x);
    const double error = std::abs(static_cast<double>(x) - bf16_to_float(r));
    for (int step : {-1, 1})  // the neighbours (same sign) are no closer
      ASSERT_LE(error, std::abs(static_cast<double>(x) - bf16_to_float(r + step))) << x;
  }
}

// ---- CPU features and the override ---------------------------------------------------------

TEST(CpuFeatures, TheOverrideLowersTheLevelNeverRaisesIt) {
  const CpuFeatures none, avx2{true, false, false, false}, avx512{true, true, true, true};
  EXPECT_EQ(level_from_env(nullptr, avx512), KernelLevel::Avx512);
  EXPECT_EQ(level_from_env("", avx2), KernelLevel::Avx2);
  EXPECT_EQ(level_from_env("avx2", avx512), KernelLevel::Avx2);
  EXPECT_EQ(level_from_env("reference", avx512), KernelLevel::Reference);
  EXPECT_EQ(level_from_env("avx512", avx2), KernelLevel::Avx2);
  EXPECT_EQ(level_from_env("avx512", none), KernelLevel::Reference);
  expect_error([&] { level_from_env("AVX512", avx512); },
               "LOOM_CPU_KERNELS: expected reference, avx2 or avx512, got 'AVX512'");
  const CpuFeatures& here = cpu_features();  // whatever this CPU is, the implications hold
  EXPECT_TRUE(!here.avx512f || here.avx2_fma);
  EXPECT_TRUE(!here.avx512_bf16 || here.avx512f);
  EXPECT_TRUE(!here.avx512_vnni || here.avx512f);
  std::printf("this CPU: avx2+fma %d, avx512f %d, avx512_bf16 %d, avx512_vnni %d\n", here.avx2_fma,
              here.avx512f, here.avx512_bf16, here.avx512_vnni);
}

// ---- u8 x s8: the signed shift and saturation ----------------------------------------------

TEST_F(GemmTest, SignedTimesSignedThroughTheUnsignedShift) {
  // VPDPBUSD multiplies unsigned by signed bytes. For signed A, store a + 128 (0..255), multiply,
  // and subtract 128 times B's column sums: (a + 128) b - 128 b = a b.
  std::mt19937 rng(70);
  const int64_t m = 5, n = 7, k = 33;
  const std::vector<int8_t> a = random_values<int8_t>(m * k, rng);
  const std::vector<int8_t> b = random_values<int8_t>(k * n, rng);
  std::vector<uint8_t> a_shifted(a.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    a_shifted[i] = static_cast<uint8_t>(a[i] + 128);
  MatmulArgs args;
  args.m = m, args.n = n, args.k = k, args.lda = k, args.ldb = n, args.ldc = n;
  std::vector<int32_t> c(m * n);
  gemm_u8s8(a_shifted.data(), b.data(), c.data(), args);
  for (int64_t j = 0; j < n; ++j) {
    int32_t column_sum = 0;
    for (int64_t kk = 0; kk < k; ++kk)
      column_sum += b[kk * n + j];
    for (int64_t i = 0; i < m; ++i) {
      int32_t exact = 0;
      for (int64_t kk = 0; kk < k; ++kk)
        exact += a[i * k + kk] * b[kk * n + j];
      EXPECT_EQ(c[i * n + j] - 128 * column_sum, exact);
    }
  }
}

TEST_F(GemmTest, U8S8NeitherSaturatesNorOverflowsBeforeInt32) {
  // 4 products of 255 x 127 make 129540: past int16, where the pre-VNNI pair instruction
  // (VPMADDUBSW) would saturate at 32767; VPDPBUSD widens every product to 32 bits.
  MatmulArgs args;
  args.m = 1, args.n = 1, args.k = 4, args.lda = 4, args.ldb = 1, args.ldc = 1;
  std::vector<uint8_t> a(65800, 255);
  std::vector<int8_t> b(65800, 127);
  int32_t c = 0;
  gemm_u8s8(a.data(), b.data(), &c, args);
  EXPECT_EQ(c, 4 * 255 * 127);
  // 65800 products of 255 x -128 pass int32's minimum: the sum wraps modulo 2^32 (VPDPBUSD,
  // not the saturating VPDPBUSDS); a real model keeps k * 255 * 128 below 2^31.
  args.k = args.lda = 65800;
  b.assign(65800, -128);
  gemm_u8s8(a.data(), b.data(), &c, args);
  const int64_t exact = int64_t{65800} * 255 * -128;
  EXPECT_EQ(c, static_cast<int32_t>(static_cast<uint32_t>(exact)));
  EXPECT_GT(c, 0);
}

}  // namespace
