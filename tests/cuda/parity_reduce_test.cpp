// tests/cuda/parity_reduce_test.cpp: CPU-vs-CUDA parity of reduce (sum, max, min, argmax) over
// [outer, n, inner], on shapes that take each CUDA kernel (the block-per-row kernel when
// inner == 1 and n > 64, the thread-per-output kernel otherwise), for every dtype; argmax ties
// and NaNs follow the CPU's "first maximum wins"; then the frontend reductions.
// Max, min and argmax are exact; sums are within the dtype's tolerance relative to sum |x|.
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

// [outer, n, inner]: rows kernel (1000, 300 with inner 1), column kernel (short rows, inner > 1),
// degenerate sizes.
const std::array<int64_t, 3> kShapes[] = {{1, 1000, 1}, {37, 300, 1}, {5, 10, 1}, {4, 100, 7},
                                          {1, 1, 1},    {3, 1, 9},    {2, 65, 3}, {1, 5000, 1}};

const ReduceOp kOps[] = {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax};
const char* const kOpNames[] = {"sum", "max", "min", "argmax"};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<std::size_t>(ReduceOp::kCount),
              "one name per ReduceOp");

// Runs reduce on both devices with poisoned outputs; sums compare against scale = sum |x|.
void check_reduce(ReduceOp op, const Tensor& x, DType dt, const std::array<int64_t, 3>& s) {
  const int64_t outer = s[0], n = s[1], inner = s[2];
  const DType out_dt = op == ReduceOp::ArgMax ? DType::Int64 : dt;
  const Tensor xd = x.to(kCuda);
  Tensor ref = poisoned({outer, inner}, out_dt, kCPU),
         got = poisoned({outer, inner}, out_dt, kCuda);
  cpu_be().reduce(op, x.raw_data(), ref.raw_data(), dt, outer, n, inner);
  cuda_be().reduce(op, xd.raw_data(), got.raw_data(), dt, outer, n, inner);
  if (op == ReduceOp::Sum && is_floating(dt)) {
    const Tensor scale = sum(abs(x.to(DType::Float64)).view({outer, n, inner}), 1);
    EXPECT_TRUE(expect_close(ref, got, sum_tol_for(dt), scale));
  } else {
    EXPECT_TRUE(expect_close(ref, got));
  }
}

TEST(CudaParityReduce, EveryOpEveryDTypeBothKernels) {
  LOOM_PARITY_BEGIN();
  for (ReduceOp op : kOps) {
    for (DType dt : kAllDTypes) {
      if (dt == DType::Bool) continue;
      for (const auto& s : kShapes) {
        SCOPED_TRACE(std::string(kOpNames[static_cast<int>(op)]) + " " + dtype_name(dt) + " [" +
                     std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " +
                     std::to_string(s[2]) + "]");
        const Tensor x = random_tensor({s[0] * s[1] * s[2]}, dt, gen, -100, 100);
        check_reduce(op, x, dt, s);
      }
    }
  }
}

TEST(CudaParityReduce, ArgMaxAndMaxKeepTheFirstOfEqualMaxima) {
  LOOM_PARITY_BEGIN();
  for (DType dt : {DType::Float32, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64}) {
    for (const auto& s : kShapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " n " + std::to_string(s[1]));
      // Three distinct values: every row has many equal maxima and minima.
      const Tensor x = random_tensor({s[0] * s[1] * s[2]}, DType::Int64, gen, 0, 3).to(dt);
      check_reduce(ReduceOp::ArgMax, x, dt, s);
      check_reduce(ReduceOp::Max, x, dt, s);
      check_reduce(ReduceOp::Min, x, dt, s);
    }
  }
}

TEST(CudaParityReduce, NaNsFollowTheCpu) {
  LOOM_PARITY_BEGIN();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& s : kShapes) {
    if (s[1] < 3) continue;
    SCOPED_TRACE("n " + std::to_string(s[1]));
    const int64_t total = s[0] * s[1] * s[2];
    for (int64_t where_nan : {int64_t{0}, int64_t{1}, s[1] - 1}) {
      // A NaN at position where_nan along the axis of every output (j = 0 is the special case).
      Tensor x = random_tensor({total}, DType::Float64, gen, -100, 100);
      x.view({s[0], s[1], s[2]}).narrow(1, where_nan, 1).fill_(nan);
      const Tensor xf = x.to(DType::Float32);
      for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax}) {
        SCOPED_TRACE(std::string(kOpNames[static_cast<int>(op)]) + " NaN at " +
                     std::to_string(where_nan));
        check_reduce(op, xf, DType::Float32, s);
      }
    }
  }
}

TEST(CudaParityReduce, BoolIsRefusedLikeOnTheCpu) {
  LOOM_PARITY_BEGIN();
  const Tensor x = random_tensor({10}, DType::Bool, gen).to(kCuda);
  Tensor out = poisoned({1}, DType::Bool, kCuda);
  EXPECT_THROW(cuda_be().reduce(ReduceOp::Sum, x.raw_data(), out.raw_data(), DType::Bool, 1, 10, 1),
               Error);
}

TEST(CudaParityReduce, FrontendReductionsMatchTheCpu) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = random_tensor({6, 70, 5}, dt, gen, -10, 10);
    const Tensor xd = x.to(kCuda);
    const Tensor ax = abs(x.to(DType::Float64));
    for (int64_t dim : {0, 1, 2, -1}) {
      SCOPED_TRACE("dim " + std::to_string(dim));
      poison_cuda_cache(static_cast<std::size_t>(x.numel()) * dtype_size(dt));
      EXPECT_TRUE(expect_close(sum(x, dim), sum(xd, dim), sum_tol_for(dt), sum(ax, dim)));
      EXPECT_TRUE(expect_close(max(x, dim, true), max(xd, dim, true)));
      EXPECT_TRUE(expect_close(min(x, dim), min(xd, dim)));
      EXPECT_TRUE(expect_close(argmax(x, dim), argmax(xd, dim)));
    }
    // Whole-tensor reductions and a reduction of a transposed view.
    EXPECT_TRUE(expect_close(sum(x), sum(xd), sum_tol_for(dt), sum(ax)));
    EXPECT_TRUE(expect_close(argmax(x), argmax(xd)));
    EXPECT_TRUE(expect_close(max(x.transpose(0, 2), 1), max(xd.transpose(0, 2), 1)));
    // mean = sum * (1 / n): in a 16-bit float that is a second rounding, so up to two ulps.
    const Tol one = sum_tol_for(dt);
    const bool narrow = dt == DType::Float16 || dt == DType::BFloat16;
    const Tol mean_tol = narrow ? Tol{2 * one.rtol, 2 * one.atol} : one;
    EXPECT_TRUE(expect_close(mean(x, 1), mean(xd, 1), mean_tol, mean(ax, 1)));
  }
}

}  // namespace
