// tests/cuda/conv1d_kernels_emulation_test.cpp: the kernels of cuda/kernels/conv1d_kernels.cuh run
// on the CPU under emulation (tests/cuda/cuda_emulation.h) with their launcher's grid, against
// the CPU backend's conv1d_im2col / conv1d_col2im / conv1d_direct, every build: im2col and col2im
// byte for byte (the same copies, and col2im's sums in the same k order), the direct loop within
// 1e-12 relative (float64) or 1e-5 (float32), for padding wider than the kernel, kernel 1, and a
// one-block grid (every thread strides over many elements).
//
// Cannot check: the launch itself, the stream.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/conv1d_kernels.cuh"
#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/tensor.h"
#include "tests/cuda/emulation_buffers.h"

namespace loom::cuda {
namespace {

using emu_test::launcher_grid;
namespace ck = conv1d_kernels;

template <typename T>
std::vector<T> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& e : v)
    e = static_cast<T>(u(rng));
  return v;
}

template <typename T>
void check_shape(const Conv1dShape& s, int64_t O, unsigned grid) {
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " T " + std::to_string(s.T) + " K " +
               std::to_string(s.K) + " P " + std::to_string(s.P) + " grid " + std::to_string(grid));
  FusedKernels& cpu = *backend_for(kCPU).fused();
  const DType dt = dtype_of<T>();
  const int64_t To = s.t_out(), ncols = s.B * To * s.C * s.K, nx = s.B * s.T * s.C;
  const std::vector<T> x = random_values<T>(nx, 1), w = random_values<T>(O * s.C * s.K, 2);
  const std::vector<T> bias = random_values<T>(O, 3), cols_in = random_values<T>(ncols, 4);
  const auto blocks = [&](int64_t n) { return grid > 0 ? grid : launcher_grid(n); };

  std::vector<T> cols(ncols, T(-7)), want_cols(ncols, T(-8));
  emu::emulate_launch({blocks(ncols)}, {kDefaultBlockSize}, ck::im2col_kernel<T>, x.data(),
                      cols.data(), s);
  cpu.conv1d_im2col(x.data(), want_cols.data(), dt, s);
  EXPECT_EQ(cols, want_cols) << "im2col";

  std::vector<T> dx(nx, T(-7)), want_dx(nx, T(-8));
  emu::emulate_launch({blocks(nx)}, {kDefaultBlockSize}, ck::col2im_kernel<T>, cols_in.data(),
                      dx.data(), s);
  cpu.conv1d_col2im(cols_in.data(), want_dx.data(), dt, s);
  EXPECT_EQ(dx, want_dx) << "col2im";

  const int64_t ny = s.B * To * O;
  std::vector<T> y(ny, T(-7)), want_y(ny, T(-8));
  emu::emulate_launch({blocks(ny)}, {kDefaultBlockSize}, ck::direct_kernel<T>, x.data(), w.data(),
                      bias.data(), y.data(), s, O);
  cpu.conv1d_direct(x.data(), w.data(), bias.data(), want_y.data(), dt, s, O);
  const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-5;
  for (int64_t i = 0; i < ny; ++i)
    EXPECT_NEAR(y[i], want_y[i], tol * (1 + std::abs(want_y[i]))) << "direct element " << i;
}

TEST(Conv1dKernelsEmulation, MatchTheCpuBackend) {
  for (unsigned grid : {0u, 1u}) {
    for (const Conv1dShape& s : {Conv1dShape{2, 7, 3, 3, 0}, Conv1dShape{3, 5, 4, 4, 2},
                                 Conv1dShape{1, 2, 5, 3, 3}, Conv1dShape{2, 40, 9, 1, 0}}) {
      check_shape<float>(s, 5, grid);
      check_shape<double>(s, 3, grid);
    }
  }
}

}  // namespace
}  // namespace loom::cuda
