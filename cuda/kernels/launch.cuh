// cuda/kernels/launch.cuh: the one grid helper every launcher shares.
//
//   const LaunchConfig cfg = launch_for(n, kBlock, "add");   // host: checks, then the grid
//   add_kernel<<<cfg.grid, cfg.block, 0, stream>>>(out, a, b, n);
//   LOOM_CUDA_CHECK_LAUNCH();
//   ... and in the kernel: for (int64_t i : grid_stride(n)) out[i] = a[i] + b[i];
//
// The grid is ceil(n / block) blocks, capped at kMaxGridBlocks; the grid-stride loop covers the
// rest, so any grid covers any n. Preconditions (n >= 0; a block size that is a multiple of 32 up
// to 1024) are checked on the host and throw loom::Error naming the launcher. The host arithmetic
// (ceil_div, blocks_for) is plain C++, tested without a GPU (tests/cuda/launch_test.cpp); the
// dim3 and __device__ parts are compiled by nvcc only.
//
// Leaves out: 2-D/3-D grids and occupancy-based sizing (launchers that need them say so).
#pragma once

#include <cstdint>

#include "tensor/error.h"
#include "tensor/kernels/host_device.h"

#ifdef __CUDACC__
#include <cuda_runtime.h>
#endif

namespace loom::cuda {

constexpr int kWarpSize = 32;
constexpr int kMaxBlockSize = 1024;
constexpr int kDefaultBlockSize = 256;
// 65535 blocks of 256 threads is ~16.7M threads: enough to fill any current GPU many times.
constexpr int64_t kMaxGridBlocks = 65535;

// ceil(a / b) for a >= 0, b > 0 (callers check; this is also used inside kernels).
LOOM_HOST_DEVICE constexpr int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// The number of blocks for n elements at `block_size` threads per block, one element per
// thread, capped at kMaxGridBlocks (the grid-stride loop covers the rest). n == 0 gives 0:
// the launcher must skip the launch (a zero-block grid is an invalid configuration).
inline int64_t blocks_for(int64_t n, int block_size, const char* launcher) {
  LOOM_CHECK(n >= 0, launcher, ": negative element count ", n);
  LOOM_CHECK(block_size > 0 && block_size <= kMaxBlockSize && block_size % kWarpSize == 0, launcher,
             ": block size ", block_size, " must be a multiple of ", kWarpSize, " in [", kWarpSize,
             ", ", kMaxBlockSize, "]");
  const int64_t blocks = ceil_div(n, block_size);
  return blocks < kMaxGridBlocks ? blocks : kMaxGridBlocks;
}

#ifdef __CUDACC__

struct LaunchConfig {
  dim3 grid;
  dim3 block;
};

// The launch configuration for n > 0 elements (n == 0 throws: skip empty launches before).
inline LaunchConfig launch_for(int64_t n, int block_size, const char* launcher) {
  const int64_t blocks = blocks_for(n, block_size, launcher);
  LOOM_CHECK(blocks > 0, launcher, ": launch for 0 elements (skip empty launches)");
  return LaunchConfig{dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(block_size))};
}

// Iterates i = global thread id, then += total threads in the grid, while i < n.
// Use as `for (int64_t i : grid_stride(n))` inside a kernel launched with launch_for.
class GridStride {
 public:
  class Iterator {
   public:
    __device__ Iterator(int64_t i, int64_t step) : i_(i), step_(step) {}
    __device__ int64_t operator*() const { return i_; }
    __device__ Iterator& operator++() {
      i_ += step_;
      return *this;
    }
    // Only ever compared against end(): "not done yet".
    __device__ bool operator!=(const Iterator& end) const { return i_ < end.i_; }

   private:
    int64_t i_, step_;
  };

  __device__ explicit GridStride(int64_t n) : n_(n) {}
  __device__ Iterator begin() const {
    const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    return Iterator(start, step);
  }
  __device__ Iterator end() const { return Iterator(n_, 0); }

 private:
  int64_t n_;
};

__device__ inline GridStride grid_stride(int64_t n) {
  return GridStride(n);
}

#endif  // __CUDACC__

}  // namespace loom::cuda
