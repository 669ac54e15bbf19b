// tests/cuda/allocator_graph_pool_test.cpp: the caching allocator's graph pools (rule 6 of
// cuda/runtime/allocator_policy.h), what cuda/runtime/graph.h relies on to capture a training step,
// on the fake device of fake_raw_memory.h, so they run without a GPU.
//
// The properties a captured graph needs, one test each:
//   - allocations on the capture stream come from a private pool, never from the general cache;
//   - the pool's blocks stay reserved (addresses valid for every replay) until it is released;
//   - nothing synchronises and no event is recorded on the capturing stream during a capture;
//   - blocks freed during a capture (possibly still read by the graph or by earlier work) are
//     held until the release, then follow the ordinary stream rules;
//   - the graph's outputs, still in use at the release, become ordinary blocks of `home`.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "cuda/runtime/allocator_policy.h"
#include "tensor/error.h"
#include "tests/common/error_of.h"
#include "tests/cuda/fake_raw_memory.h"

namespace {

using loom::cuda::PoolId;
using loom::test::error_of;

constexpr StreamId C = 7;  // the graph's capture stream

// Opens a capture on C, as cuda/runtime/graph.cu does (the fake's stream first, then the policy).
PoolId begin(Fixture& f) {
  f.raw->begin_capture(C);
  return f.alloc.begin_graph_capture(C);
}
void end(Fixture& f, PoolId pool) {
  f.raw->end_capture(C);
  f.alloc.end_graph_capture(pool);
}

// bytes_reserved always splits into the three places a block can be.
void expect_books_balance(const AllocatorStats& st) {
  EXPECT_EQ(st.bytes_reserved, st.bytes_in_use + st.bytes_cached + st.bytes_in_graph_pools);
}

TEST(AllocatorGraphPool, CaptureAllocatesFromAPrivatePool) {
  Fixture f;
  void* general = f.alloc.allocate(1000, S);
  f.alloc.deallocate(general);  // cached, and S is idle: any stream could take it
  const PoolId pool = begin(f);
  void* a = f.alloc.allocate(1000, C);
  EXPECT_NE(a, general) << "a capture must not take a general cached block";
  f.alloc.deallocate(a);
  void* b = f.alloc.allocate(1000, C);  // reuse inside the capture: stream order protects it
  EXPECT_EQ(b, a);
  void* c = f.alloc.allocate(1000, S);  // other streams keep the general cache
  EXPECT_EQ(c, general);
  f.alloc.deallocate(c);  // a general block freed during a capture: held (next test)
  end(f, pool);
  EXPECT_EQ(f.raw->mallocs, 2);
  expect_books_balance(f.alloc.stats());
  f.alloc.deallocate(b);
  f.alloc.release_graph_pool(pool, S);
}

TEST(AllocatorGraphPool, PoolBlocksStayReservedUntilTheRelease) {
  Fixture f;
  const PoolId pool = begin(f);
  void* act = f.alloc.allocate(3 * MiB, C);  // an activation, freed inside the captured step
  f.alloc.deallocate(act);
  end(f, pool);
  AllocatorStats st = f.alloc.stats();
  EXPECT_EQ(st.bytes_in_graph_pools, 4 * MiB);
  EXPECT_EQ(st.bytes_cached, 0u);
  EXPECT_EQ(st.graph_pools, 1);
  expect_books_balance(st);
  // Every replay writes `act`: no stream may get it while the graph exists, not even C.
  void* s = f.alloc.allocate(3 * MiB, S);
  void* c = f.alloc.allocate(3 * MiB, C);
  EXPECT_NE(s, act);
  EXPECT_NE(c, act);
  f.alloc.deallocate(s);
  f.alloc.deallocate(c);
  f.alloc.empty_cache();  // frees the general blocks, never the pool's
  EXPECT_EQ(f.alloc.stats().bytes_in_graph_pools, 4 * MiB);
  f.alloc.release_graph_pool(pool, S);
  st = f.alloc.stats();
  EXPECT_EQ(st.bytes_in_graph_pools, 0u);
  EXPECT_EQ(st.bytes_cached, 4 * MiB);
  EXPECT_EQ(st.graph_pools, 0);
  expect_books_balance(st);
  const int mallocs = f.raw->mallocs;
  EXPECT_EQ(f.alloc.allocate(3 * MiB, S), act);  // back in the cache, as a block of `home`
  EXPECT_EQ(f.raw->mallocs, mallocs);
}

TEST(AllocatorGraphPool, NothingSynchronisesOrRecordsOnTheCapturingStream) {
  Fixture f;
  void* before = f.alloc.allocate(2000, C);  // C was used before the capture (a warm-up)
  f.raw->submit(C);
  const PoolId pool = begin(f);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i)
    blocks.push_back(f.alloc.allocate(512 * (i + 1), C));
  for (void* p : blocks)
    f.alloc.deallocate(p);
  f.alloc.deallocate(before);
  EXPECT_NE(error_of([&] { f.alloc.empty_cache(); }).find("being captured"), std::string::npos);
  end(f, pool);
  EXPECT_EQ(f.raw->captured_records, 0);
  EXPECT_EQ(f.raw->frees_during_capture, 0);
  EXPECT_EQ(f.raw->syncs_during_capture, 0);
  f.alloc.release_graph_pool(pool, S);
  EXPECT_EQ(f.raw->captured_records, 0);  // `before`'s event on C was recorded after the capture
}

