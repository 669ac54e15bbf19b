// cuda/runtime/allocator.cu: the raw side of the caching allocator (cudaMalloc, cudaFree, events),
// one CachingAllocator per device, and DeviceBuffer. The policy itself is allocator_policy.cpp.
//
// No kernels here. Every raw call runs with the allocator's device current (DeviceGuard), so an
// allocator for cuda:1 works from a thread whose current device is cuda:0. cudaMalloc runs in
// the relaxed stream-capture mode, so a graph's private pool can grow during a capture; the
// policy makes sure cudaFree and event waits never happen then (graph pools).
//
// Leaves out: see allocator.cuh.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/stream.cuh"

namespace loom::cuda {
namespace {

// RawDeviceMemory on the CUDA runtime for one device. Called only under the policy's mutex,
// so the event pool needs no lock of its own.
class CudaRawMemory final : public RawDeviceMemory {
 public:
  explicit CudaRawMemory(int device) : device_(device) {}

  ~CudaRawMemory() override {
    for (cudaEvent_t e : pool_)
      (void)cudaEventDestroy(e);
  }

  void* allocate(std::size_t bytes) override {
    DeviceGuard guard(device_);
    void* ptr = nullptr;
    // During a CUDA Graph capture (cuda/runtime/graph.h) the graph's pool grows with cudaMalloc. In
    // the thread-local capture mode loom uses, cudaMalloc counts as "potentially unsafe" for the
    // capturing thread, so this one call runs in relaxed mode. That is safe: cudaMalloc enqueues
    // nothing on any stream (it is not captured), and it does not synchronise with the
    // capturing stream. Outside a capture the exchange changes nothing.
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    LOOM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    const cudaError_t err = cudaMalloc(&ptr, bytes);
    LOOM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));  // restores the previous mode
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // out of memory is not sticky: clear it, let the policy retry
      return nullptr;
    }
    LOOM_CUDA_CHECK(err);
    return ptr;
  }

  void deallocate(void* ptr, std::size_t /*bytes*/) override {
    DeviceGuard guard(device_);
    LOOM_CUDA_CHECK(cudaFree(ptr));
  }

  EventId record_event(StreamId stream) override {
    DeviceGuard guard(device_);
    cudaEvent_t event = nullptr;
    if (pool_.empty()) {
      LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    } else {
      event = pool_.back();
      pool_.pop_back();
    }
    LOOM_CUDA_CHECK(cudaEventRecord(event, reinterpret_cast<cudaStream_t>(stream)));
    return reinterpret_cast<EventId>(event);
  }

  bool event_completed(EventId id) override {
    const cudaError_t err = cudaEventQuery(reinterpret_cast<cudaEvent_t>(id));
    if (err == cudaErrorNotReady) return false;
    LOOM_CUDA_CHECK(err);
    return true;
  }

  void event_synchronize(EventId id) override {
    LOOM_CUDA_CHECK(cudaEventSynchronize(reinterpret_cast<cudaEvent_t>(id)));
  }

  void release_event(EventId id) override { pool_.push_back(reinterpret_cast<cudaEvent_t>(id)); }

  std::string describe() override {
    DeviceGuard guard(device_);
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string();
    }
    char text[96];
    std::snprintf(text, sizeof text, "the device has %zu of %zu bytes free", free_bytes,
                  total_bytes);
    return text;
  }

 private:
  int device_;
  std::vector<cudaEvent_t> pool_;  // recorded-and-released events, reused by record_event
};

std::mutex& allocators_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Indexed by device; never destroyed (see allocator.cuh).
std::vector<CachingAllocator*>& allocators() {
  static auto* list = new std::vector<CachingAllocator*>();
  return *list;
}

}  // namespace

CachingAllocator& device_allocator(int device) {
  if (device < 0) device = current_device();
  check_device(device, "cuda::device_allocator");
  std::lock_guard<std::mutex> lock(allocators_mutex());
  auto& list = allocators();
  if (list.size() <= static_cast<std::size_t>(device)) list.resize(device + 1, nullptr);
  if (!list[device]) {
    list[device] = new CachingAllocator(std::make_unique<CudaRawMemory>(device),
                                        "cuda:" + std::to_string(device));
  }
  return *list[device];
}

// ---- DeviceBuffer ----------------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(std::size_t bytes, int device, cudaStream_t stream)
    : bytes_(bytes), device_(device >= 0 ? device : current_device()) {
  if (!stream) stream = current_stream(device_);
  ptr_ = device_allocator(device_).allocate(bytes, stream_id(stream));
}

DeviceBuffer::~DeviceBuffer() {
  release();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      device_(other.device_) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    device_ = other.device_;
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (!ptr_) return;
  try {
    device_allocator(device_).deallocate(ptr_);
  } catch (...) {
    // Only a broken runtime can make returning a block fail; a destructor must not throw.
  }
  ptr_ = nullptr;
}

}  // namespace loom::cuda
