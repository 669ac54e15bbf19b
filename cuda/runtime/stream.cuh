// cuda/runtime/stream.cuh: RAII streams and events, and each thread's current stream per device.
//
// Every loom launcher enqueues on current_stream(device). By default that is the device's loom
// default stream: one per device, created on first use with default flags, so it still orders
// with the legacy NULL stream (a stray synchronous cudaMemcpy cannot race loom's kernels). A
// StreamGuard switches the current stream for a scope, e.g. a stream being captured into a graph.
//
//   Stream copy(device);                    // owns a new non-blocking stream
//   Event ready;
//   ...enqueue copies on copy.get()...; ready.record(copy.get());
//   wait_event(current_stream(device), ready);   // compute waits for the copy, host does not
//
// Leaves out: stream priorities, per-thread default streams (--default-stream per-thread).
#pragma once

#include <cuda_runtime_api.h>

namespace loom::cuda {

// A stream this object owns (destroyed with it). Non-copyable, movable.
class Stream {
 public:
  // Creates a stream on `device` (-1: the current device). Non-blocking: it does not
  // implicitly synchronize with the legacy NULL stream.
  explicit Stream(int device = -1);
  ~Stream();  // waits for the stream's work, then destroys it (see stream.cu)
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const;  // host waits for all work enqueued so far
  bool query() const;        // true when all work enqueued so far has completed

 private:
  void release() noexcept;
  cudaStream_t stream_ = nullptr;
  int device_ = -1;
};

// A CUDA event this object owns, created on the current device (record it only on streams of
// that device). With timing=false (the default) it is cheaper and can only order work;
// elapsed_ms needs two events created with timing=true.
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream);  // captures the work enqueued on `stream` so far
  void synchronize() const;          // host waits until the recorded work completed
  bool query() const;                // true when the recorded work completed (or never recorded)

 private:
  void release() noexcept;
  cudaEvent_t event_ = nullptr;
};

// Makes `stream` wait (on the device, the host does not block) for the work `event` recorded.
void wait_event(cudaStream_t stream, const Event& event);

// Milliseconds between two recorded timing events; synchronizes on `end` first.
float elapsed_ms(const Event& start, const Event& end);

// The device's loom default stream (created on first use, lives until the process exits).
// device -1: the current device.
cudaStream_t default_stream(int device = -1);

// This thread's current stream for `device` (-1: the current device): the one set by the
// innermost StreamGuard, else default_stream(device).
cudaStream_t current_stream(int device = -1);

// Whether `stream` is being captured into a CUDA Graph (graph.h): then nothing may synchronise, so
// launchers skip their read-backs and host copies refuse to run.
bool is_capturing(cudaStream_t stream);

// Sets this thread's current stream for a scope; restores the previous one on exit.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream) : StreamGuard(stream.get(), stream.device()) {}
  StreamGuard(cudaStream_t stream, int device);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  cudaStream_t previous_;
};

}  // namespace loom::cuda
