// cuda/runtime/device_stub.cpp: cuda/runtime/device.h for a build configured without a CUDA
// compiler. Same contracts: the queries answer "not built" and never throw; selecting a device
// throws a loom::Error that says how to get a CUDA build.
#include "cuda/runtime/device.h"

#include "tensor/error.h"

namespace loom::cuda {

namespace {
const char* const kNotBuilt = "configured without a CUDA compiler";
}

bool built_with_cuda() {
  return false;
}

int device_count() {
  return 0;
}

std::string device_report() {
  return std::string("CUDA: not built (") + kNotBuilt + ")";
}

void check_device(int index, const char* caller) {
  LOOM_FAIL(caller, ": cuda:", index, " does not exist: 0 CUDA device(s) visible (", kNotBuilt,
            "; reconfigure with nvcc on the PATH or CUDA_HOME set, and -DLOOM_CUDA=ON)");
}

void set_device(int index) {
  check_device(index, "cuda::set_device");
}

int current_device() {
  LOOM_FAIL("cuda::current_device: no usable CUDA device (", kNotBuilt, ")");
}

DeviceGuard::DeviceGuard(int index) {
  check_device(index, "cuda::DeviceGuard");
}

DeviceGuard::~DeviceGuard() = default;

}  // namespace loom::cuda
