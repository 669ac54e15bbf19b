// cuda/runtime/allocator.cuh: device memory for loom: one caching allocator per device, and an RAII
// buffer on top. Internal to cuda/ (it includes the CUDA runtime header).
//
//   void* p = device_allocator(dev).allocate(bytes, stream_id(current_stream(dev)));
//   ... kernels on current_stream(dev) use p ...
//   device_allocator(dev).deallocate(p);   // cached; reused by the next request of that class
// or, owning: `DeviceBuffer buf(bytes, dev);` (allocated on, and freed for, current_stream(dev)).
// The policy is CachingAllocator (allocator_policy.h); this file binds it to cudaMalloc,
// cudaFree and a pool of cudaEvents, with the allocator's device current around each call.
// Rule for callers: free a block before destroying the stream it was allocated on (or named in
// record_stream): freeing records an event on that stream.
//
// Leaves out: cudaMallocAsync pools (the point is a cache a student can read), IPC handles,
// managed memory. Pinned host memory is pinned.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/runtime/allocator_policy.h"

namespace loom::cuda {

inline StreamId stream_id(cudaStream_t stream) {
  return reinterpret_cast<StreamId>(stream);
}

// The caching allocator of `device` (-1: the current device), created on first use. It lives
// until the process exits and is never destroyed (freeing device memory from a static
// destructor could run after the CUDA runtime has shut down). Throws for a device that does
// not exist.
CachingAllocator& device_allocator(int device = -1);

// Owns one block from device_allocator(device): allocated for use on `stream` and returned to
// the cache on destruction. Move-only. A DeviceBuffer of 0 bytes holds nullptr.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // stream nullptr means current_stream(device) (the legacy NULL stream is never used by loom).
  explicit DeviceBuffer(std::size_t bytes, int device = -1, cudaStream_t stream = nullptr);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return bytes_; }  // the requested size, not the size class
  int device() const { return device_; }

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = -1;
};

}  // namespace loom::cuda
