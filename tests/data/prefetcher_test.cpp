// tests/data/prefetcher_test.cpp: the Prefetcher delivers in order with any number of workers,
// bounds its queue, re-throws producer errors at the right item, and shuts down cleanly when the
// loop stops early or throws. Every test runs under a watchdog (no hang can stall ctest).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "data/dataset.h"
#include "data/prefetcher.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::run_with_timeout;
constexpr double kTimeout = 20.0;

void jitter(int64_t i) {
  std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 500));
}

TEST(Prefetcher, DeliversEveryItemInOrder) {
  run_with_timeout(kTimeout, [] {
    for (int workers : {0, 1, 2, 4}) {
      for (int64_t capacity : {1, 3, 16}) {
        Prefetcher<int64_t> pf(
            50,
            [](int64_t i) {
              jitter(i);
              return i * i;
            },
            workers, capacity);
        int64_t v = -1, expected = 0;
        while (pf.next(v)) {
          EXPECT_EQ(v, expected * expected) << workers << " workers, capacity " << capacity;
          ++expected;
        }
        EXPECT_EQ(expected, 50);
        EXPECT_FALSE(pf.next(v));  // stays finished
        const PrefetchStats s = pf.stats();
        EXPECT_EQ(s.items, 50);
        EXPECT_EQ(s.workers, workers);
        EXPECT_GE(s.wait_seconds, 0.0);
        EXPECT_GT(s.produce_seconds, 0.0);
      }
    }
  });
}

TEST(Prefetcher, NeverRunsMoreThanCapacityAhead) {
  run_with_timeout(kTimeout, [] {
    std::atomic<int64_t> highest{-1};
    Prefetcher<int64_t> pf(
        100,
        [&](int64_t i) {
          int64_t h = highest.load();
          while (i > h && !highest.compare_exchange_weak(h, i)) {
          }
          return i;
        },
        3, 4);
    int64_t v;
    for (int64_t consumed = 0; consumed < 10; ++consumed) {
      ASSERT_TRUE(pf.next(v));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the workers race ahead
      // After taking item `consumed`, items up to consumed + capacity may be claimed.
      EXPECT_LE(highest.load(), consumed + 4);
    }
  });
}

TEST(Prefetcher, ZeroItemsFinishesAtOnce) {
  run_with_timeout(kTimeout, [] {
    Prefetcher<int> pf(
        0, [](int64_t) { return 1; }, 2, 2);
    int v;
    EXPECT_FALSE(pf.next(v));
  });
}

TEST(Prefetcher, StoppingEarlyDoesNotHang) {
  run_with_timeout(kTimeout, [] {
    for (int workers : {1, 2, 8}) {
      // Workers are blocked on a full queue when the consumer walks away.
      Prefetcher<std::vector<float>> pf(
          1000, [](int64_t i) { return std::vector<float>(1000, static_cast<float>(i)); }, workers,
          2);
      std::vector<float> v;
      ASSERT_TRUE(pf.next(v));
      EXPECT_EQ(v[0], 0.0f);
    }  // destructor: stop + join
  });
}

TEST(Prefetcher, ProducerErrorIsRethrownAtItsItem) {
  run_with_timeout(kTimeout, [] {
    for (int workers : {0, 1, 3}) {
      Prefetcher<int64_t> pf(
          20,
          [](int64_t i) -> int64_t {
            jitter(i);
            if (i == 5 || i == 9) throw std::runtime_error("bad batch " + std::to_string(i));
            return i;
          },
          workers, 4);
      int64_t v, got = 0;
      try {
        while (pf.next(v)) {
          EXPECT_EQ(v, got);
          ++got;
        }
        ADD_FAILURE() << "no exception with " << workers << " workers";
      } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "bad batch 5");
      }
      EXPECT_EQ(got, 5) << workers << " workers";
    }
  });
}

TEST(Prefetcher, ConsumerExceptionUnwindsCleanly) {
  run_with_timeout(kTimeout, [] {
    std::atomic<int> produced{0};
    try {
      Prefetcher<int> pf(
          1000,
          [&](int64_t i) {
            ++produced;
            return static_cast<int>(i);
          },
          2, 3);
      int v;
      while (pf.next(v))
        if (v == 10) throw std::logic_error("training step failed");
    } catch (const std::logic_error&) {
    }
    EXPECT_LT(produced.load(), 1000);  // the workers stopped instead of draining everything
  });
}

TEST(Prefetcher, FeedsADataLoader) {
  run_with_timeout(kTimeout, [] {
    std::vector<int32_t> tokens(40 * 3);
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<int32_t>(i);
    auto ds = std::make_shared<TokenDataset>(tokens, std::vector<float>(40, 1.0f), 3);
    DataLoader loader(ds, std::make_shared<RandomSampler>(40, 3), {8, false});
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      loader.set_epoch(epoch);
      Prefetcher<Batch> pf(
          loader.num_batches(), [&](int64_t i) { return loader.batch(i); }, 2, 2);
      Batch b;
      int64_t i = 0;
      while (pf.next(b)) {
        const Batch direct = loader.batch(i++);
        EXPECT_EQ(b.indices, direct.indices);
        EXPECT_EQ(b.tokens, direct.tokens);
      }
      EXPECT_EQ(i, 5);
    }
  });
}

TEST(Prefetcher, RejectsBadArguments) {
  EXPECT_THROW(Prefetcher<int>(-1, [](int64_t) { return 0; }), loom::Error);
  EXPECT_THROW(Prefetcher<int>(
                   1, [](int64_t) { return 0; }, -1),
               loom::Error);
  EXPECT_THROW(Prefetcher<int>(
                   1, [](int64_t) { return 0; }, 1, 0),
               loom::Error);
  EXPECT_THROW(Prefetcher<int>(1, nullptr), loom::Error);
}

}  // namespace
}  // namespace loom::data
