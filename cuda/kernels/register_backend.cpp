// cuda/kernels/register_backend.cpp: installs the CUDA backend for DeviceType::CUDA before main().
//
// This file is NOT part of the static library libloom_cuda.a. A linker pulls an object out of a
// static library only to resolve a symbol somebody references, and nothing references a
// registration object, so a static initializer inside the archive would silently be dropped
// (and backend_for(cuda) would say "this build has no CUDA backend"). Instead CMake compiles it
// as an OBJECT library and adds the object to the sources of every target that links
// loom::cuda (an INTERFACE source of loom_cuda; see cuda/CMakeLists.txt), so it is linked
// directly into each executable and always runs.
//
// Safe before main(): loom's backend table is constant-initialised, and constructing the
// CudaBackend makes no CUDA call, so this works on machines without a GPU or driver (the first
// allocation then throws "no CUDA device (...)").
//
// Only internal-linkage names here: the object may end up in several link units (an executable
// and a library that both link loom::cuda) without duplicate symbols; registering twice is
// harmless.
#include "cuda/kernels/backend.h"
#include "tensor/backend.h"

namespace {

const bool g_cuda_backend_registered = [] {
  loom::register_backend(loom::DeviceType::CUDA, &loom::cuda::cuda_backend());
  return true;
}();

}  // namespace
