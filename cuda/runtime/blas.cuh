// cuda/runtime/blas.cuh: one cuBLAS handle per device, created on first use and bound to the
// current stream each time it is fetched. Internal to cuda/.
//
//   cublasHandle_t h = blas_handle(dev);          // on current_stream(dev), pointer mode host
//   LOOM_CUBLAS_CHECK(cublasSgemm(h, ...));
//
// The handle uses CUBLAS_DEFAULT_MATH: true fp32 (no TF32), because every CUDA result is checked
// against the CPU backend at a relative 1e-5; a launcher that wants tensor cores asks per call
// (cublasGemmEx compute types). Handles live until the process exits (a static destructor could
// run after the CUDA runtime has shut down).
//
// Leaves out: per-thread handles (loom issues device work from one thread per device), cublasLt,
// a workspace from loom's allocator (cuBLAS 12.2+ manages its own under graph capture).
#pragma once

#include <cublas_v2.h>

namespace loom::cuda {

// The cuBLAS handle of `device` (-1: the current device), with its stream set to
// current_stream(device). Throws loom::Error when the device does not exist or cuBLAS cannot
// be initialised.
cublasHandle_t blas_handle(int device = -1);

}  // namespace loom::cuda
