// cuda/runtime/graph_stub.cpp: cuda/runtime/graph.h for a build configured without a CUDA
// compiler. The constructor throws (there is nothing to capture), so no CudaGraph exists and the
// other members are never reached; they throw the same message to be safe.
#include "cuda/runtime/graph.h"

#include "tensor/error.h"

namespace loom::cuda {
namespace {

[[noreturn]] void not_built(const char* who) {
  LOOM_FAIL(who, ": CUDA not built (configured without a CUDA compiler)");
}

}  // namespace

struct CudaGraph::Impl {};

CudaGraph::CudaGraph(int /*device*/) {
  not_built("CudaGraph");
}
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>& /*body*/) {
  not_built("CudaGraph::capture");
}
void CudaGraph::replay() {
  not_built("CudaGraph::replay");
}
void CudaGraph::reset() {}
bool CudaGraph::captured() const {
  return false;
}
int CudaGraph::device() const {
  not_built("CudaGraph::device");
}
std::size_t CudaGraph::num_nodes() const {
  return 0;
}
double CudaGraph::capture_seconds() const {
  return 0;
}

}  // namespace loom::cuda
