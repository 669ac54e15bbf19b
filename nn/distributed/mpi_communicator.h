// nn/distributed/mpi_communicator.h: the Communicator over MPI (Open MPI), for CPU tensors.
//
//   mpirun -n 2 ./train ...        (or: srun --mpi=pmix -n 2 ./train ...)
//   MpiCommunicator comm;          // starts MPI on first use; rank()/world_size() from MPI
//
// The first MpiCommunicator starts MPI (MPI_THREAD_MULTIPLE, so the watchdog's thread may call
// MPI_Abort) unless the program did; MPI_Finalize runs at exit if loom started it. Each
// communicator works on its own duplicate of MPI_COMM_WORLD. MPI's errors become loom::Error
// naming the call; an exception nobody catches (the std::terminate handler installed here) or a
// collective past the watchdog's timeout ends every rank with MPI_Abort. MPI's rank and size are
// checked against the launcher's (env.h); split() gives a communicator over a subset of the
// ranks (MPI_Comm_split), which leaves the launcher out of it. Why each of these:
// docs/labs/09-distributed.md, sections 6 ("MPI's lifetime"), 8 and 11.
// Leaves out: GPU-aware MPI (CUDA pointers to MPI_Allreduce; use NcclCommunicator), float16
// (MPI has no half type), non-blocking collectives and overlap with backward.
#pragma once

#include <cstddef>
#include <memory>

#include "nn/distributed/communicator.h"
#include "nn/distributed/env.h"
#include "nn/distributed/watchdog.h"

namespace loom::nn::distributed {

class MpiCommunicator final : public Communicator {
 public:
  // `info`: what the launcher said, checked against MPI. timeout_s: the watchdog's limit for one
  // collective (<= 0: off); default LOOM_DIST_TIMEOUT_S, else 600 s.
  explicit MpiCommunicator(const ProcessInfo& info = process_info_from_env(),
                           double timeout_s = collective_timeout_from_env());
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  const char* backend_name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  Device device() const override { return kCPU; }

  void all_reduce_sum(const Tensor& t) override;       // MPI_Allreduce(MPI_IN_PLACE, ..., MPI_SUM)
  void broadcast(const Tensor& t, int root) override;  // MPI_Bcast
  std::vector<double> all_reduce_sum(std::vector<double> values) override;
  std::vector<double> all_reduce_max(std::vector<double> values) override;
  void send(const Tensor& t, int dest, int tag) override;  // MPI_Send of t's bytes
  void recv(const Tensor& t, int src, int tag) override;   // MPI_Recv; checks the byte count
  std::unique_ptr<Communicator> split(int color, int key) override;  // MPI_Comm_split
  void barrier() override;
  [[noreturn]] void abort(int code, const std::string& message) override;

  // `bytes` raw bytes from `root` to every rank (NcclCommunicator's unique id).
  void broadcast_bytes(void* data, std::size_t bytes, int root);

  // The thread support MPI granted (MPI_THREAD_SINGLE .. MPI_THREAD_MULTIPLE as an int).
  int thread_level() const;

 private:
  struct Impl;  // the MPI handles: keeps mpi.h out of this header
  // split(): a communicator over an MPI communicator that is already made.
  MpiCommunicator(std::unique_ptr<Impl> impl, double timeout_s);
  // Ranks (world and node-local) and the watchdog, from impl_->comm.
  void start(double timeout_s);

  std::unique_ptr<Impl> impl_;
  double timeout_s_ = 0;
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace loom::nn::distributed
