// tensor/storage.cpp: allocation and release through the device's backend.
#include "tensor/storage.h"

#include "tensor/backend.h"

namespace loom {

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = backend_for(device).allocate(bytes, device);
}

Storage::~Storage() {
  // A destructor must not throw; the backend exists because allocate() found it.
  try {
    backend_for(device_).deallocate(data_, bytes_, device_);
  } catch (...) {
  }
}

}  // namespace loom
