// cuda/kernels/copy_cast.cu: fill, the strided gather/scatter (compact, strided_write) and cast.
// CPU twin: tensor/cpu/copy_cast.cpp.
//
// compact and strided_write only move bytes, so they are compiled per element size (1, 2, 4, 8),
// not per dtype: one kernel walks the dense index of the view and turns it into the element
// offset, all in int64. Conversions follow the CPU exactly: through each side's compute type,
// bool is "x != 0", float16 rounds to nearest even; fill converts its value once on the host.
// The kernels are in copy_cast_kernels.cuh; this file keeps the launchers.
//
// Leaves out: a vectorized cast; strided_write into views whose elements overlap (an expanded
// view: which thread wins is unspecified; the frontend never writes into such views).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/copy_cast_kernels.cuh"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace copy_cast_kernels;  // the kernels of copy_cast_kernels.cuh

constexpr int kBlock = kDefaultBlockSize;

// ---- host launchers ----------------------------------------------------------------------

// The host-side conversion of fill's value, identical to the CPU's
// static_cast<T>(static_cast<ComputeT<T>>(value)).
template <typename T>
T host_convert(double value) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(value));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(value));
  } else {
    return static_cast<T>(value);
  }
}

int64_t layout_numel(const StridedLayout& l, const char* op) {
  LOOM_CHECK(l.ndim >= 0 && l.ndim <= kMaxDims, op, ": layout has ", l.ndim, " dims (at most ",
             kMaxDims, ")");
  int64_t total = 1;
  for (int d = 0; d < l.ndim; ++d) {
    LOOM_CHECK(l.sizes[d] >= 0, op, ": negative size ", l.sizes[d], " in dim ", d);
    total *= l.sizes[d];
  }
  return total;
}

template <bool kGather>
void launch_strided_copy(const void* src, void* dst, const StridedLayout& l, DType dtype,
                         const char* op) {
  const int64_t total = layout_numel(l, op);
  if (total == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_word(dtype, op, [&](auto tag) {
    using W = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(total, kBlock, op);
    strided_copy_kernel<W, kGather><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<const W*>(src), static_cast<W*>(dst), l, total);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void CudaBackend::fill(void* dst, DType dtype, int64_t n, double value) {
  LOOM_CHECK(n >= 0, "fill: negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int N = kPackOf<T>;
    const bool vec = is_aligned(dst, sizeof(T) * N) && n >= N;
    const LaunchConfig cfg = launch_for(vec ? n / N : n, kBlock, "fill");
    fill_kernel<T, N>
        <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<T*>(dst), n, host_convert<T>(value), vec);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::compact(const void* src, const StridedLayout& src_layout, void* dst,
                          DType dtype) {
  launch_strided_copy<true>(src, dst, src_layout, dtype, "compact");
}

void CudaBackend::strided_write(const void* src, void* dst, const StridedLayout& dst_layout,
                                DType dtype) {
  launch_strided_copy<false>(src, dst, dst_layout, dtype, "strided_write");
}

void CudaBackend::cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) {
  LOOM_CHECK(n >= 0, "cast: negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  if (src_dtype == dst_dtype) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * dtype_size(src_dtype),
                                    cudaMemcpyDeviceToDevice, stream));
    return;
  }
  dispatch_dtype(src_dtype, "cast", [&](auto stag) {
    using S = typename decltype(stag)::type;
    dispatch_dtype(dst_dtype, "cast", [&](auto dtag) {
      using D = typename decltype(dtag)::type;
      const LaunchConfig cfg = launch_for(n, kBlock, "cast");
      cast_kernel<S, D>
          <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
      LOOM_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace loom::cuda
