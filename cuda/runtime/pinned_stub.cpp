// cuda/runtime/pinned_stub.cpp: cuda/runtime/pinned.h for a build configured without a CUDA
// compiler. Allocation throws (there is no device to copy to); freeing nullptr is allowed.
#include "cuda/runtime/pinned.h"

#include "tensor/error.h"

namespace loom::cuda {

void* pinned_alloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  LOOM_FAIL("cuda::pinned_alloc: cannot allocate ", bytes,
            " bytes of pinned host memory: CUDA not built (configured without a CUDA compiler)");
}

void pinned_free(void* /*ptr*/) {}  // only nullptr can reach here: nothing was ever allocated

}  // namespace loom::cuda
