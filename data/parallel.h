// data/parallel.h: split [0, n) into contiguous chunks and run them on std::threads.
//
// Chunk c always covers the same rows for a given (n, threads), and callers merge per-chunk
// results in chunk order, so a multi-threaded result is bit-identical to the 1-thread one.
// An exception thrown by a chunk is re-thrown in the caller after every thread has joined.
// Left out: a thread pool (threads are created per call; the calls here are coarse, ~0.1 s).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace loom::data {

// Number of threads to use for `requested` (<= 0 means all hardware threads).
inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Calls f(begin, end, chunk) for `chunks` contiguous ranges covering [0, n); chunk 0 runs on the
// calling thread. chunks = min(threads, n), at least 1.
template <typename F>
void parallel_chunks(int64_t n, int threads, F&& f) {
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(resolve_threads(threads), n));
  auto range = [&](int64_t c, int64_t* b, int64_t* e) {
    *b = n * c / chunks;
    *e = n * (c + 1) / chunks;
  };
  if (chunks == 1) {
    f(int64_t{0}, n, int64_t{0});
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks));
  std::vector<std::thread> pool;
  for (int64_t c = 1; c < chunks; ++c) {
    pool.emplace_back([&, c] {
      try {
        int64_t b, e;
        range(c, &b, &e);
        f(b, e, c);
      } catch (...) {
        errors[static_cast<size_t>(c)] = std::current_exception();
      }
    });
  }
  try {
    int64_t b, e;
    range(0, &b, &e);
    f(b, e, int64_t{0});
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : pool)
    t.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace loom::data
