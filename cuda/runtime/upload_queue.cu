// cuda/runtime/upload_queue.cu: UploadQueue (upload_queue.h): pinned staging slots, a copy
// stream, and two events per slot following upload_slots.h. No kernels: an item is one
// cudaMemcpyAsync per part. Stub twin: upload_queue_stub.cpp.
#include "cuda/runtime/upload_queue.h"

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/pinned.h"
#include "cuda/runtime/stream.cuh"
#include "cuda/runtime/upload_slots.h"
#include "tensor/ops.h"

namespace loom::cuda {
namespace {

std::size_t bytes_of(DType dtype, const Shape& shape) {
  return static_cast<std::size_t>(numel(shape)) * dtype_size(dtype);
}

void check_parts(const std::vector<UploadPart>& parts) {
  LOOM_CHECK(!parts.empty(), "UploadQueue: an item needs at least one part");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    bool positive = !parts[i].max_shape.empty();
    for (int64_t d : parts[i].max_shape)
      positive = positive && d > 0;
    LOOM_CHECK(positive, "UploadQueue: part ", i, " needs a shape of at least one dim, every size ",
               "> 0 (dim 0 = the most rows an item has), got ", shape_str(parts[i].max_shape));
  }
}

// `t` as part `i` of an item: a CPU tensor of the part's dtype with at most max_shape[0] rows and
// max_shape's other dims. Returns it contiguous.
Tensor checked_part(const UploadPart& part, const Tensor& t, std::size_t i) {
  bool fits = t.defined() && t.device().is_cpu() && t.dtype() == part.dtype &&
              t.shape().size() == part.max_shape.size() && t.size(0) >= 1 &&
              t.size(0) <= part.max_shape[0];
  for (std::size_t d = 1; fits && d < part.max_shape.size(); ++d)
    fits = t.shape()[d] == part.max_shape[d];
  LOOM_CHECK(fits, "UploadQueue::submit: part ", i, " must be a CPU ", dtype_name(part.dtype),
             " tensor shaped like ", shape_str(part.max_shape), " with 1 to ", part.max_shape[0],
             " rows; got ",
             t.defined()
                 ? t.device().str() + " " + dtype_name(t.dtype()) + " " + shape_str(t.shape())
                 : std::string("an undefined tensor"));
  return t.contiguous();
}

}  // namespace

struct UploadQueue::Impl {
  struct Slot {
    PinnedBuffer host;          // every part's largest bytes, part after part (offset[i])
    std::vector<Tensor> parts;  // each part's max_shape, on the device
    Shape rows;                 // the rows submitted into each part
    Event copied;               // on the copy stream, after the item's copies
    Event released;             // on the compute stream, after the steps that used the item
  };

  Impl(Device d, std::vector<UploadPart> p, int ahead)
      : device(d), parts(std::move(p)), slots(ahead), copy(d.index) {
    std::size_t total = 0;
    for (const UploadPart& part : parts) {
      offset.push_back(total);
      total += bytes_of(part.dtype, part.max_shape);
    }
    for (int i = 0; i < slots.slots(); ++i) {
      Slot s;
      s.host = PinnedBuffer(total);
      for (const UploadPart& part : parts)
        s.parts.push_back(empty(part.max_shape, TensorOptions(part.dtype, d)));
      s.rows.assign(parts.size(), 0);
      slot.push_back(std::move(s));
    }
    // The device tensors belong to the current stream, which may reuse a freed block at once,
    // with kernels that used it still queued: the copy stream waits for this point once.
    alloc_stream = current_stream(d.index);
    Event allocated;
    allocated.record(alloc_stream);
    wait_event(copy.get(), allocated);
  }

  Device device;
  std::vector<UploadPart> parts;
  std::vector<std::size_t> offset;  // of each part in a slot's pinned buffer
  UploadSlots slots;
  Stream copy;  // the copy stream: non-blocking, owned by the queue
  std::vector<Slot> slot;
  cudaStream_t alloc_stream = nullptr;  // the stream the device tensors were allocated on
  double wait_seconds = 0;
};

