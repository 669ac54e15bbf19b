// tests/cuda/allocator_policy_test.cpp: every rule of the caching allocator's policy
// (cuda/runtime/allocator_policy.h) but the graph pools (allocator_graph_pool_test.cpp), on the
// fake raw allocator of fake_raw_memory.h, so these tests run without a GPU.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda/runtime/allocator_policy.h"
#include "tensor/error.h"
#include "tests/cuda/fake_raw_memory.h"

namespace {

TEST(AllocatorPolicy, SizeClasses) {
  EXPECT_EQ(CachingAllocator::round_size(0), 0u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(MiB - 1), MiB);
  EXPECT_EQ(CachingAllocator::round_size(MiB), MiB);          // the largest small size
  EXPECT_EQ(CachingAllocator::round_size(MiB + 1), 2 * MiB);  // large: 2 MiB multiples
  EXPECT_EQ(CachingAllocator::round_size(3 * MiB), 4 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(4 * MiB), 4 * MiB);
  EXPECT_THROW(CachingAllocator::round_size(std::size_t{1} << 60), loom::Error);
}

TEST(AllocatorPolicy, ZeroBytesIsNullAndCostsNothing) {
  Fixture f;
  EXPECT_EQ(f.alloc.allocate(0, S), nullptr);
  EXPECT_NO_THROW(f.alloc.deallocate(nullptr));
  EXPECT_EQ(f.raw->mallocs, 0);
  EXPECT_EQ(f.alloc.stats().allocations, 0);
}

TEST(AllocatorPolicy, SteadyStateNeedsNoRawAllocations) {
  Fixture f;
  const std::vector<std::size_t> step_sizes = {100, 400, 40000, 3 * MiB, 100, 7};
  std::set<void*> first_step;
  for (int step = 0; step < 5; ++step) {
    std::vector<void*> ptrs;
    for (std::size_t n : step_sizes)
      ptrs.push_back(f.alloc.allocate(n, S));
    f.raw->submit(S);  // the step's kernels, still running when it frees
    if (step == 0) first_step.insert(ptrs.begin(), ptrs.end());
    EXPECT_EQ(std::set<void*>(ptrs.begin(), ptrs.end()), first_step) << "step " << step;
    for (void* p : ptrs)
      f.alloc.deallocate(p);
  }
  // 100, 400 and 7 share the 512 B class, but three of them are live at once.
  EXPECT_EQ(f.raw->mallocs, 6);
  const AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.raw_allocations, 6);
  EXPECT_EQ(st.allocations, 30);
  EXPECT_EQ(st.cache_hits, 24);
  EXPECT_EQ(st.raw_frees, 0);
}

TEST(AllocatorPolicy, BlocksServeOnlyTheirOwnSizeClass) {
  Fixture f;
  void* small = f.alloc.allocate(512, S);
  f.alloc.deallocate(small);
  void* bigger = f.alloc.allocate(1024, S);  // a cached 512 B block cannot serve 1024 B
  EXPECT_NE(bigger, small);
  EXPECT_EQ(f.raw->mallocs, 2);
  void* again = f.alloc.allocate(300, S);  // ... but serves any request of its class
  EXPECT_EQ(again, small);
  EXPECT_EQ(f.raw->mallocs, 2);
}

TEST(AllocatorPolicy, SameStreamReuseDoesNotWaitForTheStream) {
  Fixture f;
  void* a = f.alloc.allocate(1000, S);
  f.raw->submit(S);  // a kernel on S still uses `a` ...
  f.alloc.deallocate(a);
  void* b = f.alloc.allocate(1000, S);  // ... yet S may reuse it: S runs in order
  EXPECT_EQ(b, a);
  EXPECT_EQ(f.raw->mallocs, 1);
}

TEST(AllocatorPolicy, OtherStreamReusesOnlyAfterTheFreeEventCompleted) {
  Fixture f;
  void* a = f.alloc.allocate(1000, S);
  f.raw->submit(S);
  f.alloc.deallocate(a);
  void* b = f.alloc.allocate(1000, T);  // S may still be using `a`: T must not get it
  EXPECT_NE(b, a);
  EXPECT_EQ(f.raw->mallocs, 2);
  f.raw->finish(S);                     // the free event on S has completed now
  void* c = f.alloc.allocate(1000, T);  // so T may take `a`
  EXPECT_EQ(c, a);
  EXPECT_EQ(f.raw->mallocs, 2);
  // `a` now belongs to T: freed there, S has to wait for T.
  f.raw->submit(T);
  f.alloc.deallocate(c);
  void* d = f.alloc.allocate(1000, S);
  EXPECT_NE(d, a);
  EXPECT_EQ(f.raw->mallocs, 3);
}

TEST(AllocatorPolicy, WorkSubmittedAfterTheFreeDoesNotBlockReuse) {
  Fixture f;
  void* a = f.alloc.allocate(1000, S);
  f.alloc.deallocate(a);  // nothing was running on S when `a` was freed
  f.raw->submit(S);       // later work on S does not involve `a`
  EXPECT_EQ(f.alloc.allocate(1000, T), a);
}

