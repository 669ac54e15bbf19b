// cuda/runtime/blas.cu: the per-device cuBLAS handles of blas.cuh.
//
// No kernels here. Handles are created lazily under a mutex, with the device current (a handle
// belongs to the device that was current at cublasCreate). The stream is set on every fetch,
// but cublasSetStream is only called when it changed, since it resets cuBLAS's workspace state.
#include <cublas_v2.h>

#include <mutex>
#include <vector>

#include "cuda/runtime/blas.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/stream.cuh"

namespace loom::cuda {
namespace {

struct HandleSlot {
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;  // the stream last bound with cublasSetStream
};

}  // namespace

cublasHandle_t blas_handle(int device) {
  if (device < 0) device = current_device();
  check_device(device, "cuda::blas_handle");
  const cudaStream_t stream = current_stream(device);

  static std::mutex mutex;
  static auto* slots = new std::vector<HandleSlot>();  // never destroyed: see blas.cuh
  std::lock_guard<std::mutex> lock(mutex);
  if (slots->size() <= static_cast<std::size_t>(device)) slots->resize(device + 1);
  HandleSlot& slot = (*slots)[device];
  if (!slot.handle) {
    DeviceGuard guard(device);
    LOOM_CUBLAS_CHECK(cublasCreate(&slot.handle));
    LOOM_CUBLAS_CHECK(cublasSetMathMode(slot.handle, CUBLAS_DEFAULT_MATH));
    LOOM_CUBLAS_CHECK(cublasSetPointerMode(slot.handle, CUBLAS_POINTER_MODE_HOST));
    LOOM_CUBLAS_CHECK(cublasSetStream(slot.handle, stream));
    slot.stream = stream;
  } else if (slot.stream != stream) {
    LOOM_CUBLAS_CHECK(cublasSetStream(slot.handle, stream));
    slot.stream = stream;
  }
  return slot.handle;
}

}  // namespace loom::cuda
