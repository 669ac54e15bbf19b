// cuda/runtime/allocator_policy.cpp: the caching allocator's policy (allocator_policy.h; the rules:
// cuda/README.md, "The caching allocator"). Plain C++: compiled in every build, so its tests run
// without a GPU.
#include "cuda/runtime/allocator_policy.h"

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
    // Pools outliving the allocator: their graphs are gone too (process exit, or a test).
    for (auto& [id, pool] : pools_) {
      for (auto& [size, blocks] : pool.free)
        for (Block& b : blocks)
          free_block(b);
      for (Block& b : pool.held)
        free_block(b);
    }
  } catch (...) {
    // A destructor must not throw; the process is shutting down or the device is gone.
  }
}

void* CachingAllocator::allocate(std::size_t bytes, StreamId stream) {
  if (bytes == 0) return nullptr;
  const std::size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);

  Block block;
  const auto capture = capturing_.find(stream);
  if (capture != capturing_.end()) {
    // Rule 6a: a capturing stream allocates from its graph's pool only. Any free block of the
    // class will do (no event): the pool's blocks are used by this graph alone, in stream order.
    block.pool = capture->second;
    auto& cls = pools_.at(block.pool).free[size];
    if (!cls.empty()) {
      block = std::move(cls.back());
      cls.pop_back();
      stats_.bytes_in_graph_pools -= size;
      ++stats_.cache_hits;
    } else {
      block.ptr = raw_allocate(size, bytes, /*may_retry=*/false);
      block.size = size;
    }
  } else if (take_cached(size, stream, &block)) {
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  } else {
    // Rule 4 (retry after emptying the cache), except while a capture is active anywhere on
    // this device: freeing memory then would synchronise the device under the capture.
    block.ptr = raw_allocate(size, bytes, /*may_retry=*/capturing_.empty());
    block.size = size;
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
  if (it->second.pool != 0) {
    // Rule 6b: back to its graph's pool, no event (and no extra streams: the graph rewrites
    // the block at every replay anyway, so whoever else reads it must order itself with them).
    Block block = std::move(it->second);
    in_use_.erase(it);
    block.extra_streams.clear();
    stats_.bytes_in_use -= block.size;
    stats_.bytes_in_graph_pools += block.size;
    const std::size_t size = block.size;
    pools_.at(block.pool).free[size].push_back(std::move(block));
    return;
  }
  if (!capturing_.empty()) {
    Block block = std::move(it->second);
    in_use_.erase(it);
    hold_in_graph_pool(std::move(block));  // rule 6c
    return;
  }
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
  LOOM_CHECK(capturing_.empty(), "CachingAllocator(", name_,
             ")::empty_cache: a CUDA Graph is being captured on this device; freeing device "
             "memory would synchronise the device inside the capture (empty the cache before "
             "capture() or after it returns)");
  free_cached_blocks();
}

// ---- graph pools (rule 6) --------------------------------------------------------------------

PoolId CachingAllocator::begin_graph_capture(StreamId capture_stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  LOOM_CHECK(capturing_.count(capture_stream) == 0, "CachingAllocator(", name_,
             ")::begin_graph_capture: stream ", capture_stream,
             " is already being captured into pool ", capturing_[capture_stream]);
  const PoolId id = next_pool_++;
  GraphPool& pool = pools_[id];
  pool.capture_stream = capture_stream;
  pool.capturing = true;
  capturing_[capture_stream] = id;
  last_capture_ = id;
  ++stats_.graph_pools;
  return id;
}

void CachingAllocator::end_graph_capture(PoolId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  GraphPool& pool = pool_of(id, "end_graph_capture");
  LOOM_CHECK(pool.capturing, "CachingAllocator(", name_, ")::end_graph_capture: pool ", id,
             " is not capturing");
  pool.capturing = false;
  capturing_.erase(pool.capture_stream);
  if (last_capture_ == id) last_capture_ = capturing_.empty() ? 0 : capturing_.begin()->second;
}

