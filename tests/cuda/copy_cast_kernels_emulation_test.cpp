// tests/cuda/copy_cast_kernels_emulation_test.cpp: the kernels of
// cuda/kernels/copy_cast_kernels.cuh (fill, strided_copy, cast) run on the CPU under emulation
// (tests/cuda/cuda_emulation.h) with their launcher's arguments, against the CPU backend's fill,
// compact, strided_write and cast: bit for bit, in every build.
//
// Checks: fill's pack path and tail for n = 1, pack - 1, pack, pack + 1 and more, aligned and one
// element off, every element size; the strided gather and scatter through a transpose, a 3-D
// permutation, a stride-0 dim, a stepped slice, 0-d and 8-d views, 1-8 byte words; casts between
// float, double, int32, int64, bool; float16 and bfloat16 fills and every cast to and from __half
// and __nv_bfloat16 in a CUDA build (ties, overflow, subnormals, -0, inf, NaN). Outputs start as
// 0xFF bytes with a guard after them; grids of the launcher's size and of 1-2 blocks.
//
// Cannot check: the device's half conversions, the launchers' CUDA calls, real 16-byte stores
// (UBSan's alignment check stands in for the alignment fault).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/copy_cast_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_buffers.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::dtype_of;

using emu_test::expect_bytes_equal;
using emu_test::from_double;
using emu_test::kIsFloating;
using emu_test::kIsHalf;
using emu_test::launcher_grid;
using emu_test::PoisonedBuffer;

// ---- fill ------------------------------------------------------------------------------

// CudaBackend::fill with its launch emulated: the pack path when dst is aligned and n >= one
// pack, on the launcher's grid (grid == 0) or `grid` blocks.
template <typename T>
void check_fill(int64_t n, int shift, double value, unsigned grid) {
  constexpr int N = kPackOf<T>;
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " n " + std::to_string(n) + " shift " +
               std::to_string(shift) + " grid " + std::to_string(grid));
  PoisonedBuffer<T> got(n, shift), want(n, shift);
  backend_for(kCPU).fill(want.data(), dtype_of<T>(), n, value);
  const bool vec =
      emu_test::host_aligned(got.data(), sizeof(T) * N) && n >= N;  // the launcher's test
  if (n > 0) {  // the launcher returns before launching for n == 0
    const unsigned blocks = grid > 0 ? grid : launcher_grid(vec ? n / N : n);
    // The launcher's host_convert: static_cast, or double -> float -> __half (round to nearest
    // even), as the CPU converts.
    emu::emulate_launch_serial({blocks}, {kDefaultBlockSize}, copy_cast_kernels::fill_kernel<T, N>,
                               got.data(), n, from_double<T>(value), vec);
  }
  expect_bytes_equal(got.data(), want.data(), n, "fill");
  EXPECT_TRUE(got.guard_intact()) << "fill wrote past element " << n;
}

template <typename T>
void check_fill_sizes(double value) {
  constexpr int64_t P = kPackOf<T>;
  for (int64_t n : {int64_t{0}, int64_t{1}, P - 1, P, P + 1, 3 * P + 2, 256 * P + 3})
    for (int shift : {0, 1})
      for (unsigned grid : {0u, 1u})
        check_fill<T>(n, shift, value, grid);
}

TEST(CopyCastKernelsEmulation, FillPacksAndTailOnAlignedAndShiftedBuffers) {
  check_fill_sizes<float>(-2.5);
  check_fill_sizes<double>(0.1);  // not representable: the host's conversion, as the CPU's
  check_fill_sizes<int32_t>(-7);
  check_fill_sizes<int64_t>(123456789012.0);
  check_fill_sizes<bool>(3.0);
}

