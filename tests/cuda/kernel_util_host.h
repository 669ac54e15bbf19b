// tests/cuda/kernel_util_host.h: the few pieces of cuda/kernel_util.cuh and cuda/launch.cuh that
// the emulated kernel headers (cuda/adam_kernels.cuh, cuda/amp_kernels.cuh,
// cuda/random_kernels.cuh, cuda/device_batches_kernels.cuh) use, for g++ and for float and double
// only: Pack and kPackOf (16-byte vector accesses), ComputeT, to_compute, to_out, and the
// grid-stride loop (launch.cuh defines it only for nvcc). Same names, same layout (checked below),
// so the kernel bodies compile unchanged. Include it (it includes tests/cuda/cuda_emulation.h)
// before the kernel headers, in a test compiled WITHOUT nvcc (kernel_util.cuh itself needs CUDA's
// headers and defines the __half versions; cuda/device_batches_kernels.cuh needs only the
// grid-stride loop).
//
// Leaves out: __half (the float16 instantiations run only on a GPU), dispatch, ErrorSlot.
#pragma once

#include <cstdint>
#include <type_traits>

#include "tests/cuda/cuda_emulation.h"

namespace loom::cuda {

// N elements loaded or stored as one aligned access (kernel_util.cuh's Pack).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};
template <typename T>
constexpr int kPackOf = 16 / static_cast<int>(sizeof(T));
static_assert(sizeof(Pack<float, 4>) == 16 && alignof(Pack<float, 4>) == 16, "a float4");
static_assert(sizeof(Pack<double, 2>) == 16 && alignof(Pack<double, 2>) == 16, "a double2");

// float and double compute in their own type (only __half widens, on the GPU).
template <typename T>
using ComputeT = T;
template <typename T>
inline T to_compute(T v) {
  static_assert(std::is_floating_point_v<T>, "host emulation: float and double only");
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
