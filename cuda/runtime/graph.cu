// cuda/runtime/graph.cu: CudaGraph (graph.h) on the CUDA runtime's stream capture. Stub twin:
// graph_stub.cpp.
//
// No kernels here. capture() = begin a private allocator pool for the capture stream, begin the
// stream capture (thread-local mode: a forbidden call from the capturing thread fails, other
// threads are not disturbed), run the function with that stream current, end the capture, end
// the pool's capture, instantiate. Every way out of that sequence (the function throws, the
// capture was invalidated, instantiation fails) ends the capture and releases the pool, so a
// failed capture leaves the stream, the allocator and the process as they were.
//
// Leaves out: see graph.h.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/graph.h"
#include "cuda/runtime/stream.cuh"

namespace loom::cuda {
namespace {

// What a capture error means, for the message (the runtime's own text is terse).
const char* capture_hint(cudaError_t err) {
  switch (err) {
    case cudaErrorStreamCaptureUnsupported:
    case cudaErrorStreamCaptureInvalidated:
      return "the captured code made a call a capture forbids: a host synchronisation "
             "(cudaStreamSynchronize, cudaDeviceSynchronize, a synchronous cudaMemcpy, "
             "cudaFree), an event query, or a potentially unsafe call";
    case cudaErrorStreamCaptureImplicit:
      return "the captured code used the legacy default stream (a synchronous CUDA call or a "
             "launch without a stream), which is ordered with every stream";
    case cudaErrorStreamCaptureUnjoined:
      return "the captured code forked work to another stream and did not join it back";
    case cudaErrorStreamCaptureIsolation:
      return "the captured code waited for work outside the capture (an event recorded before "
             "it, e.g. a copy stream's)";
    case cudaErrorStreamCaptureWrongThread:
      return "the capture was ended from another thread";
    default:
      return "see the CUDA error";
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct CudaGraph::Impl {
  explicit Impl(int d) : device(d), stream(d) {}
  int device;
  Stream stream;                // the capture stream: private, non-blocking
  cudaStream_t home = nullptr;  // the current stream when capture() was called
  cudaGraphExec_t exec = nullptr;
  PoolId pool = 0;  // the allocator's pool for this graph (0: none)
  std::vector<cudaStream_t> replayed_on;
  std::size_t nodes = 0;
  double capture_s = 0;

  // Ends an unfinished capture (ignoring its errors) and releases the pool: the state after a
  // failed capture is the state before it.
  void abandon_capture() noexcept {
    cudaGraph_t partial = nullptr;
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream.get(), &status) == cudaSuccess &&
        status != cudaStreamCaptureStatusNone) {
      (void)cudaStreamEndCapture(stream.get(), &partial);
    }
    if (partial) (void)cudaGraphDestroy(partial);
    (void)cudaGetLastError();  // capture errors are not sticky: clear them
    release_pool();
  }

  void release_pool() noexcept {
    if (pool == 0) return;
    try {
      CachingAllocator& alloc = device_allocator(device);
      // end_graph_capture throws if the capture was already ended: then only release.
      try {
        alloc.end_graph_capture(pool);
      } catch (const Error&) {
      }
      alloc.release_graph_pool(pool, stream_id(home));
    } catch (...) {
      // Only a broken runtime gets here; the pool's memory then stays reserved (a leak).
    }
    pool = 0;
  }
};

CudaGraph::CudaGraph(int device) {
  if (device_count() == 0) LOOM_FAIL("CudaGraph: no CUDA device (", device_report(), ")");
  if (device < 0) device = current_device();
  check_device(device, "CudaGraph");
  DeviceGuard guard(device);
  impl_ = std::make_unique<Impl>(device);
}

CudaGraph::~CudaGraph() {
  try {
    reset();
  } catch (...) {
    // A destructor must not throw.
  }
}

void CudaGraph::capture(const std::function<void()>& body) {
  Impl& g = *impl_;
  LOOM_CHECK(static_cast<bool>(body), "CudaGraph::capture: empty function");
  LOOM_CHECK(g.exec == nullptr, "CudaGraph::capture: this graph already holds a capture (", g.nodes,
             " nodes); call reset() before capturing again");
  DeviceGuard guard(g.device);
  g.home = current_stream(g.device);
  LOOM_CHECK(!is_capturing(g.home),
             "CudaGraph::capture: the current stream is itself being "
             "captured (nested captures are not supported)");
  // Errors of earlier asynchronous work surface here, not as a mysterious capture failure.
  LOOM_CUDA_CHECK(cudaStreamSynchronize(g.home));

  const auto t0 = std::chrono::steady_clock::now();
  g.pool = device_allocator(g.device).begin_graph_capture(stream_id(g.stream.get()));
  cudaGraph_t graph = nullptr;
  try {
    StreamGuard current(g.stream);
    LOOM_CUDA_CHECK(cudaStreamBeginCapture(g.stream.get(), cudaStreamCaptureModeThreadLocal));
    body();
    const cudaError_t err = cudaStreamEndCapture(g.stream.get(), &graph);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      if (graph) (void)cudaGraphDestroy(graph);
      LOOM_FAIL("cudaStreamEndCapture failed: ", cudaGetErrorName(err), ": ",
                cudaGetErrorString(err), " (", capture_hint(err), ")");
    }
  } catch (const Error& e) {
    g.abandon_capture();
    const std::string what = e.what();
    const bool capture_error = what.find("Capture") != std::string::npos;
    LOOM_FAIL("CudaGraph::capture: nothing was captured: ", what,
              capture_error ? " -- the captured code made a call a capture forbids (a host "
                              "synchronisation, a host read of a device value, the legacy "
                              "stream); move it out of the captured function"
                            : "");
  } catch (...) {
    g.abandon_capture();
    throw;
  }

