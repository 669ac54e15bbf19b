// cuda/kernels/scratch.cuh: what the recurrences' host loops share (lstm.cu, rnn.cu): device
// scratch that returns itself to the caching allocator, and step t's slice of a time-major buffer.
// Internal to cuda/kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/kernels/backend.h"
#include "tensor/dtype.h"

namespace loom::cuda {

// Device scratch from the caching allocator, returned when it goes out of scope (stream-ordered,
// so the kernels enqueued before that still see it).
struct Scratch {
  CudaBackend& be;
  std::size_t bytes;
  Device dev;
  void* ptr;
  Scratch(CudaBackend& b, std::size_t n, Device d)
      : be(b), bytes(n), dev(d), ptr(b.allocate(n, d)) {}
  ~Scratch() { be.deallocate(ptr, bytes, dev); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Step t's slice of a [T, B, width] buffer of `dtype`.
inline void* step_of(const void* base, DType dtype, int64_t t, int64_t B, int64_t width) {
  return const_cast<char*>(static_cast<const char*>(base)) +
         static_cast<std::size_t>(t * B * width) * dtype_size(dtype);
}

}  // namespace loom::cuda
