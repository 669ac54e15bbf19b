// cuda/runtime/graph.h: capture a piece of GPU work (a training step) once, replay it with one launch.
// Public: no CUDA header.
//
// The IMDB step is latency-bound (docs/labs/08-cuda.md, section 7): hundreds of small kernels
// per step, each costing the host a few microseconds to launch. A CUDA Graph records the
// kernels, copies and their order once; replaying it is one launch, so the host's cost per
// kernel disappears (the kernel boundaries on the device remain).
//
//   CudaGraph graph;                         // on the current device
//   step();                                  // warm up eagerly first (see "before capture")
//   graph.capture([&] { step(); });          // records step()'s GPU work; runs nothing
//   for (...) { fill_inputs(); graph.replay(); read_outputs(); }
//
// What capture() does: makes a private stream current (cuda/runtime/stream.cuh's StreamGuard), begins a
// stream capture on it, calls the function, ends the capture, and instantiates the graph. The
// function's kernels are recorded, not executed: no result exists until the first replay().
// replay() launches the graph on this thread's current stream, so it is ordered with the
// eager work around it (filling inputs, reading outputs).
//
// The rules a captured step must follow (loom enforces what it can, with a clear error):
//   - Fixed addresses. A replay reads and writes exactly the addresses of the capture. Inputs
//     are tensors created before capture() and refilled in place before each replay (copy_,
//     ResidentDataset::gather_into); outputs are tensors the function assigned to variables
//     outside it. The caching allocator gives the capture a private pool (cuda/runtime/allocator_policy.h,
//     rule 6): every block the function allocates, and every block it frees, stays reserved for
//     the graph until the graph is destroyed, so nothing else reuses an address a replay touches.
//   - No host synchronisation. Reading a device value on the host (Tensor::item, to_vector,
//     .to(kCPU)) and copies from host memory throw during a capture (cuda_backend.cu); the
//     backend's own read-backs (index bounds, integer division by zero) are skipped.
//   - Host decisions are frozen. Whatever the host computed while capturing is baked into the
//     graph: scalar arguments (a learning rate, Adam's bias corrections from a host step
//     count), shapes, and random seeds. loom's dropout draws its mask with the Philox kernel,
//     whose seed and offset are launch arguments taken from the host generator, so a graphed
//     step would apply the SAME mask at every replay: capture steps without dropout (a device
//     offset counter for the random kernels is left out). An optimizer whose step count lives
//     on the host must run outside the graph.
//   - Gradients: call zero_grad(set_to_none=true) INSIDE the captured function, so that the
//     captured backward creates the gradient tensors (in the pool) and the parameters keep
//     pointing at them afterwards. Without a zero_grad in the graph, every replay would add its
//     gradient to the one left from before the capture (the engine's grad = grad + g).
//   - Before capture: run the function eagerly once or more. That creates the cuBLAS handle,
//     loads the kernels, and leaves the allocator warm; capture() synchronises the current
//     stream first, so errors of earlier work surface before the capture, not inside it.
//
// Capture mode: cudaStreamCaptureModeThreadLocal. "Potentially unsafe" calls (ones that may
// synchronise implicitly) made by the capturing thread fail and invalidate the capture, which
// is how a mistake in the captured code is caught; other threads (a data::Prefetcher worker
// allocating pinned memory, a copy stream) are not affected, as they would be with the global
// mode. Relaxed would hide the capturing thread's mistakes. The one unsafe call loom makes on
// purpose, cudaMalloc when the graph's pool grows, switches to relaxed for that call only
// (cuda/runtime/allocator.cu).
//
// Without a CUDA build or device the constructor throws loom::Error saying why.
// Left out: updating a graph in place (cudaGraphExecUpdate), conditional nodes, graphs over
// several streams or devices, sharing one memory pool between graphs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace loom::cuda {

class CudaGraph {
 public:
  // A graph for `device` (-1: the current device). Throws without a usable device.
  explicit CudaGraph(int device = -1);
  // Waits for the replays in flight, then frees the graph and releases its memory pool. The
  // streams it was captured from and replayed on must still exist.
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records the GPU work of `body` (see the rules above). Throws loom::Error, having discarded
  // the partial capture, when body throws or makes a call a capture forbids; throws if this
  // graph already holds a capture (reset() first).
  void capture(const std::function<void()>& body);
  // Launches the captured work on this thread's current stream of the graph's device.
  void replay();
  // Forgets the capture: waits for its replays, frees the graph, releases its memory pool.
  void reset();

  bool captured() const;
  int device() const;
  std::size_t num_nodes() const;   // kernels, copies and memsets in the graph (0 before capture)
  double capture_seconds() const;  // host time of the last capture + instantiation

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether this thread's current stream on `device` (-1: the current device) is being captured
// into a CUDA Graph right now. False in a build without CUDA or without a device.
bool stream_capturing(int device = -1);

}  // namespace loom::cuda
