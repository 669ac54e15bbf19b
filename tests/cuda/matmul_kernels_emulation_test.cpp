// tests/cuda/matmul_kernels_emulation_test.cpp: cuda/kernels/matmul_kernels.cuh's scale_c_kernel
// (what matmul does when k == 0: C = beta * C, or 0 when beta == 0) run on the CPU under emulation
// (tests/cuda/cuda_emulation.h) with its launcher's arguments, against the CPU backend's matmul
// with k == 0 — bit for bit, in every build.
//
// What this checks: beta == 0 writes zeros over a C full of NaN (it must not compute 0 * NaN),
// beta = 0.5 and -3 scale every element; rows padded with ldc > n and batches with gaps
// (stride_c > m * ldc) whose padding and gaps must stay untouched; batch, m, n of 1; float and
// double; the launcher's grid and one block.
//
// float16 (in a CUDA build): beta in float, one rounding to half, as the CPU's float16 matmul;
// bit for bit, NaN as NaN.
//
// What it cannot check: the cuBLAS calls (their arguments are tested by
// tests/cuda/gemm_mapping_test.cpp; GemmEx for half has never run).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/matmul_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_buffers.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::expect_bytes_equal;
using emu_test::launcher_grid;
using emu_test::PoisonedBuffer;

template <typename T>
void check_scale_c(int64_t batch, int64_t m, int64_t n, int64_t pad, int64_t gap, double beta,
                   unsigned grid) {
  const DType dt = emu_test::kIsHalf<T>       ? DType::Float16
                   : std::is_same_v<T, float> ? DType::Float32
                                              : DType::Float64;
  SCOPED_TRACE(std::string(dtype_name(dt)) + " batch " + std::to_string(batch) + " m " +
               std::to_string(m) + " n " + std::to_string(n) + " ldc n+" + std::to_string(pad) +
               " gap " + std::to_string(gap) + " beta " + std::to_string(beta) + " grid " +
               std::to_string(grid));
  MatmulArgs p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.k = 0;
  p.lda = 1;  // A is [m, 0] and B [0, n]: nothing is read
  p.ldb = n;
  p.ldc = n + pad;
  p.stride_c = m * p.ldc + gap;
  p.beta = beta;
  const int64_t size = batch * p.stride_c;
  PoisonedBuffer<T> got(size), want(size);
  for (int64_t i = 0; i < size; ++i) {
    // NaN in the first element of every batch (beta == 0 must not propagate it); padding and
    // gaps hold values too, which must survive.
    const T v = i % p.stride_c == 0
                    ? emu_test::nan_value<T>()
                    : emu_test::from_double<T>(0.25 * static_cast<double>(i % 13) - 1.0);
    got[i] = want[i] = v;
  }
  const T dummy[1] = {emu_test::from_double<T>(0)};
  backend_for(kCPU).matmul(dummy, dummy, want.data(), dt, p);
  // CudaBackend::matmul returns before any launch when batch, m or n is 0.
  emu::emulate_launch({grid > 0 ? grid : launcher_grid(batch * m * n)}, {kDefaultBlockSize},
                      matmul_kernels::scale_c_kernel<T>, got.data(), p.batch, p.m, p.n, p.ldc,
                      p.stride_c, static_cast<ComputeT<T>>(p.beta));
  if constexpr (emu_test::kIsHalf<T>)  // beta * NaN: CUDA's NaN is canonical, Eigen's is not
    emu_test::expect_same_bits_or_nan(got.data(), want.data(), size, "C");
  else
    expect_bytes_equal(got.data(), want.data(), size, "C");
  EXPECT_TRUE(got.guard_intact());
}

TEST(MatmulKernelsEmulation, ScaleCForKZero) {
  for (unsigned grid : {0u, 1u}) {
    for (double beta : {0.0, 0.5, -3.0}) {
      check_scale_c<float>(1, 1, 1, 0, 0, beta, grid);
      check_scale_c<float>(3, 5, 7, 2, 3, beta, grid);
      check_scale_c<double>(2, 20, 15, 0, 0, beta, grid);  // 600 elements: 3 blocks
      check_scale_c<double>(4, 1, 9, 1, 5, beta, grid);
    }
  }
}

TEST(MatmulKernelsEmulation, Float16ScaleCForKZero) {
#if LOOM_EMU_HALF
  // beta in float, C widened, the product rounded once to half: the CPU's float16 matmul does
  // the same (C widened to float, scaled, rounded back), so bit for bit. beta = 0.3 rounds.
  for (unsigned grid : {0u, 1u}) {
    for (double beta : {0.0, 0.5, -3.0, 0.3}) {
      check_scale_c<__half>(1, 1, 1, 0, 0, beta, grid);
      check_scale_c<__half>(3, 5, 7, 2, 3, beta, grid);
      check_scale_c<__half>(2, 20, 15, 0, 0, beta, grid);
    }
  }
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

}  // namespace
}  // namespace loom::cuda
