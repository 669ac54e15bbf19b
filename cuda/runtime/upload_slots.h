// cuda/runtime/upload_slots.h: which staging slot DeviceBatchQueue (cuda/device_batches.h) writes or
// hands out, and which events it must wait for or record: the queue's bookkeeping, in plain C++
// with no CUDA, so every rule is tested without a GPU (tests/cuda/batch_slots_test.cpp).
//
// The queue owns S slots (each a pinned host buffer and a device buffer); batch i lives in slot
// i % S. Two streams touch a slot: the copy stream writes it (host-to-device copy of batch i),
// the compute stream reads it (the training steps that use batch i). The protocol:
//
//   submit()  -> batch j = submitted(), slot j % S. If the slot held batch j - S before:
//                  - the host waits for that batch's copy event (the pinned buffer is free again;
//                    long done in practice), then fills the pinned buffer;
//                  - the copy stream waits (on the device, not the host) for that batch's release
//                    event, recorded on the compute stream, before copying into the device buffer;
//                then the copy is enqueued and the slot's copy event recorded after it.
//   next()    -> batch i = taken(), slot i % S: the compute stream waits for the slot's copy
//                event; and batch i - 2 is released: its slot's release event is recorded on the
//                compute stream now, after every step that used it was enqueued.
//
// So the tensors of batch i may be used by work enqueued until the next-but-one next() call
// (the step of batch i + 1 may still read batch i, e.g. for metrics). For submit(j) to find its
// slot released, batch j - S must have been released, i.e. batch j - S + 2 taken: at most
// S - 3 batches may wait, submitted and not yet taken, when submit() is called. With `ahead`
// batches allowed to wait, S = ahead + 2 (+ 1 for the batch being filled): the default ahead = 1
// gives 3 slots and the loop `submit(0); for (i...) { b = next(); submit(i + 1); step(b); }`,
// where the copy of batch i + 1 overlaps step i.
//
// Left out: several compute streams (the release event is recorded on one), multiple producers.
#pragma once

#include <cstdint>

#include "tensor/error.h"

namespace loom::cuda {

class BatchSlots {
 public:
  // `ahead` >= 1: batches that may wait (submitted, not yet taken) when submit() is called.
  explicit BatchSlots(int ahead = 1) : slots_(ahead + 2) {
    LOOM_CHECK(ahead >= 1, "DeviceBatchQueue: ahead must be >= 1, got ", ahead);
  }

  struct Fill {
    int slot;     // the slot to fill
    bool reused;  // the slot held batch j - S: wait for its copy and release events
  };
  // The slot for the next batch. Throws when that slot may still be read by the compute stream.
  Fill begin_submit() const {
    const int64_t j = submitted_;
    LOOM_CHECK(j - taken_ <= slots_ - 3, "DeviceBatchQueue::submit: batch ", j,
               " would overwrite slot ", j % slots_, ", which batch ", j - slots_,
               " may still be using: ", j - taken_,
               " batches are submitted and not yet taken, "
               "and at most ",
               slots_ - 3, " may be (raise `ahead`, or call next() before submit())");
    return Fill{static_cast<int>(j % slots_), j >= slots_};
  }
  void end_submit() { ++submitted_; }

  struct Take {
    int slot;          // the batch's slot: wait for its copy event
    int release_slot;  // record the release event of this slot now (-1: none yet)
  };
  // The next batch to hand out. Throws when none was submitted.
  Take take() {
    const int64_t i = taken_;
    LOOM_CHECK(i < submitted_, "DeviceBatchQueue::next: no batch waiting (", submitted_,
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
