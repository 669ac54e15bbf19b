// cuda/runtime/device.h: which CUDA devices exist, and which one is current. Public: no CUDA
// header.
//
// Code outside cuda/ (apps, tests, the start-up banner) includes this header, in every build:
// configured without a CUDA compiler the same functions come from device_stub.cpp and say "not
// built"; with CUDA on a machine without a GPU (or driver), device_count() is 0 and
// device_report() says why.
//
// Leaves out: device properties beyond the one-line report, peer access, multi-process service.
#pragma once

#include <string>

namespace loom::cuda {

// True when loom was configured with a CUDA compiler (device.cu), false for the stub.
bool built_with_cuda();

// Number of visible CUDA devices; 0 when not built, when there is no driver, or when the
// runtime cannot initialise. Never throws.
int device_count();

// A human-readable summary, one line per device:
//   "CUDA: cuda:0 NVIDIA H100 80GB HBM3, 132 SMs, 79.1 GiB, compute 9.0, driver 13.0, runtime 13.0"
// or "CUDA: no device (<reason from the runtime>)"
// or "CUDA: not built (configured without a CUDA compiler)". Never throws.
std::string device_report();

// Throws loom::Error unless 0 <= index < device_count(), naming the caller, the index and the
// number of devices (and, when there are none, the runtime's reason):
//   "cuda::set_device: cuda:99 does not exist: 1 CUDA device(s) visible"
void check_device(int index, const char* caller);

// Makes device `index` current for this thread. Throws loom::Error naming the index and the
// number of devices (and, when there are none, the runtime's reason) if it does not exist.
void set_device(int index);

// The current device of this thread. Throws loom::Error when no device is usable.
int current_device();

// Sets a device for a scope and restores the previous one on exit (restoring never throws).
// Typical use inside cuda/: `DeviceGuard guard(tensor.device().index);` before any runtime call.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;  // -1: nothing to restore
};

}  // namespace loom::cuda