TEST(CopyCastKernelsEmulation, Float16FillPacksAndTail) {
#if LOOM_EMU_HALF
  check_fill_sizes<__half>(-2.5);              // packs of 8 halves
  check_fill_sizes<__half>(0.1);               // rounded to the nearest half (0x2E66)
  check_fill_sizes<__half>(7e4);               // past 65504: inf
  check_fill_sizes<__half>(1e-7);              // a subnormal half (2 * 2^-24)
  check_fill<__half>(8 * 600 + 5, 0, 1.0, 2);  // 600 packs for 512 threads, then a tail of 5
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(CopyCastKernelsEmulation, FillOnTwoBlocksWrapsOverThePacks) {
  check_fill<float>(4 * 600 + 3, 0, 1.0, 2);  // 600 packs for 512 threads, then a tail of 3
  check_fill<double>(2 * 600 + 1, 0, 1.0, 2);
}

// ---- compact / strided_write -----------------------------------------------------------

// A view of a base buffer of base_numel elements.
struct View {
  std::string name;
  StridedLayout layout;
  int64_t base_numel;
  bool overlapping;  // some elements appear twice (stride 0): gather only
};

StridedLayout layout_of(std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t offset) {
  StridedLayout l;
  l.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = sizes[d];
    l.strides[d] = strides[d];
  }
  l.offset = offset;
  return l;
}

int64_t numel(const StridedLayout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d)
    n *= l.sizes[d];
  return n;
}

std::vector<View> views() {
  std::vector<View> v;
  // [3, 5] transposed: sizes [5, 3], strides [1, 5].
  v.push_back({"2-D transpose", layout_of({5, 3}, {1, 5}, 0), 15, false});
  // [2, 3, 4] permuted (2, 0, 1): sizes [4, 2, 3], strides [1, 12, 4].
  v.push_back({"3-D permutation", layout_of({4, 2, 3}, {1, 12, 4}, 0), 24, false});
  // A row of 70 expanded to [5, 70] (the frontend's broadcasting) from element 2 on.
  v.push_back({"broadcast dim", layout_of({5, 70}, {0, 1}, 2), 72, true});
  // Rows 1..3 and every other column from 2 of a [6, 7] matrix: offset 9, strides [7, 2].
  v.push_back({"slice with offset", layout_of({3, 3}, {7, 2}, 9), 42, false});
  // A [40, 13] block of a [50, 20] matrix at (5, 4), 520 elements: more than two blocks.
  v.push_back({"large slice", layout_of({40, 13}, {20, 1}, 104), 1000, false});
  v.push_back({"0-d", layout_of({}, {}, 3), 4, false});
  // 8 dims of sizes 2 and 1, reversed strides: the deepest layout.
  v.push_back(
      {"8-D", layout_of({2, 1, 2, 2, 1, 2, 2, 2}, {1, 64, 2, 4, 64, 8, 16, 32}, 0), 64, false});
  v.push_back({"empty dim", layout_of({3, 0, 2}, {2, 2, 1}, 0), 6, false});
  return v;
}

// The launcher's grid (grid == 0) with a std::thread per CUDA thread, or `grid` blocks with the
// threads run one after another (cheaper; the fill and cast tests use only that).
template <typename Kernel, typename... Args>
void launch(unsigned grid, int64_t work, Kernel kernel, const Args&... args) {
  if (grid == 0)
    emu::emulate_launch({launcher_grid(work)}, {kDefaultBlockSize}, kernel, args...);
  else
    emu::emulate_launch_serial({grid}, {kDefaultBlockSize}, kernel, args...);
}

