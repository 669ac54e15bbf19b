// nn/distributed/communicator.h: the collectives data-parallel training needs, behind one
// interface, and the factory that picks an implementation.
//
//   auto comm = make_communicator("auto");        // MPI under mpirun/srun, else one process
//   comm->all_reduce_sum(grads);                   // in place: every rank ends with the sum
//   comm->broadcast(weights, /*root=*/0);          // every rank ends with rank 0's values
//   auto totals = comm->all_reduce_sum(std::vector<double>{loss_sum, correct, count});
//   comm->send(activation, /*dest=*/1, /*tag=*/m);  // pipeline stages; split(): process groups
//
// Implementations: SingleProcessCommunicator (here; the identity), MpiCommunicator (CPU
// tensors), NcclCommunicator (CUDA tensors). Every rank calls the same collectives in the same
// order with the same shapes; tensors are float32 or float64 (all_reduce also float16 on NCCL),
// contiguous and on device(), else loom::Error before any communication; results are written in
// place through the `const Tensor&` handle. docs/labs/09-distributed.md, sections 3, 8 and 11.
// Leaves out: all-gather, reduce-scatter, non-blocking sends, asynchronous handles, calling one
// communicator from several threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/distributed/env.h"
#include "tensor/tensor.h"

namespace loom::nn::distributed {

class Communicator {
 public:
  virtual ~Communicator() = default;

  // "none", "mpi" or "nccl".
  virtual const char* backend_name() const = 0;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Rank among the processes on this node, and how many there are (MPI computes them itself).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  bool is_root() const { return rank() == 0; }
  // Where tensors given to the collectives must live: kCPU (none, mpi) or cuda:local (nccl).
  virtual Device device() const = 0;

  // ---- tensor collectives (in place) ---------------------------------------------------------
  // t = sum over ranks of t. Any shape (0 elements: no communication, still collective-safe).
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // t = (sum over ranks of t) / world_size.
  void all_reduce_mean(const Tensor& t);
  // t = t of rank `root` (0 <= root < world_size).
  virtual void broadcast(const Tensor& t, int root) = 0;

  // ---- host values (metrics, flags): a few doubles, any backend ------------------------------
  // Element-wise sum / max over ranks; every rank passes the same number of values.
  virtual std::vector<double> all_reduce_sum(std::vector<double> values) = 0;
  virtual std::vector<double> all_reduce_max(std::vector<double> values) = 0;

  // ---- point to point (pipeline parallelism): blocking, between two ranks ------------------
  // send returns when t may be reused; recv returns when t holds what rank `src` sent with the
  // same tag. Both sides give the same shape and dtype (any dtype: the bytes are copied);
  // 0 <= tag <= 32767 tells apart messages between the same two ranks, which arrive in order.
  virtual void send(const Tensor& t, int dest, int tag) = 0;
  virtual void recv(const Tensor& t, int src, int tag) = 0;

  // ---- process groups ---------------------------------------------------------------------
  // Collective: a communicator over the ranks that pass the same color (>= 0), ranked by key
  // (ties by rank here). Same backend; this one stays usable. (MPI_Comm_split.)
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // Returns when every rank has called barrier().
  virtual void barrier() = 0;
  // Ends the whole job now: prints "loom: rank R of N: <message>" to stderr and makes
  // every rank exit with `code` (MPI_Abort). Never returns; usable from any state.
  [[noreturn]] virtual void abort(int code, const std::string& message) = 0;

 protected:
  // Throws unless t is defined, float32/float64 (or float16 when allow_half), contiguous and
  // (check_device) on device(); `op` names the call in the message.
  void check_tensor(const Tensor& t, const char* op, bool allow_half = false,
                    bool check_device = true) const;
  // Throws unless 0 <= root < world_size().
  void check_root(int root, const char* op) const;
  // Throws unless `peer` is another rank and 0 <= tag <= 32767 (MPI's smallest allowed limit),
  // and (when t is given) t is defined, contiguous and on device().
  void check_peer(int peer, int tag, const char* op, const Tensor* t = nullptr) const;
};

// Rank 0 of 1: collectives leave their input as it is (on any device); barrier returns at once.
// What make_communicator gives a run that no launcher started: a single process never needs MPI.
class SingleProcessCommunicator final : public Communicator {
 public:
  const char* backend_name() const override { return "none"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  Device device() const override { return kCPU; }
  void all_reduce_sum(const Tensor& t) override;
  void broadcast(const Tensor& t, int root) override;
  std::vector<double> all_reduce_sum(std::vector<double> values) override { return values; }
  std::vector<double> all_reduce_max(std::vector<double> values) override { return values; }
  // One process has nobody to send to: send and recv throw naming the peer.
  void send(const Tensor& t, int dest, int tag) override;
  void recv(const Tensor& t, int src, int tag) override;
  // A group of one: another SingleProcessCommunicator.
  std::unique_ptr<Communicator> split(int color, int key) override;
  void barrier() override {}
  [[noreturn]] void abort(int code, const std::string& message) override;
};

// Picks and starts a communicator:
//   "none"  SingleProcessCommunicator (even under mpirun: every rank then trains alone)
//   "mpi"   MpiCommunicator (starts MPI; works for 1 process too, e.g. `mpirun -n 1`)
//   "nccl"  NcclCommunicator (throws when this build has no NCCL or no GPU)
//   "auto"  none when the launcher started one process; else nccl when the model trains on
//           CUDA (`training_device`), mpi when it trains on the CPU.
// `info` is what the launcher said (process_info_from_env() by default). Unknown names, and
// "auto" on CUDA with several processes in a build without NCCL, throw loom::Error.
std::unique_ptr<Communicator> make_communicator(const std::string& backend = "auto",
                                                DeviceType training_device = DeviceType::CPU);
std::unique_ptr<Communicator> make_communicator(const std::string& backend,
                                                DeviceType training_device,
                                                const ProcessInfo& info);

// Whether this build has the NCCL communicator (CUDA on and nccl.h + libnccl found).
bool nccl_available();

// Runs `body`, the part of a program that uses `comm`, so that a failure on one rank ends every
// rank: an exception escaping `body` prints "loom: rank R of N: failed: <what>" to stderr and
// calls comm.abort(1) (MPI_Abort), which also kills the ranks waiting for this one in a
// collective. With one process the exception propagates unchanged (nobody waits). Returns
// body's result. (An exception that escapes elsewhere reaches std::terminate, where the MPI
// communicator's handler does the same; see mpi_communicator.h.)
int run_distributed(Communicator& comm, const std::function<int()>& body);

}  // namespace loom::nn::distributed
