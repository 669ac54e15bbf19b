// tensor/storage.cpp: allocation and release through the device's backend.
#include "tensor/storage.h"

#include <atomic>

#include "tensor/backend.h"

namespace loom {
namespace {
std::atomic<int64_t> g_storage_count{0};
}  // namespace

int64_t storage_count() {
  return g_storage_count.load(std::memory_order_relaxed);
}

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = backend_for(device).allocate(bytes, device);
  g_storage_count.fetch_add(1, std::memory_order_relaxed);
}

Storage::~Storage() {
  // A destructor must not throw; the backend exists because allocate() found it.
  try {
    backend_for(device_).deallocate(data_, bytes_, device_);
  } catch (...) {
  }
}

}  // namespace loom
