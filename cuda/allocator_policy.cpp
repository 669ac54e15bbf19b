// cuda/allocator_policy.cpp: the caching allocator's policy (see allocator_policy.h for the
// rules). Plain C++: compiled in every build, so its tests run without a GPU.
#include "cuda/allocator_policy.h"

#include <algorithm>
#include <utility>

#include "tensor/error.h"

namespace loom::cuda {

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  LOOM_CHECK(bytes <= kMaxRequest, "CachingAllocator: request of ", bytes,
             " bytes is larger than any device (limit ", kMaxRequest, ")");
  const std::size_t unit = bytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (bytes + unit - 1) / unit * unit;
}

CachingAllocator::CachingAllocator(std::unique_ptr<RawDeviceMemory> raw, std::string name)
    : raw_(std::move(raw)), name_(std::move(name)) {
  LOOM_CHECK(raw_ != nullptr, "CachingAllocator(", name_, "): null raw allocator");
}

CachingAllocator::~CachingAllocator() {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    free_cached_blocks();
  } catch (...) {
    // A destructor must not throw; the process is shutting down or the device is gone.
  }
}

void* CachingAllocator::allocate(std::size_t bytes, StreamId stream) {
  if (bytes == 0) return nullptr;
  const std::size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);

  Block block;
  if (take_cached(size, stream, &block)) {
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  } else {
    void* ptr = raw_->allocate(size);
    if (!ptr) {
      // Rule 4: give the cache back to the device and try exactly once more.
      ++stats_.oom_retries;
      free_cached_blocks();
      ptr = raw_->allocate(size);
    }
    LOOM_CHECK(ptr != nullptr, "CUDA out of memory on ", name_, ": cannot allocate ", bytes,
               " bytes (size class ", size, " bytes); loom holds ", stats_.bytes_in_use,
               " bytes in use and emptied its cache of other blocks before retrying",
               raw_->describe().empty() ? "" : "; ", raw_->describe());
    block.ptr = ptr;
    block.size = size;
    stats_.bytes_reserved += size;
    ++stats_.raw_allocations;
  }
  block.stream = stream;
  stats_.bytes_in_use += size;
  ++stats_.allocations;
  note_peaks();
  void* ptr = block.ptr;
  in_use_.emplace(ptr, std::move(block));
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  LOOM_CHECK(it != in_use_.end(), "CachingAllocator(", name_, ")::deallocate: pointer ", ptr,
             " was not allocated here or was already freed");
  // Rule 3: events that say when the work using this block, enqueued so far, is done.
  // Recorded before the block leaves in_use_, so a failure here loses no block.
  std::vector<EventId> extra_events;
  for (StreamId s : it->second.extra_streams)
    extra_events.push_back(raw_->record_event(s));
  const EventId own_event = raw_->record_event(it->second.stream);
  LOOM_CHECK(own_event != 0, "CachingAllocator(", name_, "): raw side returned event id 0");

  Block block = std::move(it->second);
  in_use_.erase(it);
  block.own_event = own_event;
  block.extra_events = std::move(extra_events);
  block.extra_streams.clear();

  stats_.bytes_in_use -= block.size;
  stats_.bytes_cached += block.size;
  free_[block.size].push_back(std::move(block));
}

void CachingAllocator::record_stream(void* ptr, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  LOOM_CHECK(it != in_use_.end(), "CachingAllocator(", name_, ")::record_stream: pointer ", ptr,
             " is not an allocated block");
  Block& block = it->second;
  if (stream == block.stream) return;
  auto& extra = block.extra_streams;
  if (std::find(extra.begin(), extra.end(), stream) == extra.end()) extra.push_back(stream);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached_blocks();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

// ---- private (called with mutex_ held) -------------------------------------------------------

bool CachingAllocator::take_cached(std::size_t size, StreamId stream, Block* out) {
  auto cls = free_.find(size);
  if (cls == free_.end()) return false;
  std::vector<Block>& blocks = cls->second;

  // Newest first: a recently freed block is the likeliest to be warm in L2 and its events done.
  // First pass: blocks of this stream (no wait on the own event); second: any stream.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = blocks.size(); i-- > 0;) {
      Block& b = blocks[i];
      const bool same_stream = b.stream == stream;
      if (pass == 0 && !same_stream) continue;
      if (pass == 1 && same_stream) continue;  // already rejected in pass 0
      if (!events_completed(b.extra_events)) continue;
      if (!same_stream) {
        if (!raw_->event_completed(b.own_event)) continue;
      }
      raw_->release_event(b.own_event);
      b.own_event = 0;
      *out = std::move(b);
      blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(i));
      if (blocks.empty()) free_.erase(cls);
      return true;
    }
  }
  return false;
}

bool CachingAllocator::events_completed(std::vector<EventId>& events) {
  for (EventId e : events)
    if (!raw_->event_completed(e)) return false;
  for (EventId e : events)
    raw_->release_event(e);
  events.clear();
  return true;
}

void CachingAllocator::release_block_events(Block& block) {
  if (block.own_event) raw_->event_synchronize(block.own_event);
  for (EventId e : block.extra_events)
    raw_->event_synchronize(e);
  if (block.own_event) raw_->release_event(block.own_event);
  for (EventId e : block.extra_events)
    raw_->release_event(e);
  block.own_event = 0;
  block.extra_events.clear();
}

void CachingAllocator::free_cached_blocks() {
  for (auto& [size, blocks] : free_) {
    for (Block& b : blocks) {
      release_block_events(b);  // the device must be done with a block before it is freed
      raw_->deallocate(b.ptr, b.size);
      stats_.bytes_cached -= b.size;
      stats_.bytes_reserved -= b.size;
      ++stats_.raw_frees;
    }
  }
  free_.clear();
}

void CachingAllocator::note_peaks() {
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
}

}  // namespace loom::cuda
