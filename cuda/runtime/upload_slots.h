// cuda/runtime/upload_slots.h: the slot and event bookkeeping of UploadQueue (upload_queue.h),
// in plain C++ with no CUDA, so every rule is tested without a GPU
// (tests/cuda/upload_slots_test.cpp).
//
// The queue owns S = ahead + 2 slots; item j lives in slot j % S. The copy stream writes a slot,
// the compute stream reads it. submit() of item j into a slot that held item j - S waits first:
// the host for that item's copy (before rewriting the pinned buffer), the copy stream for its
// release event. next() of item i makes the compute stream wait for the slot's copy and records
// the release event of item i - 2 on the compute stream. So what next() returned may be used by
// work enqueued until the next-but-one next(), and at most `ahead` items wait, submitted and not
// taken, once submit() returns. The full argument: docs/labs/08-cuda.md, section 7c.
//
// Leaves out: several compute streams (the release event is recorded on one), several producers.
#pragma once

#include <cstdint>

#include "tensor/error.h"

namespace loom::cuda {

class UploadSlots {
 public:
  // `ahead` >= 1: items that may wait (submitted, not yet taken) once submit() returns.
  explicit UploadSlots(int ahead = 1) : slots_(ahead + 2) {
    LOOM_CHECK(ahead >= 1, "UploadQueue: ahead must be >= 1, got ", ahead);
  }

  struct Fill {
    int slot;     // the slot to fill
    bool reused;  // the slot held item j - S: wait for its copy and release events
  };
  // The slot for the next item. Throws when that slot may still be read by the compute stream.
  Fill begin_submit() const {
    const int64_t j = submitted_;
    LOOM_CHECK(j - taken_ <= slots_ - 3, "UploadQueue::submit: item #", j, " would overwrite slot ",
               j % slots_, ", which item #", j - slots_, " may still be using: ", j - taken_,
               " items are submitted and not yet taken, "
               "and at most ",
               slots_ - 3, " may be (raise `ahead`, or call next() before submit())");
    return Fill{static_cast<int>(j % slots_), j >= slots_};
  }
  void end_submit() { ++submitted_; }

  struct Take {
    int slot;          // the item's slot: wait for its copy event
    int release_slot;  // record the release event of this slot now (-1: none yet)
  };
  // The next item to hand out. Throws when none was submitted.
  Take take() {
    const int64_t i = taken_;
    LOOM_CHECK(i < submitted_, "UploadQueue::next: nothing waiting (", submitted_,
               " submitted, all taken); call submit() first");
    ++taken_;
    return Take{static_cast<int>(i % slots_), i >= 2 ? static_cast<int>((i - 2) % slots_) : -1};
  }

  int slots() const { return slots_; }
  int64_t submitted() const { return submitted_; }
  int64_t taken() const { return taken_; }
  int64_t pending() const { return submitted_ - taken_; }

 private:
  int slots_;
  int64_t submitted_ = 0;
  int64_t taken_ = 0;
};

}  // namespace loom::cuda
