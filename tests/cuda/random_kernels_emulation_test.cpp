// tests/cuda/random_kernels_emulation_test.cpp: the uniform and normal fill kernels of
// cuda/kernels/random_kernels.cuh, run on the CPU under emulation (tests/cuda/cuda_emulation.h)
// against the CPU backend's random_uniform / random_normal — in every build.
//
// What this checks: element i of a fill at generator offset `offset` is Philox counter
// offset + i whatever the launch — on the launcher's grid, and on a grid far smaller than n, so
// the grid-stride loop wraps several times — at offsets that are not 0 and that cross 2^32 (the
// counter is 64-bit). Exact: the emulated kernel and the CPU run the same Philox code and the
// same explicit fma, so every value must be equal bit for bit.
//
// float16 (in a CUDA build): the __half fills, value -> float -> half, bit for bit too.
//
// What it cannot check: CUDA's libdevice log/sqrt/cos in the normal fill (on a GPU float64 normals
// may differ from glibc's by an ulp: parity_copy_test.cpp allows for that; here both sides use
// glibc).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/random_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::dtype_of;

namespace rf = random_kernels;

// One fill of n elements by the emulated kernel on `grid` blocks (0: the launcher's
// launch_for(n, kBlock) grid) and by the CPU backend; expects the same bits everywhere.
template <typename T>
void check_fill(bool normal, int64_t n, uint64_t offset, unsigned grid) {
  SCOPED_TRACE(std::string(normal ? "normal " : "uniform ") + dtype_name(dtype_of<T>()) + " n " +
               std::to_string(n) + " offset " + std::to_string(offset) + " grid " +
               std::to_string(grid));
  const uint64_t seed = 0x5eed1234abcdULL;
  const double a = normal ? 0.5 : -2.0, b = normal ? 3.0 : 5.0;  // mean, stddev / low, high
  std::vector<T> gpu(static_cast<std::size_t>(n), emu_test::from_double<T>(-1)),
      cpu(gpu.size(), emu_test::from_double<T>(-2));
  const unsigned blocks =
      grid > 0 ? grid : static_cast<unsigned>(blocks_for(n, rf::kBlock, "rand"));
  if (normal)
    emu::emulate_launch(emu::Dim3{blocks}, emu::Dim3{rf::kBlock}, rf::random_normal_kernel<T>,
                        gpu.data(), n, seed, offset, a, b);
  else
    emu::emulate_launch(emu::Dim3{blocks}, emu::Dim3{rf::kBlock}, rf::random_uniform_kernel<T>,
                        gpu.data(), n, seed, offset, a, b);
  const DType dt = dtype_of<T>();
  if (normal)
    backend_for(kCPU).random_normal(cpu.data(), dt, n, seed, offset, a, b);
  else
    backend_for(kCPU).random_uniform(cpu.data(), dt, n, seed, offset, a, b);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; ++i) {
    if (std::memcmp(&gpu[i], &cpu[i], sizeof(T)) != 0) {
      ++bad;
      ADD_FAILURE() << "element " << i << ": emulated kernel " << emu_test::to_double(gpu[i])
                    << ", CPU " << emu_test::to_double(cpu[i]);
    }
  }
}

TEST(RandomKernelsEmulation, EqualToTheCpuFillsBitForBit) {
  for (bool normal : {false, true}) {
    for (uint64_t offset : {uint64_t{0}, uint64_t{12345}, (uint64_t{1} << 32) - 700}) {
      check_fill<float>(normal, 700, offset, 0);  // the launcher's 3 blocks
      check_fill<double>(normal, 700, offset, 0);
      check_fill<float>(normal, 1, offset, 0);
    }
  }
}

TEST(RandomKernelsEmulation, Float16FillsBitForBit) {
#if LOOM_EMU_HALF
  // The value in double (explicit fma), to float, rounded once to half (to_out): the CPU's
  // static_cast<half>(static_cast<float>(...)). Bit for bit.
  for (bool normal : {false, true}) {
    for (uint64_t offset : {uint64_t{0}, (uint64_t{1} << 32) - 700}) {
      check_fill<__half>(normal, 700, offset, 0);
      check_fill<__half>(normal, 1300, offset, 2);
    }
  }
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(RandomKernelsEmulation, AGridSmallerThanTheFillWrapsAround) {
  // 2 blocks of 256 threads for 1300 elements: each thread draws 2 or 3 numbers.
  for (bool normal : {false, true}) {
    check_fill<float>(normal, 1300, 77, 2);
    check_fill<double>(normal, 1300, (uint64_t{1} << 32) - 1000, 1);
  }
}

}  // namespace
}  // namespace loom::cuda
