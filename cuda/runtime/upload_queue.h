// cuda/runtime/upload_queue.h: host tensors copied to a GPU on a stream of their own, while the
// compute stream runs the previous step. Public: no CUDA header.
//
//   UploadQueue q(Device("cuda:0"), {{DType::Int32, {100, 100}}, {DType::Float32, {100, 1}}});
//   q.submit({tokens_0, labels_0});                       // CPU tensors: copy enqueued
//   for (int64_t i = 0; i < n; ++i) {
//     const std::vector<Tensor> b = q.next();             // the compute stream waits, not the host
//     if (i + 1 < n) q.submit({tokens[i + 1], labels[i + 1]});   // copies during step i
//     step(b[0], b[1]);
//   }
// submit() copies into a pinned staging slot (pinned.h) and enqueues the copies on the queue's
// copy stream; the slot protocol is upload_slots.h. Why not Tensor::to: that copies on the compute
// stream from pageable memory, which cannot overlap a kernel (docs/labs/08-cuda.md, 7c).
// Without a CUDA build or a device the constructor throws loom::Error saying why.
// Leaves out: several compute streams, submitting from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace loom::cuda {

// One tensor of every item: its dtype and its largest shape. An item's tensor may have fewer
// rows (dim 0) than max_shape[0]; its other dims must equal max_shape's.
struct UploadPart {
  DType dtype;
  Shape max_shape;
};

class UploadQueue {
 public:
  // Items of `parts` for `device` (a CUDA device). ahead >= 1: items that may wait, submitted and
  // not taken, once submit() returns (ahead + 2 slots).
  UploadQueue(Device device, std::vector<UploadPart> parts, int ahead = 1);
  ~UploadQueue();  // waits for the copies in flight
  UploadQueue(const UploadQueue&) = delete;
  UploadQueue& operator=(const UploadQueue&) = delete;

  // Enqueues the copy of one item: one CPU tensor per part, in order, as described by the parts.
  // The caller may reuse them as soon as this returns. Throws naming the part when a tensor does
  // not fit, or when every slot may still be in use (upload_slots.h).
  void submit(const std::vector<Tensor>& item);

  // The oldest submitted item, as views of the slot's device tensors with the submitted shapes.
  // The compute stream (this thread's current stream on the device) waits for its copy; the host
  // does not. Valid for work enqueued until the next-but-one next(). Throws when none is waiting.
  std::vector<Tensor> next();

  // Seconds submit() spent waiting for a slot's previous copy (should stay about 0).
  double host_wait_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom::cuda
