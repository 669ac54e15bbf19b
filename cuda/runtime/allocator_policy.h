// cuda/runtime/allocator_policy.h: the caching allocator's policy (size classes, free lists, the
// stream rules, statistics, the out-of-memory retry, the private pools of CUDA Graph captures),
// with no CUDA in it.
//
// The policy never touches device memory itself: it asks a RawDeviceMemory (an interface) for
// raw blocks and events. On a GPU that is cudaMalloc/cudaFree/cudaEventRecord (allocator.cu); in
// tests/cuda/ it is a fake that counts calls and pretends to run streams, so every rule is tested
// without a GPU. The six rules, in the order a reader needs them, are cuda/README.md's "The
// caching allocator": size classes; reuse; blocks belong to a stream (record_stream for others);
// out of memory empties the cache and retries once; statistics; graph pools.
//
// Thread-safe (one mutex). Leaves out: splitting large blocks, coalescing, memory-fraction
// limits, expandable segments, several graphs sharing one pool, capturing into a pool twice.
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
// A graph's private pool (rule 6); 0 is the general cache.
using PoolId = std::uint64_t;

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
  std::size_t bytes_in_use = 0;          // handed out and not yet returned (rounded sizes)
  std::size_t bytes_cached = 0;          // free blocks kept for reuse
  std::size_t bytes_reserved = 0;        // held from the raw side: in use + cached + in graph pools
  std::size_t bytes_in_graph_pools = 0;  // free or held blocks reserved for a graph (rule 6)
  std::int64_t graph_pools = 0;          // graph pools not yet released
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
  // Frees every cached block (waiting for its pending events first). Blocks in graph pools stay.
  // Throws while a graph is being captured (freeing device memory synchronises the device).
  void empty_cache();

  // ---- graph pools (rule 6) ----------------------------------------------------------------
  // From now on, allocations on `capture_stream` come from a new private pool, whose id is
  // returned. Throws if that stream is already capturing.
  PoolId begin_graph_capture(StreamId capture_stream);
  // The capture into `pool` is over: its stream allocates from the general cache again. The
  // pool's blocks stay reserved.
  void end_graph_capture(PoolId pool);
  // The graph using `pool` is gone and no replay of it is pending: its free and held blocks
  // return to the general cache and its blocks still in use become blocks of stream `home`.
  // Throws for an unknown pool or one still capturing.
  void release_graph_pool(PoolId pool, StreamId home);
  bool capturing() const;  // whether any capture is active on this allocator

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
    PoolId pool = 0;                      // the graph pool that owns it (0: general)
    std::vector<StreamId> deferred;       // held: streams whose event waits for the release
  };

  struct GraphPool {
    StreamId capture_stream = 0;
    bool capturing = false;
    std::map<std::size_t, std::vector<Block>> free;  // the pool's own free blocks, by class
    std::vector<Block> held;                         // general blocks freed during a capture
  };

  // Takes a block of class `size` usable on `stream` from the free list, or returns false.
  bool take_cached(std::size_t size, StreamId stream, Block* out);
  bool events_completed(std::vector<EventId>& events);  // releases them when all completed
  void release_block_events(Block& block);
  void free_cached_blocks();      // empty_cache without the lock
  void free_block(Block& block);  // waits for its events, then raw-frees it
  void* raw_allocate(std::size_t size, std::size_t bytes, bool may_retry);
  void hold_in_graph_pool(Block block);             // rule 6c
  GraphPool& pool_of(PoolId pool, const char* op);  // throws for an unknown id
  void note_peaks();

  std::unique_ptr<RawDeviceMemory> raw_;
  std::string name_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, Block> in_use_;
  std::map<std::size_t, std::vector<Block>> free_;  // size class -> free blocks (last = newest)
  std::map<PoolId, GraphPool> pools_;               // live graph pools
  std::unordered_map<StreamId, PoolId> capturing_;  // capture stream -> its pool
  PoolId next_pool_ = 1;
  PoolId last_capture_ = 0;  // the most recent capture begun (rule 6c's default holder)
  AllocatorStats stats_;
};

}  // namespace loom::cuda
