// cuda/runtime/pinned.cu: pinned host memory (cudaHostAlloc) for cuda/runtime/pinned.h.
//
// No kernels here. The byte count of live allocations is kept in a map from pointer to size,
// so pinned_free needs no size argument and the count stays exact.
#include <cuda_runtime_api.h>

#include <mutex>
#include <unordered_map>

#include "cuda/runtime/check.cuh"
#include "cuda/runtime/pinned.h"

namespace loom::cuda {
namespace {

struct PinnedRegistry {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> sizes;
  std::size_t bytes = 0;
};

PinnedRegistry& registry() {
  static auto* r = new PinnedRegistry();  // never destroyed: outlives static PinnedBuffers
  return *r;
}

}  // namespace

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
  PinnedRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.sizes.emplace(ptr, bytes);
  r.bytes += bytes;
  return ptr;
}

void pinned_free(void* ptr) {
  if (!ptr) return;
  {
    PinnedRegistry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.sizes.find(ptr);
    if (it != r.sizes.end()) {
      r.bytes -= it->second;
      r.sizes.erase(it);
    }
  }
  (void)cudaFreeHost(ptr);  // never throws: called from destructors
}

std::size_t pinned_bytes_in_use() {
  PinnedRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.bytes;
}

}  // namespace loom::cuda
