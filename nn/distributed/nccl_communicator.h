// nn/distributed/nccl_communicator.h: the Communicator over NCCL, for CUDA tensors.
//
//   mpirun -n 4 ./train --device cuda ...      (one process per GPU)
//   NcclCommunicator comm;                      // cuda:local_rank, NCCL bootstrapped over MPI
//
// An MpiCommunicator starts first: it gives rank, size and local rank, broadcasts rank 0's
// ncclUniqueId, and carries everything that is not a GPU tensor (host values, barrier, abort).
// Tensor collectives run on loom's current CUDA stream (cuda/runtime/stream.cuh), so the device
// orders them after the backward kernels that made the gradients; the host then waits for each one,
// polling NCCL's error state, for at most the watchdog's timeout (docs/labs/09-distributed.md,
// section 6). Built only when CUDA is on and NCCL is found; otherwise the constructor
// (nccl_communicator_stub.cpp) throws "this build has no NCCL". It has never run on a GPU.
// send/recv are ncclSend/ncclRecv, each in its own group, waited for like the collectives.
// Leaves out: several GPUs per process, NCCL's non-blocking communicators, process groups
// (split() throws: it would need ncclCommSplit, NCCL 2.18, beside an MPI split).
#pragma once

#include <memory>

#include "nn/distributed/communicator.h"
#include "nn/distributed/env.h"
#include "nn/distributed/watchdog.h"

namespace loom::nn::distributed {

class MpiCommunicator;

class NcclCommunicator final : public Communicator {
 public:
  // Throws loom::Error when this build has no NCCL, when cuda:local_rank does not exist, or
  // when NCCL fails to start (its message included). timeout_s: as MpiCommunicator.
  explicit NcclCommunicator(const ProcessInfo& info = process_info_from_env(),
                            double timeout_s = collective_timeout_from_env());
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  const char* backend_name() const override { return "nccl"; }
  int rank() const override;
  int world_size() const override;
  int local_rank() const override;
  int local_size() const override;
  Device device() const override;  // cuda:local_rank

  // float32, float64 or float16, on device(): ncclAllReduce / ncclBroadcast in place.
  void all_reduce_sum(const Tensor& t) override;
  void broadcast(const Tensor& t, int root) override;
  // Any dtype, on device(): the bytes travel as ncclUint8.
  void send(const Tensor& t, int dest, int tag) override;
  void recv(const Tensor& t, int src, int tag) override;
  std::unique_ptr<Communicator> split(int color, int key) override;  // throws (see above)
  // Host values, barrier and abort go through MPI.
  std::vector<double> all_reduce_sum(std::vector<double> values) override;
  std::vector<double> all_reduce_max(std::vector<double> values) override;
  void barrier() override;
  [[noreturn]] void abort(int code, const std::string& message) override;

 private:
  struct Impl;  // NCCL and CUDA handles: keeps their headers out of this one
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom::nn::distributed
