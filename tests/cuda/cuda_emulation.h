// tests/cuda/cuda_emulation.h: CUDA's execution model on the CPU, for running the bodies of the
// emulated kernel headers (cuda/kernels/*_kernels.cuh) with g++.
//
//   #include "tests/cuda/cuda_emulation.h"   // first: defines the CUDA keywords for g++
//   #include "cuda/kernels/adam_kernels.cuh"
//   emu::emulate_launch({blocks}, {256}, kernel_fn<float, true>, table, hyper, found_inf);
//
// Blocks run one after another; a block's threads run at once, a std::thread each, and
// __syncthreads() is a barrier (emulate_launch_serial runs barrier-free kernels' threads one after
// another, in reverse). Dynamic shared memory is a test-owned array poisoned with 0xFF before each
// block and guarded after; atomics are a read-modify-write under a mutex. In a CUDA build
// cuda_fp16.h compiles as host C++ and LOOM_EMU_HALF is 1, so __half kernels run too. The whole
// model and what it cannot show (launch limits, warps, coalescing, libdevice, the hardware's
// atomics and half instructions, races between blocks): cuda/README.md, "What runs on the CPU".
// The keywords stay defined for the rest of the source; a header with only dynamic shared memory
// is included after `#undef __shared__` / `#define __shared__` (`extern static` is not C++).
#pragma once

// cuda_fp16.h first: it defines __device__, __shared__... for a host compiler (CUDA's
// host_defines.h), which the keyword section at the end of this file then replaces.
#if defined(LOOM_HAVE_CUDA) && LOOM_HAVE_CUDA
#include <cuda_fp16.h>
#define LOOM_EMU_HALF 1
#else
#define LOOM_EMU_HALF 0
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace emu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local Dim3 thread_idx{0, 0, 0}, block_idx{0, 0, 0};  // this CUDA thread's
inline Dim3 block_dim, grid_dim;                                   // of the running launch

// __syncthreads() for n threads (reusable); arrive_and_wait_or also ORs a predicate over them.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  bool arrive_and_wait_or(bool predicate) {
    std::unique_lock<std::mutex> lock(mutex_);
    pending_ = pending_ || predicate;
    const int64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      result_ = pending_;
      pending_ = false;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
    // result_ cannot change before every thread, this one included, arrives again.
    return result_;
  }
  void arrive_and_wait() { arrive_and_wait_or(false); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int n_, arrived_ = 0;
  int64_t generation_ = 0;
  bool pending_ = false, result_ = false;
};
inline Barrier* barrier = nullptr;

// The dynamic shared memory of a launch: `bytes` of the test's array `base` (of `capacity`).
struct DynamicShared {
  unsigned char* base = nullptr;
  std::size_t capacity = 0, bytes = 0;
};

// Runs body() as a grid of grid.x blocks of block.x threads, one block after another.
// body is called on every thread (emu::thread_idx/block_idx set); use emulate_launch below
// for a kernel function and its arguments.
template <typename Body>
void emulate_grid(Dim3 grid, Dim3 block, DynamicShared smem, const Body& body) {
  ASSERT_LE(smem.bytes, smem.capacity);
  ASSERT_GE(block.x, 1u);
  grid_dim = Dim3{grid.x, 1, 1};
  block_dim = Dim3{block.x, 1, 1};
  for (unsigned b = 0; b < grid.x; ++b) {
    Barrier bar(static_cast<int>(block.x));
    barrier = &bar;
    if (smem.base) std::memset(smem.base, 0xFF, smem.capacity);  // NaN in every word
    std::vector<std::thread> team;
    team.reserve(block.x);
    for (unsigned t = 0; t < block.x; ++t) {
      team.emplace_back([&body, t, b] {
        thread_idx = Dim3{t, 0, 0};
        block_idx = Dim3{b, 0, 0};
        body();
      });
    }
    for (std::thread& th : team)
      th.join();
    barrier = nullptr;
    if (smem.base) {
      // A write past the launch's dynamic shared memory would be an out-of-range access on the
      // GPU; here it lands in the rest of the array, so check that it is still untouched.
      unsigned char* const end = smem.base + smem.capacity;
      const unsigned char* past =
          std::find_if(smem.base + smem.bytes, end, [](unsigned char x) { return x != 0xFF; });
      ASSERT_TRUE(past == end) << "block " << b << " wrote shared memory byte "
                               << (past - smem.base) << ", past the " << smem.bytes
                               << " bytes launched with";
    }
  }
}

// kernel<<<grid, block>>>(args...): each thread calls kernel(args...) on its own copies of the
// arguments (CUDA passes kernel arguments by value).
template <typename Kernel, typename... Args>
void emulate_launch(Dim3 grid, Dim3 block, Kernel kernel, const Args&... args) {
  emulate_grid(grid, block, DynamicShared{}, [&] { kernel(args...); });
}

// The lock of the emulated atomics (one for all addresses: correct, and fast enough here).
inline std::mutex atomic_mutex;

// kernel<<<grid, block>>>(args...) for a kernel WITHOUT __syncthreads: the threads of each
// block run one after another on the calling thread, from the last to the first (a legal
// schedule: such threads may not depend on each other; the reverse of the natural order, so an
// accidental dependence on it shows). Far cheaper than a std::thread per CUDA thread, for tests
// that launch hundreds of times; a __syncthreads() here dereferences a null barrier and crashes
// the test, so it cannot pass unnoticed.
template <typename Kernel, typename... Args>
void emulate_launch_serial(Dim3 grid, Dim3 block, Kernel kernel, const Args&... args) {
  ASSERT_GE(block.x, 1u);
  grid_dim = Dim3{grid.x, 1, 1};
  block_dim = Dim3{block.x, 1, 1};
  barrier = nullptr;
  for (unsigned b = 0; b < grid.x; ++b) {
    for (unsigned t = block.x; t-- > 0;) {
      thread_idx = Dim3{t, 0, 0};
      block_idx = Dim3{b, 0, 0};
      kernel(args...);
    }
  }
}

}  // namespace emu

// CUDA's atomicAdd / atomicMin for the types the kernels use (float, double, int,
// unsigned long long; atomicAdd on __half too): *p op= v as one step; returns the old value.
template <typename T>
T atomicAdd(T* p, T v) {
  std::lock_guard<std::mutex> lock(emu::atomic_mutex);
  const T old = *p;
  *p = static_cast<T>(old + v);
  return old;
}
#if LOOM_EMU_HALF
// sm_70+'s atomicAdd on a __half: the sum of the two, rounded to nearest even.
inline __half atomicAdd(__half* p, __half v) {
  std::lock_guard<std::mutex> lock(emu::atomic_mutex);
  const __half old = *p;
  *p = __float2half_rn(__half2float(old) + __half2float(v));
  return old;
}
#endif
template <typename T>
T atomicMin(T* p, T v) {
  std::lock_guard<std::mutex> lock(emu::atomic_mutex);
  const T old = *p;
  if (v < old) *p = v;
  return old;
}

// ---- the CUDA keywords, for g++ ------------------------------------------------------------
// (#undef first: cuda_fp16.h, above, may have defined some of them for a host compiler.)
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#undef __align__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define __align__(n)
#define threadIdx emu::thread_idx
#define blockIdx emu::block_idx
#define blockDim emu::block_dim
#define gridDim emu::grid_dim
#define __syncthreads() emu::barrier->arrive_and_wait()
#define __syncthreads_or(p) (emu::barrier->arrive_and_wait_or((p) != 0) ? 1 : 0)
// Device math the kernels call unqualified (CUDA provides them in the global namespace).
using std::fma;
using std::isfinite;
using std::isnan;