TEST(AllocatorPolicy, RecordStreamDelaysReuseUntilThatStreamIsDone) {
  Fixture f;
  void* a = f.alloc.allocate(1000, S);
  f.alloc.record_stream(a, T);  // e.g. a copy stream reads `a`
  f.raw->submit(T);
  f.alloc.deallocate(a);
  void* b = f.alloc.allocate(1000, S);  // even S must wait: T may still read `a`
  EXPECT_NE(b, a);
  f.raw->finish(T);
  void* c = f.alloc.allocate(1000, S);
  EXPECT_EQ(c, a);
  EXPECT_EQ(f.raw->mallocs, 2);
  f.alloc.record_stream(c, S);  // its own stream: nothing to record
  f.alloc.deallocate(c);
  f.alloc.deallocate(b);
  EXPECT_EQ(f.raw->live_events(), 2u);  // one free event per cached block, nothing leaked
}

TEST(AllocatorPolicy, StatisticsFollowEveryTransition) {
  Fixture f;
  void* a = f.alloc.allocate(100, S);      // 512
  void* b = f.alloc.allocate(3 * MiB, S);  // 4 MiB
  AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.bytes_in_use, 512 + 4 * MiB);
  EXPECT_EQ(st.bytes_cached, 0u);
  EXPECT_EQ(st.bytes_reserved, 512 + 4 * MiB);
  f.alloc.deallocate(b);
  st = f.alloc.stats();
  EXPECT_EQ(st.bytes_in_use, 512u);
  EXPECT_EQ(st.bytes_cached, 4 * MiB);
  EXPECT_EQ(st.bytes_reserved, 512 + 4 * MiB);
  EXPECT_EQ(st.peak_bytes_in_use, 512 + 4 * MiB);
  f.alloc.reset_peak_stats();
  EXPECT_EQ(f.alloc.stats().peak_bytes_in_use, 512u);
  EXPECT_EQ(f.alloc.stats().peak_bytes_reserved, 512 + 4 * MiB);
  f.alloc.deallocate(a);
  EXPECT_EQ(f.alloc.stats().bytes_in_use, 0u);
  EXPECT_EQ(f.alloc.stats().bytes_cached, 512 + 4 * MiB);
}

TEST(AllocatorPolicy, EmptyCacheFreesOnlyCachedBlocksAfterTheirEvents) {
  Fixture f;
  void* kept = f.alloc.allocate(2000, S);
  void* a = f.alloc.allocate(5 * MiB, S);
  f.alloc.record_stream(a, T);
  f.raw->submit(S);
  f.raw->submit(T);
  f.alloc.deallocate(a);
  f.alloc.empty_cache();
  EXPECT_EQ(f.raw->frees, 1);
  EXPECT_EQ(f.raw->bad_frees, 0);
  EXPECT_EQ(f.raw->live_events(), 0u);  // waited for, then released
  const AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.bytes_cached, 0u);
  EXPECT_EQ(st.bytes_reserved, 2048u);
  EXPECT_EQ(st.bytes_in_use, 2048u);
  EXPECT_EQ(st.raw_frees, 1);
  f.alloc.deallocate(kept);  // the in-use block survived
  EXPECT_EQ(f.alloc.stats().bytes_cached, 2048u);
}

TEST(AllocatorPolicy, OutOfMemoryEmptiesTheCacheAndRetriesOnce) {
  Fixture f(8 * MiB);
  void* a = f.alloc.allocate(5 * MiB, S);  // 6 MiB class
  f.alloc.deallocate(a);                   // cached: the device has 2 MiB left
  void* b = f.alloc.allocate(3 * MiB, S);  // 4 MiB: fails, cache emptied, retry succeeds
  EXPECT_NE(b, nullptr);
  const AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.oom_retries, 1);
  EXPECT_EQ(st.raw_frees, 1);
  EXPECT_EQ(st.raw_allocations, 2);
  EXPECT_EQ(st.bytes_reserved, 4 * MiB);
  EXPECT_EQ(st.bytes_cached, 0u);
}

TEST(AllocatorPolicy, OutOfMemoryAfterTheRetryThrowsNamingTheSize) {
  Fixture f(8 * MiB);
  void* a = f.alloc.allocate(7 * MiB, S);  // 8 MiB: the whole fake device
  std::string msg;
  try {
    f.alloc.allocate(1000000, S);
  } catch (const loom::Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("CUDA out of memory on fake:0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot allocate 1000000 bytes (size class 1000448 bytes)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("8388608 bytes in use"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fake device, capacity"), std::string::npos) << msg;
  const AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.oom_retries, 1);
  EXPECT_EQ(st.bytes_in_use, 8 * MiB);  // the failure changed nothing
  EXPECT_EQ(st.allocations, 1);
  f.alloc.deallocate(a);
}

TEST(AllocatorPolicy, ForeignAndDoubleFreesThrow) {
  Fixture f;
  int x = 0;
  EXPECT_THROW(f.alloc.deallocate(&x), loom::Error);
  EXPECT_THROW(f.alloc.record_stream(&x, T), loom::Error);
  void* a = f.alloc.allocate(10, S);
  f.alloc.deallocate(a);
  EXPECT_THROW(f.alloc.deallocate(a), loom::Error);
}

TEST(AllocatorPolicy, ConcurrentThreadsKeepTheBooksBalanced) {
  Fixture f;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < 500; ++i) {
        void* p = f.alloc.allocate(512 * (1 + (i + t) % 4), S);
        f.alloc.deallocate(p);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  const AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.allocations, 2000);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_cached, st.bytes_reserved);
  EXPECT_LE(st.raw_allocations, 16);  // at most 4 classes x 4 live blocks
}

}  // namespace
