// cuda/runtime/stream.cu: Stream, Event, and the per-device default/current streams of stream.cuh.
//
// No kernels here. The default streams are created lazily (one per device, under a mutex) and
// deliberately never destroyed: destroying them from a static destructor would run after the
// CUDA runtime may have shut down. The current stream is thread-local, one slot per device.
//
// Left out: stream pools, priorities.
#include <cuda_runtime_api.h>

#include <mutex>
#include <utility>
#include <vector>

#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/stream.cuh"

namespace loom::cuda {
namespace {

int resolve_device(int device) {
  return device >= 0 ? device : current_device();
}

// Per-thread current stream per device; nullptr means "the default stream".
std::vector<cudaStream_t>& thread_current_streams() {
  thread_local std::vector<cudaStream_t> streams;
  return streams;
}

}  // namespace

// ---- Stream ----------------------------------------------------------------------------------

Stream::Stream(int device) : device_(resolve_device(device)) {
  DeviceGuard guard(device_);
  LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  release();
}

Stream::Stream(Stream&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)), device_(other.device_) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    release();
    stream_ = std::exchange(other.stream_, nullptr);
    device_ = other.device_;
  }
  return *this;
}

void Stream::release() noexcept {
  if (!stream_) return;
  // Wait for the stream's work before destroying it. cudaStreamDestroy alone would return at
  // once, and the runtime may hand the same handle to the next stream created: the caching
  // allocator, which recognises streams by handle, would then let that new stream reuse a
  // block the old stream's kernels may still be using.
  (void)cudaStreamSynchronize(stream_);
  (void)cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

void Stream::synchronize() const {
  LOOM_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

bool Stream::query() const {
  const cudaError_t err = cudaStreamQuery(stream_);
  if (err == cudaErrorNotReady) return false;
  LOOM_CUDA_CHECK(err);
  return true;
}

// ---- Event -----------------------------------------------------------------------------------

Event::Event(bool timing) {
  LOOM_CUDA_CHECK(
      cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  release();
}

Event::Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    release();
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::release() noexcept {
  if (event_) (void)cudaEventDestroy(event_);
  event_ = nullptr;
}

void Event::record(cudaStream_t stream) {
  LOOM_CUDA_CHECK(cudaEventRecord(event_, stream));
}

void Event::synchronize() const {
  LOOM_CUDA_CHECK(cudaEventSynchronize(event_));
}

bool Event::query() const {
  const cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) return false;
  LOOM_CUDA_CHECK(err);
  return true;
}

void wait_event(cudaStream_t stream, const Event& event) {
  LOOM_CUDA_CHECK(cudaStreamWaitEvent(stream, event.get(), 0));
}

float elapsed_ms(const Event& start, const Event& end) {
  end.synchronize();
  float ms = 0.0f;
  LOOM_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()));
  return ms;
}

// ---- default and current streams -------------------------------------------------------------

cudaStream_t default_stream(int device) {
  device = resolve_device(device);
  check_device(device, "cuda::default_stream");
  static std::mutex mutex;
  static std::vector<cudaStream_t> streams;  // never destroyed: see the file header
  std::lock_guard<std::mutex> lock(mutex);
  if (streams.size() <= static_cast<size_t>(device)) streams.resize(device + 1, nullptr);
  if (!streams[device]) {
    DeviceGuard guard(device);
    // Default flags (blocking): ordered with the legacy NULL stream; see stream.cuh.
    LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[device], cudaStreamDefault));
  }
  return streams[device];
}

cudaStream_t current_stream(int device) {
  device = resolve_device(device);
  auto& streams = thread_current_streams();
  if (static_cast<size_t>(device) < streams.size() && streams[device]) return streams[device];
  return default_stream(device);
}

bool is_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  LOOM_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

StreamGuard::StreamGuard(cudaStream_t stream, int device) : device_(resolve_device(device)) {
  check_device(device_, "cuda::StreamGuard");
  auto& streams = thread_current_streams();
  if (streams.size() <= static_cast<size_t>(device_)) streams.resize(device_ + 1, nullptr);
  previous_ = streams[device_];
  streams[device_] = stream;
}

StreamGuard::~StreamGuard() {
  thread_current_streams()[device_] = previous_;
}

}  // namespace loom::cuda