void CachingAllocator::release_graph_pool(PoolId id, StreamId home) {
  std::lock_guard<std::mutex> lock(mutex_);
  GraphPool& pool = pool_of(id, "release_graph_pool");
  LOOM_CHECK(!pool.capturing, "CachingAllocator(", name_, ")::release_graph_pool: pool ", id,
             " is still capturing; end the capture first");
  // Held blocks: their remaining events now (the capture is over, so every stream is real
  // again), then the general cache under the ordinary rules.
  for (Block& b : pool.held) {
    for (StreamId s : b.deferred) {
      const EventId e = raw_->record_event(s);
      if (b.own_event == 0 && s == b.stream) {
        b.own_event = e;
      } else {
        b.extra_events.push_back(e);
      }
    }
    b.deferred.clear();
    stats_.bytes_in_graph_pools -= b.size;
    stats_.bytes_cached += b.size;
    free_[b.size].push_back(std::move(b));
  }
  // The pool's free blocks: the capture stream dies with the graph, so they become blocks of
  // `home`, reusable there at once and elsewhere once `home`'s work so far is done.
  for (auto& [size, blocks] : pool.free) {
    for (Block& b : blocks) {
      b.pool = 0;
      b.stream = home;
      b.own_event = raw_->record_event(home);
      stats_.bytes_in_graph_pools -= size;
      stats_.bytes_cached += size;
      free_[size].push_back(std::move(b));
    }
  }
  // Blocks still in use (the graph's outputs): ordinary blocks of `home` from now on.
  for (auto& [ptr, b] : in_use_) {
    if (b.pool != id) continue;
    b.pool = 0;
    b.stream = home;
  }
  pools_.erase(id);
  --stats_.graph_pools;
}

bool CachingAllocator::capturing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !capturing_.empty();
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
      free_block(b);
      stats_.bytes_cached -= b.size;
    }
  }
  free_.clear();
}

void CachingAllocator::free_block(Block& b) {
  release_block_events(b);  // the device must be done with a block before it is freed
  raw_->deallocate(b.ptr, b.size);
  stats_.bytes_reserved -= b.size;
  ++stats_.raw_frees;
}

void* CachingAllocator::raw_allocate(std::size_t size, std::size_t bytes, bool may_retry) {
  void* ptr = raw_->allocate(size);
  if (!ptr && may_retry) {
    // Rule 4: give the cache back to the device and try exactly once more.
    ++stats_.oom_retries;
    free_cached_blocks();
    ptr = raw_->allocate(size);
  }
  if (!ptr) {
    const std::string more = raw_->describe();
    LOOM_CHECK(may_retry, "CUDA out of memory on ", name_,
               " while a CUDA Graph is being captured: ", "cannot allocate ", bytes,
               " bytes (size class ", size, " bytes); loom holds ", stats_.bytes_in_use,
               " bytes in use and ", stats_.bytes_cached,
               " bytes cached, which it cannot free during a capture (freeing memory "
               "synchronises the device); call empty_cache() before capture()",
               more.empty() ? "" : "; ", more);
    LOOM_FAIL("CUDA out of memory on ", name_, ": cannot allocate ", bytes, " bytes (size class ",
              size, " bytes); loom holds ", stats_.bytes_in_use,
              " bytes in use and emptied its cache of other blocks before retrying",
              more.empty() ? "" : "; ", more);
  }
  stats_.bytes_reserved += size;
  ++stats_.raw_allocations;
  return ptr;
}

void CachingAllocator::hold_in_graph_pool(Block block) {
  // The block's pool: the capture on one of its streams if there is one, else the most recent.
  PoolId holder = last_capture_;
  std::vector<StreamId> streams = block.extra_streams;
  streams.insert(streams.begin(), block.stream);
  for (StreamId s : streams) {
    const auto c = capturing_.find(s);
    if (c != capturing_.end()) holder = c->second;
  }
  // Events now on the streams that run real work; later on those being captured (rule 6c).
  for (StreamId s : streams) {
    if (capturing_.count(s) != 0) {
      block.deferred.push_back(s);
    } else if (s == block.stream) {
      block.own_event = raw_->record_event(s);
    } else {
      block.extra_events.push_back(raw_->record_event(s));
    }
  }
  block.extra_streams.clear();
  stats_.bytes_in_use -= block.size;
  stats_.bytes_in_graph_pools += block.size;
  pools_.at(holder).held.push_back(std::move(block));
}

CachingAllocator::GraphPool& CachingAllocator::pool_of(PoolId id, const char* op) {
  const auto it = pools_.find(id);
  LOOM_CHECK(it != pools_.end(), "CachingAllocator(", name_, ")::", op, ": no graph pool ", id,
             " (never begun, or already released)");
  return it->second;
}

void CachingAllocator::note_peaks() {
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
}

}  // namespace loom::cuda
