// cuda/reduce.cu: sum / max / min / argmax over the middle axis of x [outer, n, inner].
// CPU twin: tensor/cpu/reduce.cpp.
//
// Two kernels, chosen by shape:
//   - rows (inner == 1 and n > kRowsMinN: reducing a contiguous last axis): one thread block
//     per output, blocks striding over the outer rows. Each thread folds a strided share of
//     the row, then cub::BlockReduce combines the block. Sums accumulate in the compute type
//     (float for float16 and float32, double for float64, the integer itself), like the CPU,
//     but in a tree order: float sums differ from the CPU's sequential order by rounding only.
//   - columns (everything else): one thread per output (o, i), walking j = 0..n-1 in order,
//     exactly the CPU's loop, so its results equal the CPU's to the bit. Neighbouring threads
//     read neighbouring i, so the loads coalesce.
//
// Max, Min and ArgMax reduce (key, index) pairs with "better key wins, ties go to the lower
// index", a total order, so any tree gives one answer: the CPU's sequential "strictly better
// than the running best" scan, which keeps the FIRST maximum. NaN follows the CPU too: the scan
// never replaces a running best by NaN, and nothing replaces a NaN at j = 0. So a NaN at j = 0
// gets the best possible key (it wins, and keeps index 0) and a NaN anywhere else the worst
// (it never wins). Max/Min then output x[index] itself, bit for bit.
//
// Left out: splitting one long reduction over several blocks (outer == 1 and a huge n use one
// block), DeviceSegmentedReduce (its segments would need an offsets array per call; the block
// reduce needs none).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <cub/block/block_reduce.cuh>

#include <limits>

#include "cuda/check.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_util.cuh"
#include "cuda/launch.cuh"

namespace loom::cuda {
namespace {

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

// The key of element j with value v (see the file header for NaN).
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

// ---- host launcher -----------------------------------------------------------------------

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "max", "min", "argmax"};
  return names[static_cast<int>(op)];
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const void* x, void* out, DType dtype, int64_t outer,
                         int64_t n, int64_t inner) {
  const char* name = reduce_op_name(op);
  LOOM_CHECK(n >= 1, "reduce ", name, ": cannot reduce an empty axis");
  LOOM_CHECK(outer >= 0 && inner >= 0, "reduce ", name, ": bad shape [", outer, ", ", n, ", ",
             inner, "]");
  if (outer == 0 || inner == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL("reduce: not supported for bool tensors (cast to int64 first)");
    } else {
      dispatch_enum<ReduceOp, ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax>(
          op, [&](auto c) {
            constexpr ReduceOp O = decltype(c)::value;
            const T* xt = static_cast<const T*>(x);
            if (inner == 1 && n > kRowsMinN) {
              const int64_t blocks = outer < kMaxGridBlocks ? outer : kMaxGridBlocks;
              reduce_rows_kernel<T, O>
                  <<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(xt, out, outer, n);
              LOOM_CUDA_CHECK_LAUNCH();
            } else {
              const LaunchConfig cfg = launch_for(outer * inner, kBlock, name);
              reduce_cols_kernel<T, O>
                  <<<cfg.grid, cfg.block, 0, stream>>>(xt, out, outer, n, inner);
              LOOM_CUDA_CHECK_LAUNCH();
            }
          });
    }
  });
}

}  // namespace loom::cuda
