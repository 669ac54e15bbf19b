// cuda/runtime/upload_queue_stub.cpp: cuda/runtime/upload_queue.h for a build configured without
// a CUDA compiler. The constructor throws (there is no device to copy to), so no queue exists and
// the other members are never reached; they throw the same message to be safe.
#include "cuda/runtime/upload_queue.h"

#include "tensor/error.h"

namespace loom::cuda {
namespace {

[[noreturn]] void not_built(const char* who) {
  LOOM_FAIL(who, ": CUDA not built (configured without a CUDA compiler)");
}

}  // namespace

struct UploadQueue::Impl {};

UploadQueue::UploadQueue(Device, std::vector<UploadPart>, int) {
  not_built("UploadQueue");
}
UploadQueue::~UploadQueue() = default;
void UploadQueue::submit(const std::vector<Tensor>&) {
  not_built("UploadQueue::submit");
}
std::vector<Tensor> UploadQueue::next() {
  not_built("UploadQueue::next");
}
double UploadQueue::host_wait_seconds() const {
  not_built("UploadQueue::host_wait_seconds");
}

}  // namespace loom::cuda