UploadQueue::UploadQueue(Device device, std::vector<UploadPart> parts, int ahead) {
  LOOM_CHECK(device.is_cuda(), "UploadQueue: ", device.str(), " is not a CUDA device");
  if (device_count() == 0) LOOM_FAIL("UploadQueue: no CUDA device (", device_report(), ")");
  check_device(device.index, "UploadQueue");
  check_parts(parts);
  DeviceGuard guard(device.index);
  impl_ = std::make_unique<Impl>(device, std::move(parts), ahead);
}

UploadQueue::~UploadQueue() {
  if (!impl_) return;
  try {
    DeviceGuard guard(impl_->device.index);
    // The copies in flight write the slots' tensors: finish them before the tensors go back to
    // the allocator (which only knows the stream they were allocated on).
    impl_->copy.synchronize();
  } catch (...) {
    // A destructor must not throw; the Stream's own destructor synchronises again anyway.
  }
}

void UploadQueue::submit(const std::vector<Tensor>& item) {
  Impl& q = *impl_;
  LOOM_CHECK(item.size() == q.parts.size(), "UploadQueue::submit: ", item.size(),
             " tensors, but an item of this queue has ", q.parts.size(), " parts");
  std::vector<Tensor> host;
  for (std::size_t i = 0; i < item.size(); ++i)
    host.push_back(checked_part(q.parts[i], item[i], i));
  DeviceGuard guard(q.device.index);
  const UploadSlots::Fill fill = q.slots.begin_submit();  // throws when no slot is free
  Impl::Slot& s = q.slot[fill.slot];
  if (fill.reused) {
    // The host rewrites the pinned buffer: the previous copy out of it must be done (enqueued a
    // whole step ago, so this almost never waits).
    if (!s.copied.query()) {
      const auto t0 = std::chrono::steady_clock::now();
      s.copied.synchronize();
      q.wait_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    // The compute stream may still read the device tensors until the release event.
    wait_event(q.copy.get(), s.released);
  }
  for (std::size_t i = 0; i < host.size(); ++i) {
    const std::size_t bytes = bytes_of(host[i].dtype(), host[i].shape());
    char* staged = s.host.as<char>() + q.offset[i];
    std::memcpy(staged, host[i].raw_data(), bytes);
    LOOM_CUDA_CHECK(cudaMemcpyAsync(s.parts[i].raw_data(), staged, bytes, cudaMemcpyHostToDevice,
                                    q.copy.get()));
    s.rows[i] = host[i].size(0);
  }
  s.copied.record(q.copy.get());
  q.slots.end_submit();
}

std::vector<Tensor> UploadQueue::next() {
  Impl& q = *impl_;
  DeviceGuard guard(q.device.index);
  const cudaStream_t compute = current_stream(q.device.index);
  LOOM_CHECK(!is_capturing(compute),
             "UploadQueue::next: the current stream is being captured into a CUDA Graph; take "
             "items outside the captured code and copy them into the graph's input tensors");
  const UploadSlots::Take take = q.slots.take();  // throws when nothing was submitted
  // Item i - 2 is done with once the work enqueued so far has run (the next-but-one rule).
  if (take.release_slot >= 0) q.slot[take.release_slot].released.record(compute);
  Impl::Slot& s = q.slot[take.slot];
  wait_event(compute, s.copied);  // the compute stream waits for the copy, the host does not
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < s.parts.size(); ++i) {
    // Another stream reads the tensors: the allocator must wait for it too when they are freed.
    if (compute != q.alloc_stream)
      device_allocator(q.device.index).record_stream(s.parts[i].raw_data(), stream_id(compute));
    out.push_back(s.parts[i].narrow(0, 0, s.rows[i]));
  }
  return out;
}

double UploadQueue::host_wait_seconds() const {
  return impl_->wait_seconds;
}

}  // namespace loom::cuda
