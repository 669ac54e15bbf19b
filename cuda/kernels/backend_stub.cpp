// cuda/kernels/backend_stub.cpp: the setting of cuda/kernels/backend.h for a build configured
// without a CUDA compiler. No backend is registered, so backend_for(cuda:N) throws "this build
// has no CUDA backend"; the setting is only stored, so code that sets it builds everywhere.
#include <atomic>

#include "cuda/kernels/backend.h"

namespace loom::cuda {
namespace {
std::atomic<bool> g_deterministic{true};
}

void set_deterministic(bool on) {
  g_deterministic.store(on);
}
bool deterministic() {
  return g_deterministic.load();
}

}  // namespace loom::cuda
