// cuda/runtime/graph.h: capture a piece of GPU work (a training step) once, replay it with one
// launch. Public: no CUDA header. Caller: apps/imdb/graphed_step.h (imdb train --cuda-graph).
//
//   CudaGraph graph;                         // on the current device
//   step();                                  // warm up eagerly first
//   graph.capture([&] { step(); });          // records step()'s GPU work; runs nothing
//   for (...) { fill_inputs(); graph.replay(); read_outputs(); }
//
// capture() makes a private stream current, begins a thread-local stream capture on it, calls
// the function, ends the capture and instantiates the graph; the allocator gives the capture a
// private pool (allocator_policy.h). A captured step must keep fixed addresses, must not
// synchronise with the host, freezes what the host decided (scalars, shapes, random seeds), and
// must zero its gradients to none inside: docs/labs/08-cuda.md, section 7b, says why.
// Without a CUDA build or device the constructor throws loom::Error saying why.
// Leaves out: updating a graph in place (cudaGraphExecUpdate), conditional nodes, graphs over
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

  // Records the GPU work of `body` (the rules: the file header). Throws loom::Error, having
  // discarded the partial capture, when body throws or makes a call a capture forbids; throws if
  // this graph already holds a capture (reset() first).
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

}  // namespace loom::cuda
