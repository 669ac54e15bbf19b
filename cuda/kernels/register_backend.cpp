// cuda/kernels/register_backend.cpp: installs the CUDA backend for DeviceType::CUDA before main().
//
// NOT part of the static library: a linker takes an object out of an archive only to resolve a
// symbol somebody references, and nothing references a registration object. CMake compiles it as
// an OBJECT library linked into every executable that links loom::cuda (cuda/CMakeLists.txt;
// cuda/README.md, "How the backend gets registered"). Safe before main() on any machine: the
// backend table is constant-initialised and constructing CudaBackend makes no CUDA call. Only
// internal-linkage names, so the object may end up in several link units.
#include "cuda/kernels/backend.h"
#include "tensor/backend.h"

namespace {

const bool g_cuda_backend_registered = [] {
  loom::register_backend(loom::DeviceType::CUDA, &loom::cuda::cuda_backend());
  return true;
}();

}  // namespace
