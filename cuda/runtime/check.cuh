// cuda/runtime/check.cuh: every CUDA runtime call, cuBLAS call and kernel launch in loom goes
// through one of these macros, which turn a failure into a loom::Error naming the file, the line,
// the call as written, and the library's own message. Internal to cuda/ (CUDA headers inside).
//
//   LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
//   LOOM_CUBLAS_CHECK(cublasSgemm(handle, ...));
//   my_kernel<<<grid, block, 0, stream>>>(...);
//   LOOM_CUDA_CHECK_LAUNCH();
//
// A launch is asynchronous: cudaGetLastError() catches a bad configuration at once, but a fault
// inside the kernel surfaces at a later call. Configure with -DLOOM_CUDA_SYNC_LAUNCHES=ON to
// synchronise after every launch, so the error names the kernel that caused it (slow; debugging).
//
// Leaves out: recovery. After a sticky error (illegal address, ...) the context is unusable; loom
// reports the first error clearly and does not try to go on.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include "tensor/error.h"

namespace loom::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  // Clears the (non-sticky) error so later unrelated checks do not see it again.
  (void)cudaGetLastError();
  LOOM_FAIL("CUDA error at ", file, ":", line, ": ", call, " failed: ", cudaGetErrorName(err), ": ",
            cudaGetErrorString(err));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call,
                                            const char* file, int line) {
  LOOM_FAIL("cuBLAS error at ", file, ":", line, ": ", call,
            " failed: ", cublasGetStatusName(status), ": ", cublasGetStatusString(status));
}

}  // namespace loom::cuda::detail

#define LOOM_CUDA_CHECK(call)                                                            \
  do {                                                                                   \
    const cudaError_t loom_cuda_err_ = (call);                                           \
    if (loom_cuda_err_ != cudaSuccess)                                                   \
      ::loom::cuda::detail::throw_cuda_error(loom_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define LOOM_CUBLAS_CHECK(call)                                                                 \
  do {                                                                                          \
    const cublasStatus_t loom_cublas_status_ = (call);                                          \
    if (loom_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::loom::cuda::detail::throw_cublas_error(loom_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

#if defined(LOOM_CUDA_SYNC_LAUNCHES) && LOOM_CUDA_SYNC_LAUNCHES
#define LOOM_CUDA_CHECK_LAUNCH()              \
  do {                                        \
    LOOM_CUDA_CHECK(cudaGetLastError());      \
    LOOM_CUDA_CHECK(cudaDeviceSynchronize()); \
  } while (0)
#else
#define LOOM_CUDA_CHECK_LAUNCH() LOOM_CUDA_CHECK(cudaGetLastError())
#endif
