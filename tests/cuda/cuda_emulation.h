// tests/cuda/cuda_emulation.h: CUDA's execution model on the CPU, for running kernel bodies
// written in headers that use no CUDA API beyond the few things defined here
// (cuda/kernels/lstm_persistent_kernels.cuh, cuda/kernels/adam_kernels.cuh, cuda/kernels/loss_scale_kernels.cuh).
//
//   #include "tests/cuda/cuda_emulation.h"   // first: defines the CUDA keywords for g++
//   #include "cuda/kernels/adam_kernels.cuh"
//   emu::emulate_launch({blocks}, {256}, kernel_fn<float, true>, table, hyper, found_inf);
//
// The model: the blocks of a grid run one after another (a kernel's blocks never wait for each
// other, so any order is a legal schedule); the threads of a block run at once, each CUDA thread
// a std::thread with its own threadIdx; __syncthreads() is a barrier of all the block's threads,
// __syncthreads_or(p) the same barrier returning whether any thread passed p != 0. Dynamic
// shared memory (`extern __shared__`) is a host array the test owns and hands to the launch; it
// is filled with 0xFF bytes (NaN for floats) before every block, so a word read before any thread
// of the block wrote it shows up, and the bytes past the launch's size are checked afterwards, so
// a write beyond it shows up too. Static `__shared__` variables become function-local statics:
// one per kernel instantiation, shared by the block's threads as on a GPU, but NOT poisoned
// between blocks (they keep the last block's values). Only x of each dim3 is used (y, z = 1).
// Built with -fsanitize=thread, a missing __syncthreads() shows up as a data race.
// atomicAdd and atomicMin are a read-modify-write under one mutex: the block's threads really
// run at once, so a kernel that lost updates without them would show it; their order is the
// OS scheduler's, as on a GPU it is the hardware's.
//
// float16: in a CUDA build (LOOM_HAVE_CUDA) this header includes CUDA's own cuda_fp16.h, which
// compiles as host C++ (software conversions, round to nearest even like the device's cvt.rn),
// and sets LOOM_EMU_HALF to 1, so kernels instantiated for __half run here too; atomicAdd on a
// __half rounds the float sum to nearest even, as sm_70+'s does. Without CUDA, LOOM_EMU_HALF is
// 0 and the float16 tests skip. NaNs: cuda_fp16.h's conversions give the canonical NaN (0x7FFF,
// 0x7FFFFFFF) as the device's cvt does, where Eigen::half keeps sign and payload.
//
// What it cannot show: anything about the hardware or the toolchain — launch limits, the 4 KB
// parameter space, memory coalescing, warp-level behaviour (a kernel relying on lock-step warps
// would pass here and fail there), libdevice's math functions, the device's half instructions
// themselves (here the host implementations of cuda_fp16.h run), alignment
// faults (an unaligned 16-byte access works on the CPU; the kernels' own alignment tests are
// what is exercised), the hardware atomics and races between blocks (blocks never
// overlap here).
//
// It defines the CUDA keywords as macros (__global__, __device__, __shared__, threadIdx, ...),
// which stay defined for the rest of the source. `__shared__` means `static` (for static shared
// variables); a header that declares only dynamic shared memory (`extern __shared__ T x[]`, which
// binds to the test's array) is included after `#undef __shared__` / `#define __shared__`, since
// `extern static` is not C++ (tests/cuda/lstm_persistent_emulation_test.cpp does so).
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
