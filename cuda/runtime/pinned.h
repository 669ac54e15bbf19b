// cuda/runtime/pinned.h: page-locked (pinned) host memory, for asynchronous host-to-device copies.
// Public: no CUDA header. Caller: upload_queue.cu's staging slots.
//
// cudaMemcpyAsync from ordinary pageable memory is staged through a driver buffer and does not
// overlap with kernels; from pinned memory the copy engine reads the host buffer directly, so the
// copy of the next batch runs while the current step computes. Pinned memory cannot be swapped:
// allocate a few buffers once and reuse them; there is deliberately no cache here.
// Without a CUDA build (pinned_stub.cpp) every allocation throws loom::Error.
#pragma once

#include <cstddef>

namespace loom::cuda {

// `bytes` of pinned host memory, usable by copies to any device (cudaHostAllocPortable).
// 0 bytes returns nullptr. Throws loom::Error naming the size when it cannot be allocated.
void* pinned_alloc(std::size_t bytes);
void pinned_free(void* ptr);  // nullptr is ignored; never throws

// Owns one pinned allocation. Move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes) : ptr_(pinned_alloc(bytes)), bytes_(bytes) {}
  ~PinnedBuffer() { pinned_free(ptr_); }
  PinnedBuffer(PinnedBuffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
      pinned_free(ptr_);
      ptr_ = other.ptr_;
      bytes_ = other.bytes_;
      other.ptr_ = nullptr;
      other.bytes_ = 0;
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace loom::cuda
