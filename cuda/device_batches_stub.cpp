// cuda/device_batches_stub.cpp: cuda/device_batches.h for a build configured without a CUDA
// compiler. The constructors throw (there is no device to copy to), so no object exists and
// the other members are never reached; they throw the same message to be safe.
#include "cuda/device_batches.h"

#include "tensor/error.h"

namespace loom::cuda {
namespace {

[[noreturn]] void not_built(const char* who) {
  LOOM_FAIL(who, ": CUDA not built (configured without a CUDA compiler)");
}

}  // namespace

struct DeviceBatchQueue::Impl {};
struct ResidentDataset::Impl {};

DeviceBatchQueue::DeviceBatchQueue(Device, int64_t, int64_t, int) {
  not_built("DeviceBatchQueue");
}
DeviceBatchQueue::~DeviceBatchQueue() = default;
void DeviceBatchQueue::submit(const int32_t*, const float*, int64_t) {
  not_built("DeviceBatchQueue::submit");
}
DeviceBatch DeviceBatchQueue::next() {
  not_built("DeviceBatchQueue::next");
}
int64_t DeviceBatchQueue::pending() const {
  not_built("DeviceBatchQueue::pending");
}
int DeviceBatchQueue::slots() const {
  not_built("DeviceBatchQueue::slots");
}
Device DeviceBatchQueue::device() const {
  not_built("DeviceBatchQueue::device");
}
double DeviceBatchQueue::host_wait_seconds() const {
  not_built("DeviceBatchQueue::host_wait_seconds");
}

ResidentDataset::ResidentDataset(Device, const std::vector<int32_t>&, const std::vector<float>&,
                                 int64_t) {
  not_built("ResidentDataset");
}
ResidentDataset::~ResidentDataset() = default;
int64_t ResidentDataset::size() const {
  not_built("ResidentDataset::size");
}
int64_t ResidentDataset::seq_len() const {
  not_built("ResidentDataset::seq_len");
}
Device ResidentDataset::device() const {
  not_built("ResidentDataset::device");
}
const Tensor& ResidentDataset::tokens() const {
  not_built("ResidentDataset::tokens");
}
const Tensor& ResidentDataset::labels() const {
  not_built("ResidentDataset::labels");
}
void ResidentDataset::set_order(const std::vector<int64_t>&) {
  not_built("ResidentDataset::set_order");
}
int64_t ResidentDataset::order_size() const {
  not_built("ResidentDataset::order_size");
}
int64_t ResidentDataset::num_batches(int64_t, bool) const {
  not_built("ResidentDataset::num_batches");
}
DeviceBatch ResidentDataset::batch(int64_t, int64_t) const {
  not_built("ResidentDataset::batch");
}
int64_t ResidentDataset::gather_into(int64_t, int64_t, const Tensor&, const Tensor&) const {
  not_built("ResidentDataset::gather_into");
}

}  // namespace loom::cuda
