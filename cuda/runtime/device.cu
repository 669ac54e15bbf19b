// cuda/runtime/device.cu: the device query and selection of cuda/runtime/device.h, on the CUDA
// runtime.
//
// No kernels here. device_count() and device_report() must never throw: loom calls them at
// start-up on every machine, including ones with the toolkit but no driver or no GPU, where
// cudaGetDeviceCount fails with e.g. "CUDA driver version is insufficient for CUDA runtime
// version". That failure is reported as "no device (<reason>)", not as an error.
//
// Leaves out: anything beyond the properties printed in the report.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"

namespace loom::cuda {
namespace {

// Asks the runtime how many devices there are. Returns the count (0 on failure) and puts
// the runtime's message in `reason` when the answer is zero.
int query_device_count(std::string* reason) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // do not leave the error for the next check to find
    if (reason) *reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return 0;
  }
  if (count == 0 && reason) *reason = "the runtime found 0 CUDA devices";
  return count;
}

// CUDA encodes versions as 1000*major + 10*minor (13000 -> "13.0").
std::string version_string(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

bool built_with_cuda() {
  return true;
}

// Asked once: devices do not come and go while a process runs, and launchers check device
// indices on every call, so the answer is kept rather than re-queried.
int device_count() {
  static const int count = query_device_count(nullptr);
  return count;
}

std::string device_report() {
  std::string reason;
  const int count = query_device_count(&reason);
  if (count == 0) return "CUDA: no device (" + reason + ")";

  int driver = 0, runtime = 0;
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  std::ostringstream out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    const cudaError_t err = cudaGetDeviceProperties(&prop, i);
    if (i > 0) out << "\n";
    out << "CUDA: cuda:" << i << " ";
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      out << "(properties unavailable: " << cudaGetErrorString(err) << ")";
      continue;
    }
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.1f",
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    out << prop.name << ", " << prop.multiProcessorCount << " SMs, " << gib << " GiB, compute "
        << prop.major << "." << prop.minor << ", driver " << version_string(driver) << ", runtime "
        << version_string(runtime);
  }
  return out.str();
}

void check_device(int index, const char* caller) {
  const int count = device_count();
  if (index >= 0 && index < count) return;
  std::string reason;
  if (count == 0) query_device_count(&reason);  // only the failure path asks again
  LOOM_FAIL(caller, ": cuda:", index, " does not exist: ", count, " CUDA device(s) visible",
            count == 0 ? " (" + reason + ")" : std::string());
}

void set_device(int index) {
  check_device(index, "cuda::set_device");
  LOOM_CUDA_CHECK(cudaSetDevice(index));
}

int current_device() {
  int index = -1;
  const cudaError_t err = cudaGetDevice(&index);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    LOOM_FAIL("cuda::current_device: no usable CUDA device (", cudaGetErrorName(err), ": ",
              cudaGetErrorString(err), ")");
  }
  return index;
}

DeviceGuard::DeviceGuard(int index) {
  check_device(index, "cuda::DeviceGuard");
  const int previous = current_device();
  if (previous != index) {
    set_device(index);
    previous_ = previous;
  }
}

DeviceGuard::~DeviceGuard() {
  // A destructor must not throw; switching back to a device that worked before cannot
  // reasonably fail, and if it does the next checked call reports the runtime's state.
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

}  // namespace loom::cuda
