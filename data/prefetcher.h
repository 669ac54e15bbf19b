// data/prefetcher.h: background workers that build the next batches while the loop trains.
//
//   Prefetcher<Batch> pf(loader.num_batches(), [&](int64_t i) { return loader.batch(i); }, 2, 4);
//   Batch b;
//   while (pf.next(b)) train_step(b);
//   PrefetchStats s = pf.stats();   // s.wait_seconds: time the loop was blocked this epoch
//
// `workers` threads call producer(i) for i = 0..count-1 and park the results in a ring of
// `capacity` slots, never more than that ahead of the consumer; next() hands them out strictly
// in order. If producer(k) throws, nothing new is claimed: next() delivers the items before k,
// then re-throws at k, whatever the number of workers. The destructor (also run on an early
// break or a throw) stops and joins the workers once their current call returns, so the
// producer must return. workers = 0 runs the producer inline in next(): the no-prefetch
// baseline, with the same stats. What it hides, measured: docs/labs/05-data.md, section 2.
// Left out: reuse across epochs (make one per epoch; starting threads costs microseconds),
// pinned-memory staging (the CUDA side's job).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tensor/error.h"

namespace loom::data {

struct PrefetchStats {
  int64_t items = 0;           // handed to the consumer so far
  int workers = 0;             // worker threads (0 = inline)
  double wait_seconds = 0;     // time the consumer spent blocked in next()
  double produce_seconds = 0;  // time spent inside producer(), summed over workers
};

template <typename T>
class Prefetcher {
 public:
  using Producer = std::function<T(int64_t)>;

  // count >= 0 items; workers >= 0; capacity >= 1 (raised to `workers` when smaller, so no
  // worker idles for lack of a slot).
  Prefetcher(int64_t count, Producer producer, int workers = 1, int64_t capacity = 4)
      : count_(count), producer_(std::move(producer)), workers_(workers) {
    LOOM_CHECK(count >= 0, "Prefetcher: count must be >= 0, got ", count);
    LOOM_CHECK(workers >= 0, "Prefetcher: workers must be >= 0, got ", workers);
    LOOM_CHECK(capacity >= 1, "Prefetcher: capacity must be >= 1, got ", capacity);
    LOOM_CHECK(static_cast<bool>(producer_), "Prefetcher: empty producer");
    capacity_ = std::max<int64_t>(capacity, workers);
    ring_.resize(static_cast<size_t>(capacity_));
    try {
      for (int w = 0; w < workers; ++w)
        threads_.emplace_back([this] { work(); });
    } catch (...) {
      stop();
      throw;
    }
  }

  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  ~Prefetcher() { stop(); }

  // Moves item `consumed` into `out` and returns true; false once all items were delivered (or
  // after stop()). Re-throws a producer exception at the failing item's position.
  bool next(T& out) {
    using clock = std::chrono::steady_clock;
    if (workers_ == 0) {
      if (consumed_ >= count_ || stopped_) return false;
      const auto t0 = clock::now();
      out = producer_(consumed_);
      const double dt = std::chrono::duration<double>(clock::now() - t0).count();
      wait_seconds_ += dt;
      produce_seconds_ += dt;
      ++consumed_;
      return true;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (consumed_ >= count_ || stopped_) return false;
    std::optional<T>& slot = ring_[static_cast<size_t>(consumed_ % capacity_)];
    const auto t0 = clock::now();
    ready_.wait(lock, [&] { return slot.has_value() || error_index_ <= consumed_ || stopped_; });
    wait_seconds_ += std::chrono::duration<double>(clock::now() - t0).count();
    if (!slot.has_value()) {
      if (stopped_) return false;
      std::exception_ptr error = error_;
      lock.unlock();
      stop();  // the failing item is never delivered: this prefetcher is done
      std::rethrow_exception(error);
    }
    out = std::move(*slot);
    slot.reset();
    ++consumed_;
    lock.unlock();
    space_.notify_all();
    return true;
  }

  // Stops the workers (each finishes the producer call it is in) and joins them. Idempotent.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    space_.notify_all();
    ready_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  PrefetchStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return PrefetchStats{consumed_, workers_, wait_seconds_, produce_seconds_};
  }

  int64_t size() const { return count_; }

 private:
  static constexpr int64_t kNoError = std::numeric_limits<int64_t>::max();

  void work() {
    using clock = std::chrono::steady_clock;
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] {
          return stopped_ || error_index_ != kNoError || claimed_ >= count_ ||
                 claimed_ < consumed_ + capacity_;
        });
        if (stopped_ || error_index_ != kNoError || claimed_ >= count_) return;
        i = claimed_++;
      }
      // Slot i % capacity is free: i < consumed + capacity, so item i - capacity was consumed.
      const auto t0 = clock::now();
      try {
        T value = producer_(i);
        const double dt = std::chrono::duration<double>(clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(mutex_);
        produce_seconds_ += dt;
        ring_[static_cast<size_t>(i % capacity_)] = std::move(value);
      } catch (...) {
        const double dt = std::chrono::duration<double>(clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(mutex_);
        produce_seconds_ += dt;
        if (i < error_index_) {
          error_index_ = i;
          error_ = std::current_exception();
        }
      }
      ready_.notify_all();
      space_.notify_all();  // after an error, idle workers must wake up and exit
    }
  }

  const int64_t count_;
  Producer producer_;
  const int workers_;
  int64_t capacity_ = 1;

  mutable std::mutex mutex_;            // guards everything below
  std::condition_variable ready_;       // consumer waits: an item is ready, an error, or stop
  std::condition_variable space_;       // workers wait: a slot is free, or stop
  std::vector<std::optional<T>> ring_;  // [capacity] item i lives in ring_[i % capacity]
  int64_t claimed_ = 0;                 // next item a worker will take
  int64_t consumed_ = 0;                // next item the consumer will take
  bool stopped_ = false;
  int64_t error_index_ = kNoError;  // smallest failing item
  std::exception_ptr error_;
  double wait_seconds_ = 0;
  double produce_seconds_ = 0;
  std::vector<std::thread> threads_;  // last member: started after everything above exists
};

}  // namespace loom::data
