// nn/distributed/nccl_communicator.cpp: NcclCommunicator (see nccl_communicator.h). Compiled
// only when CUDA is on and NCCL was found; it uses cuda/'s internal stream header because the
// collectives must run on loom's current stream.
#include "nn/distributed/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/stream.cuh"
#include "nn/distributed/mpi_communicator.h"

namespace loom::nn::distributed {
namespace {

#define LOOM_NCCL_CHECK(call)                                                 \
  do {                                                                        \
    const ncclResult_t loom_nccl_result_ = (call);                            \
    LOOM_CHECK(loom_nccl_result_ == ncclSuccess, "NcclCommunicator: ", #call, \
               " failed: ", ncclGetErrorString(loom_nccl_result_),            \
               " (NCCL_DEBUG=INFO "                                           \
               "prints NCCL's own log)");                                     \
  } while (0)

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return ncclFloat32;
    case DType::Float64:
      return ncclFloat64;
    case DType::Float16:
      return ncclFloat16;
    default:
      LOOM_FAIL("NcclCommunicator: no NCCL type for ", dtype_name(dtype));
  }
}

}  // namespace

bool nccl_available() {
  return true;
}

struct NcclCommunicator::Impl {
  std::unique_ptr<MpiCommunicator> mpi;  // rank, size, bootstrap, host values, abort
  int device = 0;                        // cuda:device, = the local rank
  double timeout_s = 0;
  ncclComm_t comm = nullptr;

  ~Impl() {
    if (comm == nullptr) return;
    cuda::DeviceGuard guard(device);
    ncclCommDestroy(comm);  // no check: a destructor must not throw
  }

  // Waits for the work enqueued on `stream` (the collective just launched), polling NCCL's
  // error state, for at most timeout_s; on timeout aborts the job (the others wait for us).
  void wait(cudaStream_t stream, const char* what, int64_t bytes) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t status = cudaStreamQuery(stream);
      if (status == cudaSuccess) return;
      ncclResult_t async = ncclSuccess;
      if (status == cudaErrorNotReady) LOOM_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
      if (status != cudaErrorNotReady || async != ncclSuccess) {
        // A failed communicator must be aborted, not destroyed: ncclCommDestroy (in ~Impl)
        // flushes the pending operations first and can block forever on a broken one.
        ncclCommAbort(comm);
        comm = nullptr;
        if (status != cudaErrorNotReady) LOOM_CUDA_CHECK(status);
        LOOM_FAIL("NcclCommunicator: ", what, " failed on the GPU: ", ncclGetErrorString(async));
      }
      const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start;
      if (timeout_s > 0 && waited.count() > timeout_s) {
        ncclCommAbort(comm);  // frees NCCL's kernels so the process can exit
        comm = nullptr;
        mpi->abort(1, std::string(what) + " (" + std::to_string(bytes) +
                          " bytes) did not finish within " + std::to_string(timeout_s) +
                          " s: another rank has probably failed or is not calling the same "
                          "collectives (LOOM_DIST_TIMEOUT_S sets the limit)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
};

NcclCommunicator::NcclCommunicator(const ProcessInfo& info, double timeout_s)
    : impl_(std::make_unique<Impl>()) {
  impl_->mpi = std::make_unique<MpiCommunicator>(info, timeout_s);
  impl_->timeout_s = timeout_s;
  MpiCommunicator& mpi = *impl_->mpi;
  // Every rank checks its GPU, then all agree, so that one rank's missing GPU stops all of them
  // here instead of leaving the others waiting in ncclCommInitRank.
  const int visible = cuda::device_count();
  impl_->device = gpu_for_local_rank(mpi.local_rank(), mpi.local_size(), visible);
  const bool mine_ok = impl_->device >= 0;
  const bool all_ok = mpi.all_reduce_max({mine_ok ? 0.0 : 1.0})[0] == 0.0;
  LOOM_CHECK(mine_ok, "NcclCommunicator: rank ", mpi.rank(), " is local rank ", mpi.local_rank(),
             " of ", mpi.local_size(), " processes on its node, but ", visible,
             " CUDA device(s) are visible (", cuda::device_report(),
             "): start at most one process per GPU");
  LOOM_CHECK(all_ok,
             "NcclCommunicator: another rank has no GPU for its local rank (see its "
             "message); rank ",
             mpi.rank(), " stops too");
  cuda::set_device(impl_->device);

  ncclUniqueId id{};
  if (mpi.rank() == 0) LOOM_NCCL_CHECK(ncclGetUniqueId(&id));
  mpi.broadcast_bytes(&id, sizeof(id), 0);
  LOOM_NCCL_CHECK(ncclCommInitRank(&impl_->comm, mpi.world_size(), id, mpi.rank()));
}

NcclCommunicator::~NcclCommunicator() = default;

int NcclCommunicator::rank() const {
  return impl_->mpi->rank();
}
int NcclCommunicator::world_size() const {
  return impl_->mpi->world_size();
}
int NcclCommunicator::local_rank() const {
  return impl_->mpi->local_rank();
}
int NcclCommunicator::local_size() const {
  return impl_->mpi->local_size();
}
Device NcclCommunicator::device() const {
  return Device(DeviceType::CUDA, impl_->device);
}

void NcclCommunicator::all_reduce_sum(const Tensor& t) {
  check_tensor(t, "all_reduce_sum", /*allow_half=*/true);
  const int64_t n = t.numel();
  if (n == 0) return;
  LOOM_CHECK(impl_->comm != nullptr,
             "NcclCommunicator::all_reduce_sum: the communicator was aborted "
             "after an earlier collective failed (see that error)");
  cuda::DeviceGuard guard(impl_->device);
  const cudaStream_t stream = cuda::current_stream(impl_->device);
  LOOM_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(n),
                                nccl_type(t.dtype()), ncclSum, impl_->comm, stream));
  impl_->wait(stream, "all_reduce_sum", n * static_cast<int64_t>(dtype_size(t.dtype())));
}

