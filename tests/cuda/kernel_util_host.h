// tests/cuda/kernel_util_host.h: the pieces of cuda/kernels/kernel_util.cuh and launch.cuh that the
// emulated kernel headers (cuda/kernels/*_kernels.cuh) use, for g++: to_compute, to_out,
// ComputeT, kIsFloat and the grid-stride loop (launch.cuh defines it for nvcc only), plus
// cuda/kernels/kernel_types.h itself (shared with nvcc, not copied). Same names, so the kernel
// bodies compile unchanged. Include it (it includes tests/cuda/cuda_emulation.h) before the
// kernel headers, in a test compiled WITHOUT nvcc.
//
// The conversions: in a CUDA build (LOOM_EMU_HALF) they are cuda/kernels/kernel_convert.cuh's, the
// very definitions nvcc compiles, so the float16 instantiations run here too. Without CUDA there
// is no cuda_fp16.h: this file defines them for the arithmetic types only, and the float16 tests
// skip.
//
// Leaves out: dispatch, ErrorSlot.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/kernels/kernel_types.h"
#include "tests/cuda/cuda_emulation.h"

#if LOOM_EMU_HALF
#include "cuda/kernels/kernel_convert.cuh"  // to_compute, to_out, ComputeT<__half>, kIsFloat
#endif

namespace loom::cuda {

#if !LOOM_EMU_HALF
// No cuda_fp16.h in this build: the conversions for the types plain C++ knows (kernel_convert.cuh
// does the same for them; only __half differs).
template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;
template <typename T>
inline T to_compute(T v) {
  static_assert(std::is_arithmetic_v<T>, "host emulation without CUDA: no __half");
  return v;
}
template <typename Out, typename V>
inline Out to_out(V v) {
  return static_cast<Out>(v);
}
#endif

// for (int64_t i : grid_stride(n)): i = global thread id, then += all threads of the grid
// (launch.cuh's GridStride, read from the emulated threadIdx/blockIdx/blockDim/gridDim).
class GridStride {
 public:
  class Iterator {
   public:
    Iterator(int64_t i, int64_t step) : i_(i), step_(step) {}
    int64_t operator*() const { return i_; }
    Iterator& operator++() {
      i_ += step_;
      return *this;
    }
    bool operator!=(const Iterator& end) const { return i_ < end.i_; }

   private:
    int64_t i_, step_;
  };
  explicit GridStride(int64_t n) : n_(n) {}
  Iterator begin() const {
    const int64_t start =
        static_cast<int64_t>(emu::block_idx.x) * emu::block_dim.x + emu::thread_idx.x;
    return Iterator(start, static_cast<int64_t>(emu::grid_dim.x) * emu::block_dim.x);
  }
  Iterator end() const { return Iterator(n_, 0); }

 private:
  int64_t n_;
};
inline GridStride grid_stride(int64_t n) {
  return GridStride(n);
}

}  // namespace loom::cuda
