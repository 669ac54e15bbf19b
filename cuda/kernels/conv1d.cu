// cuda/kernels/conv1d.cu: Conv1d's kernels on the GPU (FusedKernels::conv1d_*; contract:
// tensor/fused_kernels.h; caller: tensor/conv1d.cpp, which runs the GEMMs around them through
// cuBLAS; CPU twin: tensor/cpu/conv1d.cpp). The kernels are in conv1d_kernels.cuh; this file
// keeps the launchers: check the shape, pick the type, one grid-stride launch, check the launch.
//
// Leaves out: float16 (the Tensor op takes float32 and float64), an implicit-GEMM convolution.
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/conv1d_kernels.cuh"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace conv1d_kernels;  // the kernels of conv1d_kernels.cuh

constexpr int kBlock = kDefaultBlockSize;

// Calls f(TypeTag<T>{}) for float32 / float64; refuses other dtypes by name.
template <typename F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64, op,
             ": float32 or float64 only, got ", dtype_name(dtype));
  dispatch_dtype(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) f(tag);
  });
}

void check_shape(const char* op, const Conv1dShape& s) {
  LOOM_CHECK(s.B >= 0 && s.T >= 1 && s.C >= 1 && s.K >= 1 && s.P >= 0 && s.t_out() >= 1, op,
             ": bad shape B ", s.B, " T ", s.T, " C ", s.C, " K ", s.K, " P ", s.P);
}

}  // namespace

void CudaBackend::conv1d_im2col(const void* x, void* cols, DType dtype, const Conv1dShape& s) {
  check_shape("conv1d_im2col", s);
  if (s.B == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_float(dtype, "conv1d_im2col", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(s.B * s.t_out() * s.C * s.K, kBlock, "conv1d_im2col");
    im2col_kernel<T>
        <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(cols), s);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::conv1d_col2im(const void* cols, void* dx, DType dtype, const Conv1dShape& s) {
  check_shape("conv1d_col2im", s);
  if (s.B == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_float(dtype, "conv1d_col2im", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(s.B * s.T * s.C, kBlock, "conv1d_col2im");
    col2im_kernel<T>
        <<<cfg.grid, cfg.block, 0, stream>>>(static_cast<const T*>(cols), static_cast<T*>(dx), s);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::conv1d_direct(const void* x, const void* w, const void* bias, void* y,
                                DType dtype, const Conv1dShape& s, int64_t out_channels) {
  check_shape("conv1d_direct", s);
  LOOM_CHECK(out_channels >= 1, "conv1d_direct: out_channels must be >= 1, got ", out_channels);
  if (s.B == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_float(dtype, "conv1d_direct", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(s.B * s.t_out() * out_channels, kBlock, "conv1d_direct");
    direct_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias),
        static_cast<T*>(y), s, out_channels);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace loom::cuda
