// cuda/device_batches.cu: DeviceBatchQueue (pinned staging, a copy stream, events) and
// ResidentDataset (the dataset on the device, batches gathered by one kernel) of
// device_batches.h. Stub twin: device_batches_stub.cpp.
//
// One kernel: gather_rows_kernel, the resident dataset's batch gather, in
// cuda/device_batches_kernels.cuh (run on the CPU under emulation by
// tests/cuda/device_batches_kernels_emulation_test.cpp). The queue has no kernel: its work is two
// cudaMemcpyAsync per batch and events.
//
// Why the queue does not use Backend::copy_host_to_device: that copies on the *current* stream
// (the compute stream), from pageable memory; the point here is the other stream, from pinned
// memory, so the copy engine runs it while the SMs run the previous step.
//
// Left out: see device_batches.h.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/upload_slots.h"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/device_batches.h"
#include "cuda/device_batches_kernels.cuh"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/pinned.h"
#include "cuda/runtime/stream.cuh"
#include "tensor/ops.h"

namespace loom::cuda {
namespace {

// The device index of a CUDA Device, after checking there is such a device; `who` names the
// caller in the error ("DeviceBatchQueue: no CUDA device (...)").
int require_cuda_device(Device device, const char* who) {
  LOOM_CHECK(device.is_cuda(), who, ": ", device.str(), " is not a CUDA device");
  if (device_count() == 0) LOOM_FAIL(who, ": no CUDA device (", device_report(), ")");
  check_device(device.index, who);
  return device.index;
}

void check_not_capturing(cudaStream_t stream, const char* who) {
  LOOM_CHECK(!is_capturing(stream), who,
             ": the current stream is being captured into a CUDA Graph; fetch batches outside "
             "the captured code and copy them into the graph's static inputs (see "
             "ResidentDataset::gather_into)");
}

}  // namespace

// ---- DeviceBatchQueue ------------------------------------------------------------------------

struct DeviceBatchQueue::Impl {
  struct Slot {
    PinnedBuffer host;  // tokens [max_rows, T] int32, then labels [max_rows] float
    Tensor tokens;      // [max_rows, T] Int32 on the device
    Tensor labels;      // [max_rows, 1] Float32 on the device
    Event copied;       // on the copy stream, after the batch's copies
    Event released;     // on the compute stream, after the steps that used the batch
    int64_t rows = 0;
    std::vector<float> label_values;
  };

  Impl(Device d, int64_t rows, int64_t t, int ahead)
      : device(d), max_rows(rows), seq_len(t), slots(ahead), copy(d.index) {
    const std::size_t token_bytes = static_cast<std::size_t>(rows * t) * sizeof(int32_t);
    const std::size_t label_bytes = static_cast<std::size_t>(rows) * sizeof(float);
    for (int i = 0; i < slots.slots(); ++i) {
      Slot s;
      s.host = PinnedBuffer(token_bytes + label_bytes);
      s.tokens = empty({rows, t}, TensorOptions(DType::Int32, d));
      s.labels = empty({rows, 1}, TensorOptions(DType::Float32, d));
      slot.push_back(std::move(s));
    }
    // The buffers belong to the current stream, which may reuse a freed block at once, with
    // kernels that used it still queued. The copy stream must not write them before those
    // finish: it waits for this point of the allocating stream once.
    alloc_stream = current_stream(d.index);
    Event allocated;
    allocated.record(alloc_stream);
    wait_event(copy.get(), allocated);
  }