void NcclCommunicator::broadcast(const Tensor& t, int root) {
  check_tensor(t, "broadcast", /*allow_half=*/true);
  check_root(root, "broadcast");
  const int64_t n = t.numel();
  if (n == 0) return;
  LOOM_CHECK(impl_->comm != nullptr,
             "NcclCommunicator::broadcast: the communicator was aborted "
             "after an earlier collective failed (see that error)");
  cuda::DeviceGuard guard(impl_->device);
  const cudaStream_t stream = cuda::current_stream(impl_->device);
  LOOM_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(n),
                                nccl_type(t.dtype()), root, impl_->comm, stream));
  impl_->wait(stream, "broadcast", n * static_cast<int64_t>(dtype_size(t.dtype())));
}

// NCCL matches a send with the receive of the same peer by order, not by tag: the tag is checked
// and otherwise unused, which is safe while each pair of ranks sends in one order (a pipeline's).
void NcclCommunicator::send(const Tensor& t, int dest, int tag) {
  check_peer(dest, tag, "send", &t);
  const int64_t bytes = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  if (bytes == 0) return;
  LOOM_CHECK(impl_->comm != nullptr,
             "NcclCommunicator::send: the communicator was aborted after an earlier collective "
             "failed (see that error)");
  cuda::DeviceGuard guard(impl_->device);
  const cudaStream_t stream = cuda::current_stream(impl_->device);
  LOOM_NCCL_CHECK(ncclGroupStart());
  LOOM_NCCL_CHECK(
      ncclSend(t.raw_data(), static_cast<size_t>(bytes), ncclUint8, dest, impl_->comm, stream));
  LOOM_NCCL_CHECK(ncclGroupEnd());
  impl_->wait(stream, "send", bytes);
}

void NcclCommunicator::recv(const Tensor& t, int src, int tag) {
  check_peer(src, tag, "recv", &t);
  const int64_t bytes = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  if (bytes == 0) return;
  LOOM_CHECK(impl_->comm != nullptr,
             "NcclCommunicator::recv: the communicator was aborted after an earlier collective "
             "failed (see that error)");
  cuda::DeviceGuard guard(impl_->device);
  const cudaStream_t stream = cuda::current_stream(impl_->device);
  LOOM_NCCL_CHECK(ncclGroupStart());
  LOOM_NCCL_CHECK(
      ncclRecv(t.raw_data(), static_cast<size_t>(bytes), ncclUint8, src, impl_->comm, stream));
  LOOM_NCCL_CHECK(ncclGroupEnd());
  impl_->wait(stream, "recv", bytes);
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key) {
  LOOM_FAIL("NcclCommunicator::split(color ", color, ", key ", key,
            "): process groups are not implemented on NCCL (they need ncclCommSplit, NCCL 2.18, "
            "and a matching MPI split); run the pipeline with one replica per stage on GPUs, "
            "or on the CPU with backend mpi");
}

std::vector<double> NcclCommunicator::all_reduce_sum(std::vector<double> values) {
  return impl_->mpi->all_reduce_sum(std::move(values));
}

std::vector<double> NcclCommunicator::all_reduce_max(std::vector<double> values) {
  return impl_->mpi->all_reduce_max(std::move(values));
}

void NcclCommunicator::barrier() {
  impl_->mpi->barrier();
}

void NcclCommunicator::abort(int code, const std::string& message) {
  impl_->mpi->abort(code, message);
}

}  // namespace loom::nn::distributed