// Runs strided_copy_kernel<W, kGather> as the launcher does (nothing for an empty view) and
// the CPU's compact or strided_write, and compares the bytes of the whole destination.
template <typename W, bool kGather>
void check_strided(const View& v, DType dtype, unsigned grid) {
  SCOPED_TRACE(v.name + (kGather ? " compact " : " strided_write ") + std::to_string(sizeof(W)) +
               "-byte words, grid " + std::to_string(grid));
  const int64_t total = numel(v.layout);
  // Word values 0/1 for bool (the CPU may read them as bool), distinct values otherwise.
  auto value = [&](int64_t i, int64_t salt) {
    return sizeof(W) == 1 ? static_cast<W>((i * 7 + salt) % 3 == 0) : static_cast<W>(i * 37 + salt);
  };
  if (kGather) {
    PoisonedBuffer<W> base(v.base_numel);
    for (int64_t i = 0; i < v.base_numel; ++i)
      base[i] = value(i, 1);
    PoisonedBuffer<W> got(total), want(total);
    backend_for(kCPU).compact(base.data(), v.layout, want.data(), dtype);
    if (total > 0) {
      launch(grid, total, copy_cast_kernels::strided_copy_kernel<W, true>,
             static_cast<const W*>(base.data()), got.data(), v.layout, total);
    }
    expect_bytes_equal(got.data(), want.data(), total, "compact");
    EXPECT_TRUE(got.guard_intact());
  } else {
    PoisonedBuffer<W> src(total), got(v.base_numel), want(v.base_numel);
    for (int64_t i = 0; i < total; ++i)
      src[i] = value(i, 5);
    for (int64_t i = 0; i < v.base_numel; ++i)
      got[i] = want[i] = value(i, 2);  // what the view does not cover must stay
    backend_for(kCPU).strided_write(src.data(), want.data(), v.layout, dtype);
    if (total > 0) {
      launch(grid, total, copy_cast_kernels::strided_copy_kernel<W, false>,
             static_cast<const W*>(src.data()), got.data(), v.layout, total);
    }
    expect_bytes_equal(got.data(), want.data(), v.base_numel, "strided_write");
    EXPECT_TRUE(got.guard_intact());
  }
}

template <typename W>
void check_views(DType dtype) {
  for (const View& v : views()) {
    for (unsigned grid : {0u, 1u}) {
      check_strided<W, true>(v, dtype, grid);
      if (!v.overlapping) check_strided<W, false>(v, dtype, grid);
    }
  }
}

TEST(CopyCastKernelsEmulation, CompactAndStridedWriteOnManyLayouts) {
  check_views<uint8_t>(DType::Bool);
  check_views<uint16_t>(DType::Float16);  // moves bytes: float16's word, no __half needed
  check_views<uint32_t>(DType::Int32);
  check_views<uint64_t>(DType::Int64);
}

// ---- cast ------------------------------------------------------------------------------

template <typename S, typename D>
void check_cast(const std::vector<S>& values, unsigned grid) {
  SCOPED_TRACE(std::string("cast ") + dtype_name(dtype_of<S>()) + " -> " +
               dtype_name(dtype_of<D>()) + " grid " + std::to_string(grid));
  const auto n = static_cast<int64_t>(values.size());
  PoisonedBuffer<S> src(n);
  src.assign(values);
  PoisonedBuffer<D> got(n), want(n);
  backend_for(kCPU).cast(src.data(), dtype_of<S>(), want.data(), dtype_of<D>(), n);
  if (n > 0) {
    emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(n)}, {kDefaultBlockSize},
                               copy_cast_kernels::cast_kernel<S, D>,
                               static_cast<const S*>(src.data()), got.data(), n);
  }
  if constexpr (kIsFloating<D>)
    emu_test::expect_same_bits_or_nan(got.data(), want.data(), n, "cast");  // NaN bits differ
  else
    expect_bytes_equal(got.data(), want.data(), n, "cast");
  EXPECT_TRUE(got.guard_intact());
}

// n values cycling through `pattern`; floating ones scaled a little so neighbours differ.
template <typename T>
std::vector<T> cycle(const std::vector<double>& pattern, int64_t n) {
  std::vector<T> out;
  for (int64_t i = 0; i < n; ++i) {
    const double x = pattern[static_cast<std::size_t>(i) % pattern.size()];
    out.push_back(from_double<T>(kIsFloating<T> ? x * (1.0 + 0.001 * (i / 8)) : x));
  }
  return out;
}

// n values cycling through `pattern` unchanged (to T through float for __half).
template <typename T>
std::vector<T> repeat(const std::vector<double>& pattern, int64_t n) {
  std::vector<T> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(from_double<T>(pattern[static_cast<std::size_t>(i) % pattern.size()]));
  return out;
}