TEST(AllocatorGraphPool, BlocksFreedDuringACaptureAreHeldUntilTheRelease) {
  Fixture f;
  void* input = f.alloc.allocate(1000, S);  // e.g. a batch, read by the captured step
  f.raw->submit(S);                         // ... and by a kernel on S still running
  const PoolId pool = begin(f);
  f.alloc.deallocate(input);  // dropped inside the captured code
  EXPECT_NE(f.alloc.allocate(1000, C), input) << "the graph may read it: not reusable";
  end(f, pool);
  f.raw->finish(S);
  EXPECT_NE(f.alloc.allocate(1000, S), input) << "held until the graph is released";
  f.alloc.release_graph_pool(pool, S);
  // Now the ordinary rules, with the event recorded when it was freed: S at once, T once S's
  // work before the free completed (it has).
  EXPECT_EQ(f.alloc.allocate(1000, T), input);
  EXPECT_EQ(f.raw->captured_records, 0);
  expect_books_balance(f.alloc.stats());
}

TEST(AllocatorGraphPool, HeldBlocksWaitForTheWorkQueuedBeforeTheirFree) {
  Fixture f;
  void* input = f.alloc.allocate(1000, S);
  f.raw->submit(S);  // still running when freed, and when the pool is released
  const PoolId pool = begin(f);
  f.alloc.deallocate(input);
  end(f, pool);
  f.alloc.release_graph_pool(pool, T);
  void* t = f.alloc.allocate(1000, T);
  EXPECT_NE(t, input) << "S's kernel may still use it";
  f.raw->finish(S);
  EXPECT_EQ(f.alloc.allocate(1000, T), input);
  f.alloc.deallocate(t);
}

TEST(AllocatorGraphPool, OutputsStillInUseBecomeBlocksOfHome) {
  Fixture f;
  const PoolId pool = begin(f);
  void* loss = f.alloc.allocate(4, C);  // the graph's output, read after every replay
  end(f, pool);
  f.alloc.deallocate(loss);  // dropped between replays: back to the pool, still reserved
  EXPECT_EQ(f.alloc.stats().bytes_in_graph_pools, 512u);
  EXPECT_NE(f.alloc.allocate(4, S), loss);
  void* again = f.alloc.allocate(4, C);  // C is not capturing: the general cache, not the pool
  EXPECT_NE(again, loss);
  f.alloc.deallocate(again);
  // A second output, still held by the user when the graph (and C) go away.
  const PoolId pool2 = begin(f);
  void* out = f.alloc.allocate(4, C);
  end(f, pool2);
  f.alloc.release_graph_pool(pool, S);
  f.alloc.release_graph_pool(pool2, S);
  f.raw->destroy(C);
  f.raw->submit(S);
  f.alloc.deallocate(out);  // its free event goes to S, the stream C's blocks moved to
  EXPECT_EQ(f.raw->dead_stream_records, 0);
  EXPECT_EQ(f.alloc.allocate(4, S), out);  // S reuses its own block at once
  expect_books_balance(f.alloc.stats());
}

