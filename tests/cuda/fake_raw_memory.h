// tests/cuda/fake_raw_memory.h: a fake device for the caching allocator's policy tests
// (allocator_policy_test.cpp, allocator_graph_pool_test.cpp), so they run without a GPU.
//
// The fake models streams the way the device runs them: each stream has work submitted and
// work done; an event recorded on a stream completes once the stream has done everything that
// was submitted before the record. Tests submit "kernels" and finish streams by hand.
//
// It also models what CUDA forbids around graph capture (cuda/runtime/graph.h), and counts every
// violation instead of failing, so a test can assert the count is zero:
//   - an event recorded on a stream being captured becomes a node of the graph, not a real
//     event (captured_records);
//   - freeing device memory or waiting for an event synchronises, which invalidates a capture
//     (frees_during_capture, syncs_during_capture);
//   - a stream that was destroyed must not be used again (dead_stream_records).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "cuda/runtime/allocator_policy.h"

namespace {

using loom::cuda::AllocatorStats;
using loom::cuda::CachingAllocator;
using loom::cuda::EventId;
using loom::cuda::StreamId;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr StreamId S = 1, T = 2;

class FakeRaw final : public loom::cuda::RawDeviceMemory {
 public:
  explicit FakeRaw(std::size_t capacity) : capacity_(capacity) {}

  void* allocate(std::size_t bytes) override {
    if (used_ + bytes > capacity_) return nullptr;
    used_ += bytes;
    next_ += bytes + 4096;  // distinct fake addresses; never dereferenced
    void* p = reinterpret_cast<void*>(next_);
    live_[p] = bytes;
    ++mallocs;
    return p;
  }
  void deallocate(void* ptr, std::size_t bytes) override {
    auto it = live_.find(ptr);
    if (it == live_.end() || it->second != bytes) ++bad_frees;
    if (it != live_.end()) live_.erase(it);
    used_ -= bytes;
    ++frees;
    if (!capturing_.empty()) ++frees_during_capture;
  }
  EventId record_event(StreamId s) override {
    if (capturing_.count(s) != 0) ++captured_records;
    if (destroyed_.count(s) != 0) ++dead_stream_records;
    const EventId id = ++last_event_;
    events_[id] = {s, submitted_[s]};
    return id;
  }
  bool event_completed(EventId e) override {
    const auto& [s, seq] = events_.at(e);
    return done_[s] >= seq;
  }
  void event_synchronize(EventId e) override {
    if (!capturing_.empty()) ++syncs_during_capture;
    const auto& [s, seq] = events_.at(e);
    if (done_[s] < seq) done_[s] = seq;  // the host waited until the work ran
  }
  void release_event(EventId e) override { events_.erase(e); }
  std::string describe() override { return "fake device, capacity " + std::to_string(capacity_); }

  void submit(StreamId s) { ++submitted_[s]; }  // a kernel that uses some block
  void finish(StreamId s) { done_[s] = submitted_[s]; }
  bool finished(StreamId s) { return done_[s] >= submitted_[s]; }
  std::size_t live_events() const { return events_.size(); }
  // What cudaStreamBeginCapture / cudaStreamEndCapture / cudaStreamDestroy do to a stream.
  void begin_capture(StreamId s) { capturing_.insert(s); }
  void end_capture(StreamId s) { capturing_.erase(s); }
  void destroy(StreamId s) { destroyed_.insert(s); }

  int mallocs = 0, frees = 0, bad_frees = 0;
  int captured_records = 0, frees_during_capture = 0, syncs_during_capture = 0;
  int dead_stream_records = 0;

 private:
  std::size_t capacity_, used_ = 0;
  std::uintptr_t next_ = 1 << 20;
  std::map<void*, std::size_t> live_;
  EventId last_event_ = 0;
  std::map<EventId, std::pair<StreamId, long>> events_;  // event -> (stream, work before it)
  std::map<StreamId, long> submitted_, done_;
  std::set<StreamId> capturing_, destroyed_;
};

// An allocator with a fake raw side; `raw` stays owned by `alloc`.
struct Fixture {
  explicit Fixture(std::size_t capacity = 1024 * MiB)
      : raw(new FakeRaw(capacity)), alloc(std::unique_ptr<FakeRaw>(raw), "fake:0") {}
  FakeRaw* raw;
  CachingAllocator alloc;
};

}  // namespace
