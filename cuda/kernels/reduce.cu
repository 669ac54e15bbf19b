// cuda/kernels/reduce.cu: sum / max / min / argmax over the middle axis of x [outer, n, inner].
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
// The kernels are in cuda/kernels/reduce_kernels.cuh, which uses so little of CUDA that
// tests/cuda/reduce_kernels_emulation_test.cpp runs them on the CPU; this file keeps the
// launcher.
//
// Left out: splitting one long reduction over several blocks (outer == 1 and a huge n use one
// block), DeviceSegmentedReduce (its segments would need an offsets array per call; the block
// reduce needs none).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/runtime/check.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/reduce_kernels.cuh"

namespace loom::cuda {
namespace {

using namespace reduce_kernels;  // the kernels of cuda/kernels/reduce_kernels.cuh

// ---- host launcher -----------------------------------------------------------------------

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
