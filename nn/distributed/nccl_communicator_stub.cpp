// nn/distributed/nccl_communicator_stub.cpp: NcclCommunicator in a build without NCCL (CUDA
// off, or nccl.h / libnccl not found). The constructor throws; nothing else can be reached.
#include <cstdlib>

#include "nn/distributed/nccl_communicator.h"
#include "tensor/error.h"

namespace loom::nn::distributed {

struct NcclCommunicator::Impl {};

bool nccl_available() {
  return false;
}

NcclCommunicator::NcclCommunicator(const ProcessInfo&, double) {
  LOOM_FAIL(
      "NcclCommunicator: this build has no NCCL (it needs CUDA on and nccl.h + libnccl found "
      "at configure time; see nn/distributed/README.md); use backend mpi with CPU tensors");
}

NcclCommunicator::~NcclCommunicator() = default;

// Unreachable: no object can be constructed.
int NcclCommunicator::rank() const {
  return 0;
}
int NcclCommunicator::world_size() const {
  return 1;
}
int NcclCommunicator::local_rank() const {
  return 0;
}
int NcclCommunicator::local_size() const {
  return 1;
}
Device NcclCommunicator::device() const {
  return kCPU;
}
void NcclCommunicator::all_reduce_sum(const Tensor&) {}
void NcclCommunicator::broadcast(const Tensor&, int) {}
std::vector<double> NcclCommunicator::all_reduce_sum(std::vector<double> values) {
  return values;
}
std::vector<double> NcclCommunicator::all_reduce_max(std::vector<double> values) {
  return values;
}
void NcclCommunicator::send(const Tensor&, int, int) {}
void NcclCommunicator::recv(const Tensor&, int, int) {}
std::unique_ptr<Communicator> NcclCommunicator::split(int, int) {
  return nullptr;
}
void NcclCommunicator::barrier() {}
void NcclCommunicator::abort(int code, const std::string&) {
  std::_Exit(code);
}

}  // namespace loom::nn::distributed
