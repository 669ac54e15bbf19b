// tests/cuda/reduce_kernels_emulation_test.cpp: the two kernels of cuda/kernels/reduce_kernels.cuh
// run on the CPU under emulation (tests/cuda/cuda_emulation.h) with their launcher's arguments,
// against the CPU backend's reduce (sum, max, min, argmax), in every build.
//
// Checks: the column kernel bit for bit (float, double, int32, int64; NaN at j = 0 and later;
// ties; n = 1); the row kernel on a stand-in cub::BlockReduce written from CUB's documented
// contract (aggregate valid in thread 0 only, TempStorage reusable after a __syncthreads()),
// folding in two orders, neither CUB's: max/min/argmax bit for bit under both, sums on
// integer-valued data; grids of the launcher's size and of 1-2 blocks. float16 input in a CUDA
// build (arbitrary sums within one half-ulp; measured: identical).
//
// Cannot check: CUB's own BlockReduce and its order, the device's half conversions.
#include <gtest/gtest.h>

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

// ---- a stand-in for cub::BlockReduce -----------------------------------------------------
namespace cub {

// The fold order of the stand-in, set by the test (both differ from CUB's warp-shuffle tree).
enum class Order { Tree, Reverse };
inline Order order = Order::Tree;

template <typename T, int kThreads>
class BlockReduce {
 public:
  struct TempStorage {
    T v[kThreads];
  };
  explicit BlockReduce(TempStorage& temp) : temp_(temp) {}

  T Sum(T x) {
    return Reduce(x, [](const T& a, const T& b) { return static_cast<T>(a + b); });
  }

  // Every thread stores its value; after a barrier thread 0 folds them all and returns the
  // aggregate; the other threads return poison (CUB: "undefined in threads other than thread0").
  // No barrier after the fold, as in CUB: the caller must __syncthreads() before reusing temp.
  template <typename Op>
  T Reduce(T x, Op op) {
    EXPECT_EQ(emu::block_dim.x, static_cast<unsigned>(kThreads)) << "BlockReduce's block size";
    temp_.v[threadIdx.x] = x;
    __syncthreads();
    T out;
    std::memset(static_cast<void*>(&out), 0xFF, sizeof out);
    if (threadIdx.x != 0) return out;
    if (order == Order::Reverse) {
      out = temp_.v[kThreads - 1];
      for (int t = kThreads - 2; t >= 0; --t)
        out = op(temp_.v[t], out);
    } else {
      T w[kThreads];
      for (int t = 0; t < kThreads; ++t)
        w[t] = temp_.v[t];
      for (int stride = 1; stride < kThreads; stride *= 2)
        for (int t = 0; t + stride < kThreads; t += 2 * stride)
          w[t] = op(w[t], w[t + stride]);
      out = w[0];
    }
    return out;
  }

 private:
  TempStorage& temp_;
};

}  // namespace cub

#include "cuda/kernels/reduce_kernels.cuh"
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
namespace rk = reduce_kernels;

const char* op_name(ReduceOp op) {
  static const char* names[] = {"sum", "max", "min", "argmax"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<std::size_t>(ReduceOp::kCount),
                "one name per ReduceOp");
  return names[static_cast<int>(op)];
}

// x [outer, n, inner]: small integers (many ties; exact sums), or arbitrary values; NaN at the
// listed flat positions (floats only).
template <typename T>
std::vector<T> make_input(int64_t size, bool integer_valued, const std::vector<int64_t>& nans,
                          uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  std::vector<T> x(static_cast<std::size_t>(size));
  for (T& v : x) {
    const double r = u(rng);
    v = from_double<T>(integer_valued || !kIsFloating<T> ? std::round(r) : r);
  }
  if constexpr (kIsFloating<T>) {
    for (int64_t p : nans)
      x[static_cast<std::size_t>(p)] = emu_test::nan_value<T>();
  }
  return x;
}

// Runs the kernel the launcher picks for [outer, n, inner] (or the column kernel when
// force_cols), on the launcher's grid (grid == 0) or `grid` blocks, and compares with the CPU:
// bit for bit, except float16 outputs, which are compared as values (NaN as NaN: CUDA's
// conversion gives the canonical NaN, Eigen's keeps the payload) within half_ulps.
template <typename T, ReduceOp O>
void check_reduce(int64_t outer, int64_t n, int64_t inner, const std::vector<T>& x, unsigned grid,
                  bool force_cols = false, [[maybe_unused]] int half_ulps = 0) {
  const bool rows = !force_cols && inner == 1 && n > rk::kRowsMinN;  // the launcher's choice
  SCOPED_TRACE(std::string(op_name(O)) + " " + dtype_name(dtype_of<T>()) + " [" +
               std::to_string(outer) + ", " + std::to_string(n) + ", " + std::to_string(inner) +
               "] " + (rows ? "row" : "column") + " kernel, grid " + std::to_string(grid) +
               (rows ? (cub::order == cub::Order::Tree ? ", tree fold" : ", reverse fold") : ""));
  using Out = std::conditional_t<O == ReduceOp::ArgMax, int64_t, T>;
  PoisonedBuffer<Out> got(outer * inner), want(outer * inner);
  backend_for(kCPU).reduce(O, x.data(), want.data(), dtype_of<T>(), outer, n, inner);
  if (rows) {
    const unsigned blocks = grid > 0 ? grid : static_cast<unsigned>(outer);  // outer < 65535
    emu::emulate_launch({blocks}, {rk::kBlock}, rk::reduce_rows_kernel<T, O>, x.data(),
                        static_cast<void*>(got.data()), outer, n);
  } else {
    emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(outer * inner)},
                               {kDefaultBlockSize}, rk::reduce_cols_kernel<T, O>, x.data(),
                               static_cast<void*>(got.data()), outer, n, inner);
  }