  // The graph is complete: the pool stops growing, its blocks stay reserved for the replays.
  device_allocator(g.device).end_graph_capture(g.pool);
  std::size_t nodes = 0;
  cudaError_t err = cudaGraphGetNodes(graph, nullptr, &nodes);
  if (err == cudaSuccess) err = cudaGraphInstantiate(&g.exec, graph, 0);
  (void)cudaGraphDestroy(graph);  // the executable graph does not need it
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    g.exec = nullptr;
    g.release_pool();
    LOOM_FAIL("CudaGraph::capture: instantiating the captured graph (", nodes,
              " nodes) failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
  }
  g.nodes = nodes;
  // Moves the graph's data to the device now rather than at the first replay.
  LOOM_CUDA_CHECK(cudaGraphUpload(g.exec, g.home));
  g.capture_s = seconds_since(t0);
}

void CudaGraph::replay() {
  Impl& g = *impl_;
  LOOM_CHECK(g.exec != nullptr, "CudaGraph::replay: nothing captured (call capture() first)");
  DeviceGuard guard(g.device);
  const cudaStream_t stream = current_stream(g.device);
  LOOM_CHECK(!is_capturing(stream),
             "CudaGraph::replay: the current stream is being captured; "
             "replaying a graph inside another capture is not supported");
  LOOM_CUDA_CHECK(cudaGraphLaunch(g.exec, stream));
  if (std::find(g.replayed_on.begin(), g.replayed_on.end(), stream) == g.replayed_on.end())
    g.replayed_on.push_back(stream);
}

void CudaGraph::reset() {
  if (!impl_) return;
  Impl& g = *impl_;
  if (g.exec == nullptr) return;
  DeviceGuard guard(g.device);
  // The pool's blocks may be handed out again once released: the replays must be done.
  for (cudaStream_t s : g.replayed_on)
    LOOM_CUDA_CHECK(cudaStreamSynchronize(s));
  g.replayed_on.clear();
  LOOM_CUDA_CHECK(cudaGraphExecDestroy(g.exec));
  g.exec = nullptr;
  g.nodes = 0;
  g.release_pool();
}

bool CudaGraph::captured() const {
  return impl_->exec != nullptr;
}
int CudaGraph::device() const {
  return impl_->device;
}
std::size_t CudaGraph::num_nodes() const {
  return impl_->nodes;
}
double CudaGraph::capture_seconds() const {
  return impl_->capture_s;
}

}  // namespace loom::cuda
