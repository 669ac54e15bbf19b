// nn/distributed/communicator.cpp: the shared checks, the single-process communicator, the
// factory and run_distributed (see communicator.h).
#include "nn/distributed/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "nn/distributed/mpi_communicator.h"
#include "nn/distributed/nccl_communicator.h"
#include "tensor/ops.h"

namespace loom::nn::distributed {

void Communicator::check_tensor(const Tensor& t, const char* op, bool allow_half,
                                bool check_device) const {
  LOOM_CHECK(t.defined(), backend_name(), " ", op, ": undefined tensor");
  const DType d = t.dtype();
  LOOM_CHECK(d == DType::Float32 || d == DType::Float64 || (allow_half && d == DType::Float16),
             backend_name(), " ", op, ": tensor of shape ", shape_str(t.shape()), " has dtype ",
             dtype_name(d), "; expected float32 or float64", allow_half ? " or float16" : "");
  LOOM_CHECK(t.is_contiguous(), backend_name(), " ", op, ": tensor of shape ", shape_str(t.shape()),
             " is not contiguous (call .contiguous() and copy back)");
  LOOM_CHECK(!check_device || t.device() == device(), backend_name(), " ", op, ": tensor of shape ",
             shape_str(t.shape()), " is on ", t.device().str(), " but this communicator works on ",
             device().str());
}

void Communicator::check_root(int root, const char* op) const {
  LOOM_CHECK(root >= 0 && root < world_size(), backend_name(), " ", op, ": root ", root,
             " is not a rank (world size ", world_size(), ")");
}

void Communicator::check_peer(int peer, int tag, const char* op, const Tensor* t) const {
  LOOM_CHECK(peer >= 0 && peer < world_size() && peer != rank(), backend_name(), " ", op, ": rank ",
             peer, " is not another rank (this is rank ", rank(), " of ", world_size(), ")");
  LOOM_CHECK(tag >= 0 && tag <= 32767, backend_name(), " ", op, ": tag ", tag,
             " is outside [0, 32767]");
  if (t == nullptr) return;
  LOOM_CHECK(t->defined(), backend_name(), " ", op, ": undefined tensor");
  LOOM_CHECK(t->is_contiguous(), backend_name(), " ", op, ": tensor of shape ",
             shape_str(t->shape()), " is not contiguous (call .contiguous())");
  LOOM_CHECK(t->device() == device(), backend_name(), " ", op, ": tensor of shape ",
             shape_str(t->shape()), " is on ", t->device().str(),
             " but this communicator works on ", device().str());
}

void Communicator::all_reduce_mean(const Tensor& t) {
  all_reduce_sum(t);
  if (world_size() > 1) t.copy_(div(t, static_cast<double>(world_size())));
}

void SingleProcessCommunicator::all_reduce_sum(const Tensor& t) {
  check_tensor(t, "all_reduce_sum", /*allow_half=*/true, /*check_device=*/false);
}

void SingleProcessCommunicator::broadcast(const Tensor& t, int root) {
  check_tensor(t, "broadcast", /*allow_half=*/true, /*check_device=*/false);
  check_root(root, "broadcast");
}

void SingleProcessCommunicator::send(const Tensor&, int dest, int tag) {
  check_peer(dest, tag, "send");  // always throws: there is no other rank
}

void SingleProcessCommunicator::recv(const Tensor&, int src, int tag) {
  check_peer(src, tag, "recv");
}

std::unique_ptr<Communicator> SingleProcessCommunicator::split(int color, int) {
  LOOM_CHECK(color >= 0, "none split: color ", color, " must be >= 0");
  return std::make_unique<SingleProcessCommunicator>();
}

void SingleProcessCommunicator::abort(int code, const std::string& message) {
  std::fprintf(stderr, "loom: rank 0 of 1: %s\n", message.c_str());
  std::fflush(nullptr);
  std::_Exit(code);  // as MPI_Abort: no destructors (the caller may be in any state)
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend,
                                                DeviceType training_device) {
  return make_communicator(backend, training_device, process_info_from_env());
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend,
                                                DeviceType training_device,
                                                const ProcessInfo& info) {
  if (backend == "none") return std::make_unique<SingleProcessCommunicator>();
  if (backend == "mpi") return std::make_unique<MpiCommunicator>(info);
  if (backend == "nccl") return std::make_unique<NcclCommunicator>(info);
  LOOM_CHECK(backend == "auto", "make_communicator: unknown backend '", backend,
             "'; expected auto, mpi, nccl or none");
  if (!info.distributed()) return std::make_unique<SingleProcessCommunicator>();
  if (training_device == DeviceType::CPU) return std::make_unique<MpiCommunicator>(info);
  LOOM_CHECK(nccl_available(), "make_communicator(auto): ", info.str(),
             " trains on CUDA, which needs NCCL, and this build has none (configure with CUDA and "
             "NCCL, see nn/distributed/README.md), or train on the CPU with backend mpi");
  return std::make_unique<NcclCommunicator>(info);
}

int run_distributed(Communicator& comm, const std::function<int()>& body) {
  if (comm.world_size() == 1) return body();
  std::string what;
  try {
    return body();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception that is not a std::exception";
  }
  comm.abort(1, "failed: " + what);
  return 1;  // not reached: abort ends the process
}

}  // namespace loom::nn::distributed
