// cuda/runtime/pinned.cu: pinned host memory (cudaHostAlloc) for cuda/runtime/pinned.h.
//
// No kernels here: cudaHostAlloc (portable: usable by copies to any device) and cudaFreeHost.
#include <cuda_runtime_api.h>

#include "cuda/runtime/check.cuh"
#include "cuda/runtime/pinned.h"

namespace loom::cuda {

void* pinned_alloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* ptr = nullptr;
  const cudaError_t err = cudaHostAlloc(&ptr, bytes, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    LOOM_FAIL("cuda::pinned_alloc: cannot allocate ", bytes,
              " bytes of pinned host memory: ", cudaGetErrorName(err), ": ",
              cudaGetErrorString(err));
  }
  return ptr;
}

void pinned_free(void* ptr) {
  if (!ptr) return;
  (void)cudaFreeHost(ptr);  // never throws: called from destructors
}

}  // namespace loom::cuda
