// cuda/device_batches.h: getting training batches onto the GPU without making the step wait.
// Public: no CUDA header, so apps may include it. Two ways, for the IMDB model's token batches
// (tokens [B, T] Int32, labels [B, 1] Float32):
//
// 1. DeviceBatchQueue: copy each batch as it comes, overlapped with the previous step.
//      DeviceBatchQueue q(Device("cuda:0"), /*max_rows=*/100, /*seq_len=*/100);
//      q.submit(loader.batch(0));                  // host: into pinned memory, H2D enqueued
//      for (int64_t i = 0; i < n; ++i) {
//        DeviceBatch b = q.next();                 // compute stream waits for the copy
//        if (i + 1 < n) q.submit(loader.batch(i + 1));   // copies while step i runs
//        step(b.tokens, b.labels);
//      }
//    submit() copies the rows into a pinned staging buffer (cuda/runtime/pinned.h) and enqueues an
//    asynchronous host-to-device copy on the queue's own copy stream; next() makes the compute
//    stream (this thread's current stream, cuda/runtime/stream.cuh) wait for that copy with an event,
//    without blocking the host. A slot is rewritten only after the compute stream has passed
//    an event recorded after the steps that used it: the protocol is cuda/runtime/upload_slots.h. The
//    tensors next() returns are views of the queue's device buffers, valid for work enqueued
//    until the next-but-one next() call (so step i + 1 may still read batch i).
//
// 2. ResidentDataset: the whole encoded dataset on the device (50,000 x 100 int32 = 20 MB), each
//    batch gathered there by one kernel from an epoch order uploaded once: no host-to-device
//    copy and no synchronisation per step.
//      ResidentDataset ds(Device("cuda:0"), tokens, labels, /*seq_len=*/100);
//      ds.set_order(sampler_order);                // one upload per epoch (8 bytes per row)
//      for (int64_t k = 0; k < ds.num_batches(100); ++k) step(ds.batch(k, 100));
//    For a CUDA Graph (cuda/runtime/graph.h), whose inputs must keep their addresses, gather_into()
//    writes a batch into the graph's static input tensors instead.
//
// Both need a CUDA build and a device: without them the constructors throw loom::Error saying
// why. Token ids are not checked here (the embedding's index_select checks them).
//
// Left out: numeric-series batches (Batch::features), label_dim > 1, several compute streams,
// multi-threaded submit (build batches on a data::Prefetcher worker, submit from the loop).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/batch.h"
#include "tensor/device.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace loom::cuda {

struct DeviceBatch {
  Tensor tokens;                    // [rows, seq_len] Int32, on the device
  Tensor labels;                    // [rows, 1] Float32, on the device
  std::vector<float> label_values;  // [rows] the same labels on the host (metrics, no copy back)
  int64_t rows = 0;
  int64_t index = 0;  // 0, 1, 2, ... in submission (or batch) order
};

class DeviceBatchQueue {
 public:
  // Batches of up to max_rows x seq_len tokens for `device` (a CUDA device). ahead >= 1:
  // batches that may wait, submitted and not taken, when submit() is called (ahead + 2 slots).
  DeviceBatchQueue(Device device, int64_t max_rows, int64_t seq_len, int ahead = 1);
  ~DeviceBatchQueue();  // waits for the copies in flight
  DeviceBatchQueue(const DeviceBatchQueue&) = delete;
  DeviceBatchQueue& operator=(const DeviceBatchQueue&) = delete;

  // Enqueues the copy of one batch: tokens [rows, seq_len] and labels [rows], host memory the
  // caller may reuse as soon as this returns. Throws for rows outside [1, max_rows] or when all
  // slots may still be in use (see batch_slots.h).
  void submit(const int32_t* tokens, const float* labels, int64_t rows);
  void submit(const data::Batch& batch) {
    check_batch(batch);
    submit(batch.tokens.data(), batch.labels.data(), batch.batch_size);
  }

  // The oldest submitted batch. The compute stream (this thread's current stream on the
  // device) waits for its copy; the host does not. Throws when nothing was submitted.
  DeviceBatch next();

  int64_t pending() const;  // submitted, not yet taken
  int slots() const;
  Device device() const;
  // Seconds submit() spent waiting for a pinned slot's previous copy (should stay ~0).
  double host_wait_seconds() const;

 private:
  // A token batch of this queue's seq_len with one label per row.
  void check_batch(const data::Batch& b) const {
    LOOM_CHECK(!b.tokens.empty() && b.label_dim == 1 && b.seq_len == seq_len_ &&
                   static_cast<int64_t>(b.tokens.size()) == b.batch_size * b.seq_len &&
                   static_cast<int64_t>(b.labels.size()) == b.batch_size,
               "DeviceBatchQueue::submit: expected a token batch [rows, ", seq_len_,
               "] with one label per row, got batch_size ", b.batch_size, ", seq_len ", b.seq_len,
               ", label_dim ", b.label_dim, ", ", b.tokens.size(), " tokens, ", b.labels.size(),
               " labels", b.tokens.empty() ? " (a numeric-series batch? not supported)" : "");
  }
  int64_t seq_len_ = 0;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ResidentDataset {
 public:
  // Copies tokens [n, seq_len] (row-major) and labels [n] to `device` once (n = labels.size()).
  ResidentDataset(Device device, const std::vector<int32_t>& tokens,
                  const std::vector<float>& labels, int64_t seq_len);
  ~ResidentDataset();
  ResidentDataset(const ResidentDataset&) = delete;
  ResidentDataset& operator=(const ResidentDataset&) = delete;

  int64_t size() const;
  int64_t seq_len() const;
  Device device() const;
  const Tensor& tokens() const;  // [n, seq_len] Int32, on the device
  const Tensor& labels() const;  // [n, 1] Float32, on the device

  // The row order of one epoch (each in [0, size()), checked on the host), uploaded once.
  // An order may be shorter than the dataset (a training split) or repeat rows.
  void set_order(const std::vector<int64_t>& order);
  int64_t order_size() const;
  // Batches of batch_size rows over the order; the last may be smaller unless drop_last.
  int64_t num_batches(int64_t batch_size, bool drop_last = false) const;

  // Batch k of the order, gathered on the device into fresh tensors (one kernel, no copy from
  // the host, no synchronisation).
  DeviceBatch batch(int64_t k, int64_t batch_size) const;
  // The same into existing tensors: tokens [rows, seq_len] Int32 and labels [rows, 1] Float32,
  // contiguous, on the device, rows = the batch's rows (e.g. a CUDA Graph's static inputs).
  // Returns rows. The gather is enqueued on the current stream.
  int64_t gather_into(int64_t k, int64_t batch_size, const Tensor& tokens,
                      const Tensor& labels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom::cuda
