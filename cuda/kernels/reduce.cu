// cuda/kernels/reduce.cu: sum / max / min / argmax over the middle axis of x [outer, n, inner].
// CPU twin: tensor/cpu/reduce.cpp.
//
// Two kernels, chosen by shape: rows (inner == 1, n > kRowsMinN) give a block per output and
// cub::BlockReduce, a tree order, so float sums differ from the CPU by rounding only; columns
// (everything else) give a thread per output running the CPU's own loop, bit for bit. Max, Min
// and ArgMax reduce (key, index) pairs where ties go to the lower index, so any tree keeps the
// FIRST maximum, as the CPU does; NaN follows the CPU's scan (a NaN at j = 0 wins, later NaNs
// never do). The kernels are in reduce_kernels.cuh; this file keeps the launcher.
//
// Leaves out: splitting one long reduction over several blocks, DeviceSegmentedReduce.
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/reduce_kernels.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace reduce_kernels;  // the kernels of reduce_kernels.cuh

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
