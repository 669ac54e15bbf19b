// cuda/allocator_policy.h: the caching allocator's policy — size classes, free lists, stream
// bookkeeping, statistics, the out-of-memory retry — with no CUDA in it.
//
// The policy never touches device memory itself. It asks a RawDeviceMemory (an interface) for
// raw blocks and events: on a GPU that is cudaMalloc/cudaFree/cudaEventRecord (allocator.cu);
// in tests it is a fake that counts calls and pretends to run streams, so every rule below is
// tested on machines without a GPU (tests/cuda/allocator_policy_test.cpp).
//
// The rules, in the order a reader needs them:
//  1. Size classes. A request of n bytes is rounded up (round_size): n <= 1 MiB to a multiple
//     of 512 B; n > 1 MiB to a multiple of 2 MiB. 0 bytes returns nullptr and costs nothing.
//     Each rounded size is a class; a block only ever serves requests of its own class (no
//     splitting, no best-fit), which keeps the code short: a training loop asks for the same
//     sizes every step, so after the first step every request is a cache hit.
//  2. Reuse. deallocate() never frees device memory: the block goes back to its class's free
//     list. allocate() takes a block from that list when the stream rules allow, else asks raw.
//  3. Streams. A block belongs to the stream it was allocated on. Work on one stream runs in
//     order, so a block freed on stream S is reusable on S at once, without any sync. At free
//     time an event is recorded on S; the block is reusable on another stream T only once that
//     event has completed (all of S's work on the block is done). A block also used on other
//     streams must be told so with record_stream(ptr, T): an event is then recorded on each such
//     T at free time too, and the block is reused (on any stream) only after those complete.
//  4. Out of memory. If raw allocation fails, the policy empties its cache (waiting for pending
//     events, then freeing every cached block) and retries once; if that fails too it throws a
//     loom::Error naming the requested size and what loom holds.
//  5. Statistics for tests and for the training log: bytes in use/cached/reserved, peaks, and
//     raw allocation counts.
//
// Thread-safe (one mutex). Left out: splitting large blocks, coalescing, per-stream pools
// beyond the rules above, memory-fraction limits, expandable segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace loom::cuda {

// A stream or event as an opaque integer: the policy compares and stores them, never uses them.
using StreamId = std::uintptr_t;
using EventId = std::uintptr_t;

// The raw side: the only code that touches device memory and the runtime's events.
class RawDeviceMemory {
 public:
  virtual ~RawDeviceMemory() = default;
  // A new raw block of exactly `bytes` bytes, or nullptr when the device is out of memory.
  // Any other failure throws loom::Error.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) = 0;
  // An event that completes when all work enqueued on `stream` so far has completed.
  virtual EventId record_event(StreamId stream) = 0;
  virtual bool event_completed(EventId event) = 0;    // non-blocking
  virtual void event_synchronize(EventId event) = 0;  // blocks the host
  virtual void release_event(EventId event) = 0;      // the policy is done with it
  // Extra words for the out-of-memory message (e.g. the device's free/total memory).
  virtual std::string describe() { return std::string(); }
};

struct AllocatorStats {
  std::size_t bytes_in_use = 0;    // handed out and not yet returned (rounded sizes)
  std::size_t bytes_cached = 0;    // free blocks kept for reuse
  std::size_t bytes_reserved = 0;  // held from the raw side: in use + cached
  std::size_t peak_bytes_in_use = 0;
  std::size_t peak_bytes_reserved = 0;
  std::int64_t allocations = 0;      // allocate() calls that returned a block
  std::int64_t cache_hits = 0;       // ... served from a free list
  std::int64_t raw_allocations = 0;  // cudaMalloc calls that succeeded
  std::int64_t raw_frees = 0;        // cudaFree calls
  std::int64_t oom_retries = 0;      // times the cache was emptied to retry a failed raw alloc
};

class CachingAllocator {
 public:
  static constexpr std::size_t kSmallLimit = std::size_t{1} << 20;  // 1 MiB
  static constexpr std::size_t kSmallRound = 512;
  static constexpr std::size_t kLargeRound = std::size_t{2} << 20;  // 2 MiB
  static constexpr std::size_t kMaxRequest = std::size_t{1}
                                             << 48;  // 256 TiB: anything above is a bug

  // The size class of a request (rule 1). round_size(0) == 0.
  static std::size_t round_size(std::size_t bytes);

  // `name` prefixes error messages, e.g. "cuda:0".
  CachingAllocator(std::unique_ptr<RawDeviceMemory> raw, std::string name);
  // Returns cached blocks to the raw side. Blocks still in use are a leak of the caller's and
  // are left alone (freeing memory a kernel may still use would be worse).
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` bytes (round_size(bytes)) for use on `stream`; nullptr for 0.
  // Throws loom::Error when the device is out of memory even after emptying the cache.
  void* allocate(std::size_t bytes, StreamId stream);
  // Returns a block from allocate() to the cache (rule 2). nullptr is ignored; a pointer this
  // allocator did not hand out throws.
  void deallocate(void* ptr);
  // Declares that the block `ptr` is also used by work on `stream` (rule 3).
  void record_stream(void* ptr, StreamId stream);
  // Frees every cached block (waiting for its pending events first).
  void empty_cache();

  AllocatorStats stats() const;
  void reset_peak_stats();  // peaks restart from the current values

 private:
  struct Block {
    void* ptr = nullptr;
    std::size_t size = 0;                 // the size class
    StreamId stream = 0;                  // the stream it was allocated on
    std::vector<StreamId> extra_streams;  // from record_stream, while in use
    EventId own_event = 0;                // recorded on `stream` at free time (0: none)
    std::vector<EventId> extra_events;    // recorded on each extra stream at free time
  };

  // Takes a block of class `size` usable on `stream` from the free list, or returns false.
  bool take_cached(std::size_t size, StreamId stream, Block* out);
  bool events_completed(std::vector<EventId>& events);  // releases them when all completed
  void release_block_events(Block& block);
  void free_cached_blocks();  // empty_cache without the lock
  void note_peaks();

  std::unique_ptr<RawDeviceMemory> raw_;
  std::string name_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, Block> in_use_;
  std::map<std::size_t, std::vector<Block>> free_;  // size class -> free blocks (last = newest)
  AllocatorStats stats_;
};

}  // namespace loom::cuda
