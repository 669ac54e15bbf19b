// cuda/runtime/blas.cuh: one cuBLAS handle per device, created on first use and bound to the current
// stream each time it is fetched. Internal to cuda/.
//
//   cublasHandle_t h = blas_handle(dev);          // on current_stream(dev), pointer mode host
//   LOOM_CUBLAS_CHECK(cublasSgemm(h, ...));
//
// The handle uses CUBLAS_DEFAULT_MATH: true fp32 (no TF32 tensor-core rounding), because every
// CUDA result is checked against the CPU backend at a relative error of 1e-5. A launcher that
// wants TF32 or fp16 tensor cores must ask for it per call (cublasGemmEx compute types).
//
// Creating a handle costs milliseconds and allocates cuBLAS's workspace, so handles live until
// the process exits (never destroyed: see allocator.cuh on static destructors).
//
// Left out: per-thread handles (one handle must not be used by two host threads at once; loom
// issues device work from one thread per device), cublasLt, a workspace from loom's allocator
// (needed before a GEMM can be captured into a CUDA Graph with a non-default workspace).
#pragma once

#include <cublas_v2.h>

namespace loom::cuda {

// The cuBLAS handle of `device` (-1: the current device), with its stream set to
// current_stream(device). Throws loom::Error when the device does not exist or cuBLAS cannot
// be initialised.
cublasHandle_t blas_handle(int device = -1);

}  // namespace loom::cuda