  Device device;
  int64_t max_rows, seq_len;
  BatchSlots slots;
  Stream copy;  // the copy stream: non-blocking, owned by the queue
  std::vector<Slot> slot;
  cudaStream_t alloc_stream = nullptr;  // the stream the device buffers were allocated on
  double wait_seconds = 0;
};

DeviceBatchQueue::DeviceBatchQueue(Device device, int64_t max_rows, int64_t seq_len, int ahead) {
  const int index = require_cuda_device(device, "DeviceBatchQueue");
  LOOM_CHECK(max_rows > 0 && seq_len > 0,
             "DeviceBatchQueue: max_rows and seq_len must be > 0, got ", max_rows, " and ",
             seq_len);
  DeviceGuard guard(index);
  impl_ = std::make_unique<Impl>(device, max_rows, seq_len, ahead);
  seq_len_ = seq_len;
}

DeviceBatchQueue::~DeviceBatchQueue() {
  if (!impl_) return;
  try {
    DeviceGuard guard(impl_->device.index);
    // The copies in flight write the slots' buffers: finish them before the buffers go back to
    // the allocator (which only knows about the compute stream they were allocated on).
    impl_->copy.synchronize();
  } catch (...) {
    // A destructor must not throw; the Stream's own destructor synchronises again anyway.
  }
}

void DeviceBatchQueue::submit(const int32_t* tokens, const float* labels, int64_t rows) {
  Impl& q = *impl_;
  LOOM_CHECK(rows >= 1 && rows <= q.max_rows, "DeviceBatchQueue::submit: ", rows,
             " rows, the queue holds batches of 1 to ", q.max_rows, " rows");
  LOOM_CHECK(tokens != nullptr && labels != nullptr, "DeviceBatchQueue::submit: null data");
  DeviceGuard guard(q.device.index);
  const BatchSlots::Fill fill = q.slots.begin_submit();  // throws when no slot is free
  Impl::Slot& s = q.slot[fill.slot];
  if (fill.reused) {
    // The host rewrites the pinned buffer: the previous copy out of it must be done (it was
    // enqueued a whole step ago, so this almost never waits).
    if (!s.copied.query()) {
      const auto t0 = std::chrono::steady_clock::now();
      s.copied.synchronize();
      q.wait_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    // The device buffer may still be read by the compute stream until the release event: the
    // copy stream waits for it on the device.
    wait_event(q.copy.get(), s.released);
  }
  const std::size_t token_bytes = static_cast<std::size_t>(rows * q.seq_len) * sizeof(int32_t);
  const std::size_t label_bytes = static_cast<std::size_t>(rows) * sizeof(float);
  char* host = s.host.as<char>();
  char* host_labels = host + static_cast<std::size_t>(q.max_rows * q.seq_len) * sizeof(int32_t);
  std::memcpy(host, tokens, token_bytes);
  std::memcpy(host_labels, labels, label_bytes);
  LOOM_CUDA_CHECK(cudaMemcpyAsync(s.tokens.raw_data(), host, token_bytes, cudaMemcpyHostToDevice,
                                  q.copy.get()));
  LOOM_CUDA_CHECK(cudaMemcpyAsync(s.labels.raw_data(), host_labels, label_bytes,
                                  cudaMemcpyHostToDevice, q.copy.get()));
  s.copied.record(q.copy.get());
  s.rows = rows;
  s.label_values.assign(labels, labels + rows);
  q.slots.end_submit();
}

DeviceBatch DeviceBatchQueue::next() {
  Impl& q = *impl_;
  DeviceGuard guard(q.device.index);
  const cudaStream_t compute = current_stream(q.device.index);
  check_not_capturing(compute, "DeviceBatchQueue::next");
  const int64_t index = q.slots.taken();
  const BatchSlots::Take take = q.slots.take();  // throws when nothing was submitted
  // Batch index - 2 is done with once the work enqueued so far has run (the next-but-one rule).
  if (take.release_slot >= 0) q.slot[take.release_slot].released.record(compute);
  Impl::Slot& s = q.slot[take.slot];
  wait_event(compute, s.copied);  // the compute stream waits for the copy, the host does not
  if (compute != q.alloc_stream) {
    // Another stream reads the buffers: the allocator must wait for it too when they are freed.
    CachingAllocator& alloc = device_allocator(q.device.index);
    alloc.record_stream(s.tokens.raw_data(), stream_id(compute));
    alloc.record_stream(s.labels.raw_data(), stream_id(compute));
  }
  DeviceBatch b;
  b.rows = s.rows;
  b.index = index;
  b.tokens = s.tokens.narrow(0, 0, s.rows);
  b.labels = s.labels.narrow(0, 0, s.rows);
  b.label_values = s.label_values;
  return b;
}

int64_t DeviceBatchQueue::pending() const {
  return impl_->slots.pending();
}
int DeviceBatchQueue::slots() const {
  return impl_->slots.slots();
}
Device DeviceBatchQueue::device() const {
  return impl_->device;
}
double DeviceBatchQueue::host_wait_seconds() const {
  return impl_->wait_seconds;
}

// ---- ResidentDataset -------------------------------------------------------------------------

struct ResidentDataset::Impl {
  Device device;
  int64_t n = 0, seq_len = 0;
  Tensor tokens;                   // [n, seq_len] Int32
  Tensor labels;                   // [n, 1] Float32
  std::vector<float> host_labels;  // [n]
  Tensor order;                    // [m] Int64 on the device
  std::vector<int64_t> host_order;
};

ResidentDataset::ResidentDataset(Device device, const std::vector<int32_t>& tokens,
                                 const std::vector<float>& labels, int64_t seq_len) {
  const int index = require_cuda_device(device, "ResidentDataset");
  const int64_t n = static_cast<int64_t>(labels.size());
  LOOM_CHECK(n > 0 && seq_len > 0 && static_cast<int64_t>(tokens.size()) == n * seq_len,
             "ResidentDataset: expected tokens [n, seq_len] and labels [n] with n, seq_len > 0; "
             "got ",
             tokens.size(), " tokens, ", n, " labels, seq_len ", seq_len);
  DeviceGuard guard(index);
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
  impl_->n = n;
  impl_->seq_len = seq_len;
  impl_->tokens = from_vector<int32_t>(tokens, {n, seq_len}, device);  // the one big copy
  impl_->labels = from_vector<float>(labels, {n, 1}, device);
  impl_->host_labels = labels;
}

ResidentDataset::~ResidentDataset() = default;

int64_t ResidentDataset::size() const {
  return impl_->n;
}
int64_t ResidentDataset::seq_len() const {
  return impl_->seq_len;
}
Device ResidentDataset::device() const {
  return impl_->device;
}
const Tensor& ResidentDataset::tokens() const {
  return impl_->tokens;
}
const Tensor& ResidentDataset::labels() const {
  return impl_->labels;
}

void ResidentDataset::set_order(const std::vector<int64_t>& order) {
  Impl& d = *impl_;
  LOOM_CHECK(!order.empty(), "ResidentDataset::set_order: empty order");
  for (std::size_t i = 0; i < order.size(); ++i)
    LOOM_CHECK(order[i] >= 0 && order[i] < d.n, "ResidentDataset::set_order: order[", i,
               "] = ", order[i], " is not a row of the dataset [0, ", d.n, ")");
  DeviceGuard guard(d.device.index);
  d.order = from_vector<int64_t>(order, {static_cast<int64_t>(order.size())}, d.device);
  d.host_order = order;
}

int64_t ResidentDataset::order_size() const {
  return static_cast<int64_t>(impl_->host_order.size());
}

int64_t ResidentDataset::num_batches(int64_t batch_size, bool drop_last) const {
  LOOM_CHECK(batch_size > 0, "ResidentDataset::num_batches: batch_size must be > 0, got ",
             batch_size);
  const int64_t m = order_size();
  return drop_last ? m / batch_size : (m + batch_size - 1) / batch_size;
}

DeviceBatch ResidentDataset::batch(int64_t k, int64_t batch_size) const {
  const Impl& d = *impl_;
  LOOM_CHECK(batch_size > 0 && k >= 0 && k < num_batches(batch_size),
             "ResidentDataset::batch: batch ", k, " of size ", batch_size, " is outside the ",
             num_batches(batch_size), " batches of the current order (", order_size(),
             " rows; set_order first)");
  const int64_t rows = std::min(batch_size, order_size() - k * batch_size);
  DeviceGuard guard(d.device.index);
  DeviceBatch b;
  b.tokens = empty({rows, d.seq_len}, TensorOptions(DType::Int32, d.device));
  b.labels = empty({rows, 1}, TensorOptions(DType::Float32, d.device));
  b.rows = gather_into(k, batch_size, b.tokens, b.labels);
  b.index = k;
  b.label_values.resize(static_cast<std::size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    b.label_values[r] = d.host_labels[d.host_order[k * batch_size + r]];
  return b;
}

int64_t ResidentDataset::gather_into(int64_t k, int64_t batch_size, const Tensor& tokens,
                                     const Tensor& labels) const {
  const Impl& d = *impl_;
  LOOM_CHECK(batch_size > 0 && k >= 0 && k < num_batches(batch_size),
             "ResidentDataset::gather_into: batch ", k, " of size ", batch_size, " is outside the ",
             num_batches(batch_size), " batches of the current order (", order_size(),
             " rows; set_order first)");
  const int64_t rows = std::min(batch_size, order_size() - k * batch_size);
  const Shape want_t{rows, d.seq_len}, want_l{rows, 1};
  LOOM_CHECK(tokens.defined() && labels.defined() && tokens.device() == d.device &&
                 labels.device() == d.device && tokens.dtype() == DType::Int32 &&
                 labels.dtype() == DType::Float32 && tokens.shape() == want_t &&
                 labels.shape() == want_l && tokens.is_contiguous() && labels.is_contiguous(),
             "ResidentDataset::gather_into: batch ", k, " needs contiguous tokens Int32 ",
             shape_str(want_t), " and labels Float32 ", shape_str(want_l), " on ", d.device.str(),
             "; got tokens ", tokens.defined() ? dtype_name(tokens.dtype()) : "undefined", " ",
             tokens.defined() ? shape_str(tokens.shape()) : "", ", labels ",
             labels.defined() ? dtype_name(labels.dtype()) : "undefined", " ",
             labels.defined() ? shape_str(labels.shape()) : "");
  DeviceGuard guard(d.device.index);
  const cudaStream_t stream = current_stream(d.device.index);
  // Captured, the kernel would gather batch k at every replay: gather outside the graph.
  check_not_capturing(stream, "ResidentDataset::gather_into");
  const LaunchConfig cfg = launch_for(rows * d.seq_len, kDefaultBlockSize, "ResidentDataset");
  const int64_t* order = static_cast<const int64_t*>(d.order.raw_data()) + k * batch_size;
  resident::gather_rows_kernel<<<cfg.grid, cfg.block, 0, stream>>>(
      static_cast<const int32_t*>(d.tokens.raw_data()),
      static_cast<const float*>(d.labels.raw_data()), order, rows, d.seq_len,
      static_cast<int32_t*>(tokens.raw_data()), static_cast<float*>(labels.raw_data()));
  LOOM_CUDA_CHECK_LAUNCH();
  return rows;
}

}  // namespace loom::cuda
