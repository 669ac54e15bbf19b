// tests/cuda/kernel_util_host.h: the few pieces of cuda/kernel_util.cuh and cuda/launch.cuh that
// the emulated kernel headers (cuda/*_kernels.cuh) use, for g++ and without __half:
// to_compute, to_out, and the grid-stride loop (launch.cuh defines it only for nvcc), plus
// cuda/kernel_types.h (Pack, kPackOf, ComputeT: shared with nvcc, not copied). Same names, so
// the kernel bodies compile unchanged. Include it (it includes tests/cuda/cuda_emulation.h)
// before the kernel headers, in a test compiled WITHOUT nvcc (kernel_util.cuh itself needs CUDA's
// headers and defines the __half versions; cuda/device_batches_kernels.cuh needs only the
// grid-stride loop).
//
// to_compute/to_out also take the integer and bool types (they are the identity there, as on the
// device), for the copy, cast, index and reduce kernels.
//
// Leaves out: __half (the float16 instantiations run only on a GPU), dispatch, ErrorSlot.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/kernel_types.h"
#include "tests/cuda/cuda_emulation.h"

namespace loom::cuda {

// Pack, kPackOf and ComputeT are cuda/kernel_types.h's, the very ones nvcc uses (there,
// ComputeT<T> is T for float and double; only __half widens, on the GPU).
template <typename T>
inline T to_compute(T v) {
  static_assert(std::is_arithmetic_v<T>, "host emulation: no __half (it widens, on the GPU)");
  return v;
}
template <typename Out, typename V>
inline Out to_out(V v) {
  return static_cast<Out>(v);
}

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