#if LOOM_EMU_HALF
  if constexpr (kIsHalf<Out>) {
    emu_test::expect_half_close(got.data(), want.data(), outer * inner, half_ulps,
                                half_ulps == 0 ? 0 : outer * inner, op_name(O));
    EXPECT_TRUE(got.guard_intact());
    return;
  }
#endif
  expect_bytes_equal(got.data(), want.data(), outer * inner, op_name(O));
  EXPECT_TRUE(got.guard_intact());
}

// sum_half_ulps: the float16 sum's tolerance (the max/min/argmax are always exact).
template <typename T>
void check_all_ops(int64_t outer, int64_t n, int64_t inner, const std::vector<T>& x, unsigned grid,
                   bool force_cols = false, int sum_half_ulps = 0) {
  check_reduce<T, ReduceOp::Sum>(outer, n, inner, x, grid, force_cols, sum_half_ulps);
  check_reduce<T, ReduceOp::Max>(outer, n, inner, x, grid, force_cols);
  check_reduce<T, ReduceOp::Min>(outer, n, inner, x, grid, force_cols);
  check_reduce<T, ReduceOp::ArgMax>(outer, n, inner, x, grid, force_cols);
}

template <typename T>
void check_columns(bool integer_valued) {
  struct Shape {
    int64_t outer, n, inner;
  };
  for (Shape s :
       {Shape{3, 5, 7}, Shape{2, 1, 300}, Shape{4, 64, 1}, Shape{1, 9, 2}, Shape{5, 2, 130}}) {
    // NaN at j = 0 of output (0, 0) and at j = 1 of output (0, inner - 1) when n > 1.
    std::vector<int64_t> nans = {0};
    if (s.n > 1) nans.push_back(s.inner + s.inner - 1);
    const std::vector<T> x = make_input<T>(s.outer * s.n * s.inner, integer_valued, nans, 3);
    for (unsigned grid : {0u, 1u})
      check_all_ops<T>(s.outer, s.n, s.inner, x, grid);
  }
}

TEST(ReduceKernelsEmulation, ColumnKernelEqualsTheCpuLoop) {
  check_columns<float>(false);  // arbitrary values: the same loop, so the same rounding
  check_columns<double>(false);
  check_columns<float>(true);  // ties everywhere: the first maximum wins
  check_columns<int32_t>(true);
  check_columns<int64_t>(true);
}

TEST(ReduceKernelsEmulation, Float16ColumnKernelEqualsTheCpuLoop) {
#if LOOM_EMU_HALF
  // float16 input, sums in float, rounded once to half: the CPU's loop and order, so exact on
  // arbitrary values; max/min/argmax compare the widened floats, NaN rules included.
  check_columns<__half>(false);
  check_columns<__half>(true);
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(ReduceKernelsEmulation, ColumnKernelOnLongRowsToo) {
  // The launcher never sends inner == 1, n > 64 here, but the kernel handles any shape.
  const std::vector<float> x = make_input<float>(2 * 100, false, {0, 150}, 4);
  check_all_ops<float>(2, 100, 1, x, 1, /*force_cols=*/true);
}

template <typename T>
void check_rows(int64_t outer, int64_t n, unsigned grid, bool integer_valued = true,
                int sum_half_ulps = 0) {
  // Row 0 has NaN at j = 0 (it wins max and min, index 0); row 1 a NaN in the middle, which
  // never wins; integer values in [-3, 3], so every row has many tied maxima.
  std::vector<int64_t> nans = {0};
  if (outer > 1) nans.push_back(n + n / 2);
  const std::vector<T> x = make_input<T>(outer * n, integer_valued, nans, 5);
  check_all_ops<T>(outer, n, 1, x, grid, false, sum_half_ulps);
  if (!integer_valued) {  // and sums that are not NaN
    const std::vector<T> clean = make_input<T>(outer * n, false, {}, 6);
    check_reduce<T, ReduceOp::Sum>(outer, n, 1, clean, grid, false, sum_half_ulps);
  }
}

TEST(ReduceKernelsEmulation, RowKernelEqualsTheCpuUnderAnyFoldOrder) {
  for (cub::Order order : {cub::Order::Tree, cub::Order::Reverse}) {
    cub::order = order;
    check_rows<float>(3, 65, 0);    // one element past the threshold: 65 of 256 threads busy
    check_rows<float>(3, 700, 1);   // one block loops over the rows; threads loop over j
    check_rows<double>(5, 300, 2);  // 2 blocks stride over 5 rows
    check_rows<int32_t>(2, 257, 0);
    check_rows<int64_t>(1, 1000, 0);
  }
  cub::order = cub::Order::Tree;
}

TEST(ReduceKernelsEmulation, Float16RowKernelUnderAnyFoldOrder) {
#if LOOM_EMU_HALF
  for (cub::Order order : {cub::Order::Tree, cub::Order::Reverse}) {
    cub::order = order;
    // Integer-valued: the float sum is exact in any order, so bit for bit; ties and NaN as for
    // float.
    check_rows<__half>(3, 65, 0);
    check_rows<__half>(3, 700, 1);
    // Arbitrary values: max/min/argmax still bit for bit; the float sums of ~700 halves in
    // another order differ by a few float ulps, which can move the one rounding to half to
    // the neighbour: one half-ulp (parity_util.h's float16 rule).
    check_rows<__half>(5, 700, 2, /*integer_valued=*/false, /*sum_half_ulps=*/1);
  }
  cub::order = cub::Order::Tree;
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

}  // namespace
}  // namespace loom::cuda