TEST(AllocatorGraphPool, TwoCapturesKeepSeparatePools) {
  Fixture f;
  constexpr StreamId D = 8;
  f.raw->begin_capture(C);
  const PoolId p1 = f.alloc.begin_graph_capture(C);
  f.raw->begin_capture(D);
  const PoolId p2 = f.alloc.begin_graph_capture(D);
  EXPECT_NE(p1, p2);
  void* a = f.alloc.allocate(1000, C);
  f.alloc.deallocate(a);
  EXPECT_NE(f.alloc.allocate(1000, D), a) << "a block of graph 1 is not graph 2's";
  f.raw->end_capture(C);
  f.alloc.end_graph_capture(p1);
  EXPECT_TRUE(f.alloc.capturing());  // D still is
  f.raw->end_capture(D);
  f.alloc.end_graph_capture(p2);
  EXPECT_FALSE(f.alloc.capturing());
  EXPECT_EQ(f.alloc.stats().graph_pools, 2);
  f.alloc.release_graph_pool(p2, S);
  f.alloc.release_graph_pool(p1, S);
  EXPECT_EQ(f.alloc.stats().graph_pools, 0);
}

TEST(AllocatorGraphPool, OutOfMemoryDuringACaptureThrowsWithoutFreeing) {
  Fixture f(8 * MiB);
  void* cached = f.alloc.allocate(5 * MiB, S);  // 6 MiB class
  f.alloc.deallocate(cached);                   // cached: 2 MiB left on the fake device
  const PoolId pool = begin(f);
  const std::string msg = error_of([&] { f.alloc.allocate(3 * MiB, C); });
  EXPECT_NE(msg.find("while a CUDA Graph is being captured"), std::string::npos) << msg;
  EXPECT_NE(msg.find("call empty_cache() before capture()"), std::string::npos) << msg;
  EXPECT_EQ(f.raw->frees, 0) << "the cache must not be emptied during a capture";
  // Nor by another stream's allocation: cudaFree synchronises the whole device.
  EXPECT_NE(error_of([&] { f.alloc.allocate(3 * MiB, S); }).find("being captured"),
            std::string::npos);
  EXPECT_EQ(f.raw->frees, 0);
  EXPECT_EQ(f.alloc.stats().oom_retries, 0);
  end(f, pool);
  f.alloc.release_graph_pool(pool, S);
  EXPECT_NE(f.alloc.allocate(3 * MiB, S), nullptr);  // outside a capture, the retry works again
  EXPECT_EQ(f.alloc.stats().oom_retries, 1);
}

TEST(AllocatorGraphPool, MisuseIsAClearError) {
  Fixture f;
  const PoolId pool = begin(f);
  EXPECT_NE(error_of([&] { f.alloc.begin_graph_capture(C); }).find("already being captured"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f.alloc.release_graph_pool(pool, S); }).find("still capturing"),
            std::string::npos);
  end(f, pool);
  EXPECT_NE(error_of([&] { f.alloc.end_graph_capture(pool); }).find("not capturing"),
            std::string::npos);
  f.alloc.release_graph_pool(pool, S);
  EXPECT_NE(error_of([&] { f.alloc.release_graph_pool(pool, S); }).find("already released"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f.alloc.end_graph_capture(12345); }).find("no graph pool 12345"),
            std::string::npos);
}

TEST(AllocatorGraphPool, ASecondStepAfterTheReleaseNeedsNoNewMemory) {
  // The pattern of a graphed training loop: capture once, replay many times (no allocation),
  // destroy the graph; its memory then serves eager steps without cudaMalloc.
  Fixture f;
  const std::vector<std::size_t> step = {40000, 160000, 3 * MiB, 512};
  const PoolId pool = begin(f);
  std::vector<void*> ptrs;
  for (std::size_t n : step)
    ptrs.push_back(f.alloc.allocate(n, C));
  for (void* p : ptrs)
    f.alloc.deallocate(p);
  end(f, pool);
  const int mallocs = f.raw->mallocs;
  f.alloc.release_graph_pool(pool, S);
  std::set<void*> eager;
  for (std::size_t n : step)
    eager.insert(f.alloc.allocate(n, S));
  EXPECT_EQ(eager, std::set<void*>(ptrs.begin(), ptrs.end()));
  EXPECT_EQ(f.raw->mallocs, mallocs);
}

}  // namespace