TEST(CopyCastKernelsEmulation, CastBetweenDtypes) {
  const std::vector<double> mixed = {0.0, -0.0, 1.0, -1.5, 2.75, 1e-3, -123.456, 16777217.0};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (unsigned grid : {0u, 1u}) {
    for (int64_t n : {1, 7, 300}) {
      check_cast<float, double>(cycle<float>(mixed, n), grid);
      check_cast<double, float>(cycle<double>({0.1, 1.0 / 3, -2e-40, 3e38, 1e300}, n), grid);
      check_cast<float, int32_t>(cycle<float>(mixed, n), grid);  // truncation toward 0
      check_cast<double, int64_t>(cycle<double>({-1e15, 2.9, -2.9, 0.5}, n), grid);
      check_cast<int64_t, float>(cycle<int64_t>({16777217.0, -3.0, 1e12}, n), grid);
      check_cast<int32_t, int64_t>(cycle<int32_t>({-2147483648.0, 2147483647.0, 5}, n), grid);
      check_cast<int32_t, bool>(cycle<int32_t>({0, 2, -1, 0}, n), grid);
      check_cast<float, bool>(cycle<float>({0.0, -0.0, nan, 1e-30, -3.0}, n), grid);
      check_cast<bool, double>(cycle<bool>({0, 1, 1}, n), grid);
    }
  }
}

