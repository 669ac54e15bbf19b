// cuda/kernels/backend.cu: the CudaBackend object, its memory and copies, and the
// deterministic-index_add setting (backend.h; CPU twin: tensor/cpu/backend.cpp). No kernels.
//
// Memory comes from the device's caching allocator (runtime/allocator.cuh) on the current stream,
// so a block freed by one op is reused by the next without cudaMalloc/cudaFree or a sync. Copies
// are cudaMemcpyAsync on the current stream: host to device returns once the runtime has staged
// the (pageable) source; device to host synchronises before returning (the caller reads the
// bytes next; an implicit host sync, runtime/sync_debug.h); device to device is stream-ordered.
// While the stream is captured into a CUDA Graph (runtime/graph.h), copies from and to the host
// throw: a replay would re-read a dead host buffer, and a read-back must synchronise.
//
// Leaves out: peer-to-peer copies between GPUs (the frontend goes through the host).
#include <cuda_runtime_api.h>

#include <atomic>
#include <string>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/stream.cuh"
#include "cuda/runtime/sync_debug.h"

namespace loom::cuda {
namespace {

std::atomic<bool> g_deterministic{true};

// Throws the error a user sees when asking for a CUDA tensor on a machine without a device:
//   "cuda backend: allocate on cuda:0: no CUDA device (CUDA: no device (cudaErrorNoDevice: ...))"
// and check_device's message for an index that does not exist on a machine with devices.
void require_device(Device device, const char* op) {
  LOOM_CHECK(device.is_cuda(), "cuda backend: ", op, ": ", device.str(), " is not a CUDA device");
  if (device_count() == 0) {
    LOOM_FAIL("cuda backend: ", op, " on ", device.str(), ": no CUDA device (", device_report(),
              ")");
  }
  check_device(device.index, op);
}

}  // namespace

void set_deterministic(bool on) {
  g_deterministic.store(on);
}
bool deterministic() {
  return g_deterministic.load();
}

CudaBackend& cuda_backend() {
  // Constructing it makes no CUDA call, so registering it before main() is safe everywhere.
  static CudaBackend backend;
  return backend;
}

void* CudaBackend::allocate(std::size_t bytes, Device device) {
  require_device(device, "allocate");
  if (bytes == 0) return nullptr;
  return device_allocator(device.index).allocate(bytes, stream_id(current_stream(device.index)));
}

void CudaBackend::deallocate(void* ptr, std::size_t /*bytes*/, Device device) {
  if (ptr == nullptr) return;  // includes every allocation of 0 bytes
  device_allocator(device.index).deallocate(ptr);
}

void CudaBackend::copy_host_to_device(void* dst, const void* src, std::size_t bytes, Device dev) {
  require_device(dev, "copy_host_to_device");
  if (bytes == 0) return;
  DeviceGuard guard(dev.index);
  const cudaStream_t stream = current_stream(dev.index);
  // A captured copy would re-read this host address at every replay, long after the caller's
  // buffer is gone (cuda/runtime/graph.h).
  LOOM_CHECK(!is_capturing(stream), "copy_host_to_device: ", dev.str(),
             "'s current stream is being captured into a CUDA Graph, and a replay would read the "
             "host buffer again after it is gone; create inputs on the device before capture() "
             "and refill them in place (copy_) outside the captured code");
  LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
}

void CudaBackend::copy_device_to_host(void* dst, const void* src, std::size_t bytes, Device dev) {
  require_device(dev, "copy_device_to_host");
  if (bytes == 0) return;
  DeviceGuard guard(dev.index);
  const cudaStream_t stream = current_stream(dev.index);
  // The synchronisation below is forbidden while capturing (and would read nothing: a capture
  // runs no work). Refusing before any call leaves the capture valid, so cuda/runtime/graph.cu
  // reports this message instead of a generic "capture invalidated".
  LOOM_CHECK(!is_capturing(stream), "copy_device_to_host: ", dev.str(),
             "'s current stream is being captured into a CUDA Graph: reading a device value on "
             "the host (Tensor::item, to_vector, .to(kCPU), printing) needs a synchronisation, "
             "which a graph cannot contain; read the graph's output tensors after replay()");
  // The caller reads dst next: wait for the copy (and everything queued before it). An implicit
  // host sync (item(), to(cpu), printing): counted, and refused under LOOM_CUDA_SYNC_DEBUG=error.
  note_host_sync("copy_device_to_host", "a device tensor read on the host (item, to(cpu), print)");
  LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
  LOOM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void CudaBackend::copy_device_to_device(void* dst, const void* src, std::size_t bytes, Device dev) {
  require_device(dev, "copy_device_to_device");
  if (bytes == 0) return;
  DeviceGuard guard(dev.index);
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current_stream(dev.index)));
}

}  // namespace loom::cuda
