// tests/cuda/upload_slots_test.cpp: the slot protocol of UploadQueue (cuda/runtime/upload_slots.h),
// in plain C++, so it runs without a GPU.
//
// A small model of the two streams checks the one property that matters: no slot is written
// (submit) while an item the compute stream may still read lives in it. An item may be read
// until the next-but-one next(), when its release event is recorded; a reused slot must have
// had its release recorded before the copy into it is enqueued.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cuda/runtime/upload_slots.h"
#include "tests/common/error_of.h"

namespace {

using loom::cuda::UploadSlots;
using loom::test::error_of;

// Drives UploadSlots like UploadQueue does and checks every step against the model.
struct Model {
  explicit Model(int ahead) : slots(ahead) {}

  void submit() {
    const UploadSlots::Fill f = slots.begin_submit();
    const int64_t j = slots.submitted();
    EXPECT_EQ(f.slot, j % slots.slots());
    EXPECT_EQ(f.reused, j >= slots.slots());
    if (f.reused) {
      const int64_t previous = j - slots.slots();  // the batch that lived in this slot
      EXPECT_TRUE(released.count(previous)) << "batch " << j << " overwrites batch " << previous
                                            << ", whose release was never recorded";
    }
    owner[f.slot] = j;
    slots.end_submit();
  }

  int64_t take() {
    const int64_t i = slots.taken();
    const UploadSlots::Take t = slots.take();
    EXPECT_EQ(owner.at(t.slot), i) << "handed out the wrong slot";
    if (t.release_slot >= 0) {
      const int64_t old = owner.at(t.release_slot);
      EXPECT_EQ(old, i - 2) << "batch " << i << " releases batch " << old;
      released[old] = true;
    }
    return i;
  }

  UploadSlots slots;
  std::map<int, int64_t> owner;      // slot -> batch in it
  std::map<int64_t, bool> released;  // batches whose release event was recorded
};

TEST(UploadSlots, DoubleBufferedLoopNeverOverwritesABatchInUse) {
  Model m(1);
  EXPECT_EQ(m.slots.slots(), 3);
  m.submit();
  for (int64_t i = 0; i < 50; ++i) {
    EXPECT_EQ(m.take(), i);
    m.submit();  // batch i + 1 copies while step i runs
  }
  EXPECT_EQ(m.slots.pending(), 1);
}

TEST(UploadSlots, DeeperQueuesKeepMoreBatchesAhead) {
  for (int ahead : {2, 3, 5}) {
    Model m(ahead);
    EXPECT_EQ(m.slots.slots(), ahead + 2);
    for (int k = 0; k < ahead; ++k)
      m.submit();
    for (int64_t i = 0; i < 40; ++i) {
      EXPECT_EQ(m.take(), i);
      m.submit();
      EXPECT_EQ(m.slots.pending(), ahead);
    }
    // Drain, then start again (a new epoch on the same queue).
    while (m.slots.pending() > 0)
      m.take();
    for (int64_t i = 0; i < 10; ++i) {
      m.submit();
      m.take();
    }
  }
}

TEST(UploadSlots, SubmittingTooFarAheadIsAClearError) {
  UploadSlots s(1);
  s.begin_submit();
  s.end_submit();  // batch 0 waits
  const std::string msg = error_of([&] { s.begin_submit(); });
  EXPECT_NE(msg.find("UploadQueue::submit: item #1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at most 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("raise `ahead`"), std::string::npos) << msg;
  s.take();
  EXPECT_NO_THROW(s.begin_submit());
}

TEST(UploadSlots, ASlotIsReusedOnceItsBatchWasReleased) {
  // ahead 1, 3 slots: batches 0, 1, 2 submitted and taken one by one. Taking batch 2 released
  // batch 0 (the next-but-one rule), so batch 3 may reuse slot 0, waiting for its events.
  UploadSlots s(1);
  for (int j = 0; j < 3; ++j) {
    s.begin_submit();
    s.end_submit();
    s.take();
  }
  // Batches 0, 1, 2 submitted and taken; taking batch 2 released batch 0, so slot 0 is free.
  const UploadSlots::Fill f = s.begin_submit();
  EXPECT_EQ(f.slot, 0);
  EXPECT_TRUE(f.reused);
}

TEST(UploadSlots, NextWithoutABatchAndBadDepthAreClearErrors) {
  UploadSlots s(1);
  EXPECT_NE(error_of([&] { s.take(); }).find("nothing waiting"), std::string::npos);
  EXPECT_NE(error_of([] { UploadSlots bad(0); }).find("ahead must be >= 1"), std::string::npos);
}

TEST(UploadSlots, TheFirstTwoTakesReleaseNothing) {
  UploadSlots s(2);
  std::vector<int> releases;
  for (int j = 0; j < 2; ++j) {
    s.begin_submit();
    s.end_submit();
  }
  for (int i = 0; i < 6; ++i) {
    releases.push_back(s.take().release_slot);
    s.begin_submit();
    s.end_submit();
  }
  EXPECT_EQ(releases, (std::vector<int>{-1, -1, 0, 1, 2, 3}));
}

}  // namespace