// float16 casts: through float both ways (to_compute / to_out: __half2float, __float2half_rn),
// as the CPU's Eigen::half. Bit for bit, NaN as NaN.
TEST(CopyCastKernelsEmulation, Float16CastsRoundToNearestEven) {
#if LOOM_EMU_HALF
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double tie_even = 1.0 + std::ldexp(1.0, -11);     // halfway between 1 and 1 + 2^-10
  const double tie_odd = 1.0 + 3 * std::ldexp(1.0, -11);  // halfway: rounds up to even
  // Above the tie in double, exactly the tie in float: double -> float -> half gives 1.0, a
  // direct double -> half rounding would give 1 + 2^-10.
  const double double_rounding = tie_even + std::ldexp(1.0, -40);
  const std::vector<double> to_half = {0.1,      -0.0,   65519.0,  65520.0, 1e30,   -1e30,
                                       1e-8,     3e-8,   tie_even, tie_odd, 2049.0, 1e-3,
                                       -123.456, 6.1e-5, nan,      inf,     -inf,   0.0};
  // Halves: 0, -0, normal, the largest, subnormals, the smallest normal, inf, NaN.
  const std::vector<double> halves = {0.0,   -0.0, 1.0,   -1.5,      2.75, 1e-3, -123.456,
                                      65504, 6e-8, -3e-7, 6.1035e-5, inf,  -inf, nan};
  const std::vector<double> int_halves = {0.0, -0.0, 1.5, -1.5, 2.75, -2.75, 65504, -65504, 6e-8};
  for (unsigned grid : {0u, 1u}) {
    for (int64_t n : {1, 9, 300}) {
      check_cast<__half, float>(repeat<__half>(halves, n), grid);
      check_cast<__half, double>(repeat<__half>(halves, n), grid);
      check_cast<float, __half>(repeat<float>(to_half, n), grid);
      check_cast<double, __half>(repeat<double>(to_half, n), grid);
      check_cast<double, __half>(repeat<double>({double_rounding, -double_rounding}, n), grid);
      check_cast<__half, int32_t>(repeat<__half>(int_halves, n), grid);  // truncation toward 0
      check_cast<__half, int64_t>(repeat<__half>(int_halves, n), grid);
      check_cast<__half, bool>(repeat<__half>({0.0, -0.0, nan, 6e-8, -3.0}, n), grid);
      check_cast<int32_t, __half>(repeat<int32_t>({2049, -2051, 65519, 70000, 3}, n), grid);
      check_cast<int64_t, __half>(repeat<int64_t>({4097, -1e6, 65504, 7}, n), grid);
      check_cast<bool, __half>(repeat<bool>({0, 1, 1}, n), grid);
    }
  }
  // The double-rounding case really is one: the CPU gives 1.0, not 1 + 2^-10.
  PoisonedBuffer<double> one(1);
  one[0] = double_rounding;
  PoisonedBuffer<__half> h(1);
  backend_for(kCPU).cast(one.data(), DType::Float64, h.data(), DType::Float16, 1);
  EXPECT_EQ(emu_test::half_bits(h[0]), 0x3C00) << "double -> float16 goes through float";
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

// bfloat16 casts: through float both ways (__bfloat162float, __float2bfloat16_rn), as the CPU's
// Eigen::bfloat16. Bit for bit, NaN as NaN: ties to even, float32's subnormals, the overflow of
// FLT_MAX to inf (its top 8 bits round up), and double -> float -> bfloat16 (two roundings).
TEST(CopyCastKernelsEmulation, BFloat16CastsRoundToNearestEven) {
#if LOOM_EMU_HALF
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double tie_even = 1.0 + std::ldexp(1.0, -8);               // halfway between 1 and 1 + 2^-7
  const double tie_odd = 1.0 + 3 * std::ldexp(1.0, -8);            // halfway: rounds up to even
  const double double_rounding = tie_even + std::ldexp(1.0, -40);  // the tie once in float
  const double flt_max = std::numeric_limits<float>::max();
  const std::vector<double> to_bf16 = {0.1,  -0.0,     65520.0, 1e30,     -1e30,   3.3e38,
                                       1e-8, 1e-40,    -3e-42,  tie_even, tie_odd, 2049.0,
                                       1e-3, -123.456, flt_max, nan,      inf,     -inf};
  // bfloat16 values: 0, -0, normal, large, a subnormal, inf, NaN.
  const std::vector<double> bf16s = {0.0,       -0.0,  1.0,   -1.5, 2.75, 1e-3, -123.456,
                                     3.3895e38, 1e-40, -1e20, inf,  -inf, nan};
  const std::vector<double> int_bf16s = {0.0, -0.0, 1.5, -1.5, 2.75, -2.75, 65536, -1e9, 1e-40};
  for (unsigned grid : {0u, 1u}) {
    for (int64_t n : {1, 9, 300}) {
      check_cast<__nv_bfloat16, float>(repeat<__nv_bfloat16>(bf16s, n), grid);
      check_cast<__nv_bfloat16, double>(repeat<__nv_bfloat16>(bf16s, n), grid);
      check_cast<float, __nv_bfloat16>(repeat<float>(to_bf16, n), grid);
      check_cast<double, __nv_bfloat16>(repeat<double>(to_bf16, n), grid);
      check_cast<double, __nv_bfloat16>(repeat<double>({double_rounding, -double_rounding}, n),
                                        grid);
      check_cast<__nv_bfloat16, int32_t>(repeat<__nv_bfloat16>(int_bf16s, n), grid);
      check_cast<__nv_bfloat16, int64_t>(repeat<__nv_bfloat16>(int_bf16s, n), grid);
      check_cast<__nv_bfloat16, bool>(repeat<__nv_bfloat16>({0.0, -0.0, nan, 1e-40, -3.0}, n),
                                      grid);
      check_cast<int32_t, __nv_bfloat16>(repeat<int32_t>({257, -259, 65535, 70000, 3}, n), grid);
      check_cast<int64_t, __nv_bfloat16>(repeat<int64_t>({4097, -1e6, 16777217, 7}, n), grid);
      check_cast<bool, __nv_bfloat16>(repeat<bool>({0, 1, 1}, n), grid);
      check_cast<__half, __nv_bfloat16>(repeat<__half>({0.1, 65504, 6e-8, -2.5, nan}, n), grid);
      check_cast<__nv_bfloat16, __half>(repeat<__nv_bfloat16>({0.1, 1e5, 1e-6, -2.5, nan}, n),
                                        grid);
    }
  }
  check_fill_sizes<__nv_bfloat16>(0.1);      // packs of 8, rounded to nearest even (0x3DCD)
  check_fill_sizes<__nv_bfloat16>(flt_max);  // overflows to inf, as on the CPU
  // The double-rounding case really is one: the CPU gives 1.0, not 1 + 2^-7.
  PoisonedBuffer<double> one(1);
  one[0] = double_rounding;
  PoisonedBuffer<__nv_bfloat16> h(1);
  backend_for(kCPU).cast(one.data(), DType::Float64, h.data(), DType::BFloat16, 1);
  EXPECT_EQ(emu_test::bf16_bits(h[0]), 0x3F80) << "double -> bfloat16 goes through float";
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

}  // namespace
}  // namespace loom::cuda
