// cuda/kernels/reduce_kernels.cuh: the kernels of reduce.cu: the row kernel (one block per row,
// cub::BlockReduce) and the column kernel (one thread per output), and the (key, index) pairs
// and NaN rule they share. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, threadIdx/blockIdx/gridDim, __syncthreads, a static __shared__ variable and
// cub::BlockReduce, so tests/cuda/reduce_kernels_emulation_test.cpp runs these bodies on the CPU,
// with a stand-in cub::BlockReduce written from CUB's documented contract.
//
// Leaves out: the launcher and its choice of kernel (reduce.cu).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/kernels/kernel_types.h"
#include "cuda/kernels/launch.cuh"
#include "tensor/backend.h"  // ReduceOp

#ifdef __CUDACC__
#include <cub/block/block_reduce.cuh>

#include "cuda/kernels/kernel_util.cuh"  // to_compute, to_out
#endif

namespace loom::cuda::reduce_kernels {

constexpr int kBlock = kDefaultBlockSize;
// Below this many elements per row a whole block per row is mostly idle threads; the column
// kernel (one thread per row) does better.
constexpr int64_t kRowsMinN = 64;
constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::max();  // an empty (key, index)

// A candidate for max/min: its (possibly remapped) key and its position j along the axis.
template <typename C>
struct Best {
  C key;
  int64_t index;
};

// "Better key wins, ties go to the lower index"; an empty candidate always loses.
template <bool kMax>
struct PickBest {
  template <typename C>
  __device__ Best<C> operator()(const Best<C>& a, const Best<C>& b) const {
    if (a.index == kNoIndex) return b;
    if (b.index == kNoIndex) return a;
    const bool b_better = kMax ? b.key > a.key : b.key < a.key;
    const bool a_better = kMax ? a.key > b.key : a.key < b.key;
    return b_better || (!a_better && b.index < a.index) ? b : a;
  }
};

// The key of element j with value v: a NaN at j = 0 gets the best key (it wins, as in the
// CPU's scan, which never replaces a first NaN), a NaN anywhere else the worst (it never wins).
template <bool kMax, typename C>
__device__ __forceinline__ C best_key(C v, int64_t j) {
  if constexpr (std::is_floating_point_v<C>) {
    if (isnan(v)) {
      const C inf = static_cast<C>(INFINITY);
      return (j == 0) == kMax ? inf : -inf;
    }
  }
  return v;
}

// ---- kernels -----------------------------------------------------------------------------

// inner == 1: block b reduces rows b, b + gridDim.x, ... of x [outer, n] (a block-stride loop:
// the unit of work is a whole row, not an element). out is T (Sum, Max, Min) or int64 (ArgMax).
template <typename T, ReduceOp O>
__global__ void __launch_bounds__(kBlock)
    reduce_rows_kernel(const T* __restrict__ x, void* __restrict__ out, int64_t outer, int64_t n) {
  using C = ComputeT<T>;
  constexpr bool kMax = O != ReduceOp::Min;
  using Acc = std::conditional_t<O == ReduceOp::Sum, C, Best<C>>;
  using BlockReduce = cub::BlockReduce<Acc, kBlock>;
  __shared__ typename BlockReduce::TempStorage temp;

  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    const T* base = x + row * n;
    if constexpr (O == ReduceOp::Sum) {
      C acc = C(0);
      for (int64_t j = threadIdx.x; j < n; j += kBlock)
        acc += to_compute(base[j]);
      const C total = BlockReduce(temp).Sum(acc);
      if (threadIdx.x == 0) static_cast<T*>(out)[row] = to_out<T>(total);
    } else {
      Best<C> best{C(0), kNoIndex};
      for (int64_t j = threadIdx.x; j < n; j += kBlock) {
        best = PickBest<kMax>{}(best, Best<C>{best_key<kMax>(to_compute(base[j]), j), j});
      }
      const Best<C> winner = BlockReduce(temp).Reduce(best, PickBest<kMax>{});
      if (threadIdx.x == 0) {
        if constexpr (O == ReduceOp::ArgMax) {
          static_cast<int64_t*>(out)[row] = winner.index;
        } else {
          static_cast<T*>(out)[row] = base[winner.index];
        }
      }
    }
    __syncthreads();  // `temp` is reused for the next row
  }
}

// Any shape: thread t computes output t = (o, i) of out [outer, inner] with the CPU's loop.
template <typename T, ReduceOp O>
__global__ void reduce_cols_kernel(const T* __restrict__ x, void* __restrict__ out, int64_t outer,
                                   int64_t n, int64_t inner) {
  using C = ComputeT<T>;
  for (int64_t t : grid_stride(outer * inner)) {
    const int64_t o = t / inner, i = t % inner;
    const T* base = x + o * n * inner + i;
    if constexpr (O == ReduceOp::Sum) {
      C acc = C(0);
      for (int64_t j = 0; j < n; ++j)
        acc += to_compute(base[j * inner]);
      static_cast<T*>(out)[t] = to_out<T>(acc);
    } else {
      C acc = to_compute(base[0]);
      int64_t arg = 0;
      for (int64_t j = 1; j < n; ++j) {
        const C v = to_compute(base[j * inner]);
        if (O == ReduceOp::Min ? v < acc : v > acc) {
          acc = v;
          arg = j;
        }
      }
      if constexpr (O == ReduceOp::ArgMax) {
        static_cast<int64_t*>(out)[t] = arg;
      } else {
        static_cast<T*>(out)[t] = base[arg * inner];
      }
    }
  }
}

}  // namespace loom::cuda::reduce_kernels
