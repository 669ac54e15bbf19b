// apps/imdb/distributed.h: what a data-parallel `imdb train` adds to a one-process run: the
// communicator, who prints and writes, how each global batch is dealt out, the gradient
// all-reduce, the metric reduction and the agreement on when to stop.
//
//   mpirun -np 2 imdb train --batch 100 ...          (or: srun --mpi=pmix imdb train ...)
//
// --batch is the GLOBAL batch, so 1 and N processes train the same model: every rank shuffles
// each epoch with the same seed and takes every N-th row of floor(n / batch) full batches; the
// gradients are averaged before each step; without dropout the runs agree to rounding
// (tests/apps/imdb_dist_test.cpp checks 1e-5), with it in distribution (masks differ per rank).
// Only rank 0 prints and writes files; validation rows are shared out and the sums reduced; all
// ranks agree after every step on whether to stop. The rules and why: apps/imdb/README.md
// ("Data-parallel training") and docs/labs/09-distributed.md, section 7. --pipeline-stages S:
// a grid of S stages x world/S replicas (nn/distributed/pipeline.h): replicas deal out batches
// as above, a replica's stages share its rows, the all-reduce runs among a stage's copies.
// Leaves out: study/eval/predict/export on several processes (check_launch refuses), uneven shards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/imdb/cli.h"
#include "data/sampler.h"
#include "nn/distributed/communicator.h"
#include "nn/distributed/env.h"
#include "nn/distributed/metrics.h"
#include "tensor/device.h"

namespace loom::nn::distributed {
class DistributedDataParallel;
class PipelineGrid;
}  // namespace loom::nn::distributed

namespace loom::imdb {

class ImdbModel;

// What a launch described by `p` (the launcher's environment, read before MPI starts) can run
// with request `r`; throws loom::Error otherwise: study/eval/predict/export on several
// processes, --dist none under a launcher of several, srun without an MPI plugin
// (nn::distributed::mpi_launch_problem), --dist mpi with --device cuda, --dist
// nccl on the CPU, cuda:N on several processes (each rank takes cuda:local_rank), a --batch
// that the world size does not divide. Every rank finds the same answer, so main.cpp lets only
// rank 0 print it.
void check_launch(const Request& r, const nn::distributed::ProcessInfo& p);

// CPU threads for each process: `threads` when > 0; else the node's cores shared among its
// `local_size` processes (at least 1), so N ranks on one node do not oversubscribe it.
int threads_per_process(int64_t threads, int local_size);

// The training rows rank `rank` of `world` visits, in order: data::DistributedSampler's
// interleaved share of the epoch's shuffled order of `rows`, cut to the floor(n / global_batch)
// full global batches (its wrap-around padding is never reached). With world 1 it is the
// shuffled order of data::SubsetSampler(rows, true, seed), minus the final partial batch.
class ShardSampler final : public data::Sampler {
 public:
  // Throws naming --batch when global_batch > rows.size() or world does not divide it.
  ShardSampler(std::vector<int64_t> rows, int64_t global_batch, int rank, int world, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;  // [batches() * local_batch()]
  int64_t size() const override { return batches_ * local_batch_; }
  int64_t local_batch() const { return local_batch_; }  // global_batch / world
  int64_t batches() const { return batches_; }          // floor(n / global_batch), every rank

 private:
  std::vector<int64_t> rows_;
  data::DistributedSampler positions_;  // over 0..n-1; rows_[position] is the dataset row
  int64_t local_batch_, batches_;
};

// rows[rank], rows[rank + world], ...: a rank's share of rows scored without gradients.
std::vector<int64_t> strided_rows(const std::vector<int64_t>& rows, int rank, int world);

// The seed of rank `rank`'s dropout masks: `seed` itself on rank 0 (a 1-process run is
// unchanged), a different well-mixed seed on every other rank.
uint64_t dropout_seed(uint64_t seed, int rank);

class DataParallel {
 public:
  // Starts the communicator that `dist` (auto|none|mpi|nccl) picks for training on `device`
  // (auto: none for one process, mpi on the CPU, nccl on CUDA; a single process never starts
  // MPI). pipeline_stages > 1: also the grid of stages x replicas (throws unless it divides
  // the world). Collective under a launcher: every rank constructs it.
  DataParallel(const std::string& dist, const std::string& device, int64_t pipeline_stages = 1);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  nn::distributed::Communicator& comm() const { return *comm_; }
  int rank() const { return comm_->rank(); }
  int world_size() const { return comm_->world_size(); }
  bool is_root() const { return comm_->is_root(); }
  // The pipeline grid, or nullptr without --pipeline-stages.
  nn::distributed::PipelineGrid* grid() const { return grid_.get(); }
  int stage() const;       // 0 without a pipeline
  int num_stages() const;  // 1 without a pipeline
  // Where this rank sits among the data-parallel copies: its replica and how many there are
  // (rank and world size without a pipeline). The batches are dealt out by these.
  int data_rank() const;
  int data_world() const;
  // Where this rank trains: --device as given; on several processes "cuda" means
  // cuda:local_rank (one GPU per process).
  Device device() const { return device_; }
  // "2 processes (mpi, launcher openmpi), global batch 100 = 2 x 50 rows, 1 thread each".
  std::string describe(int64_t global_batch, int threads) const;

  // Runs `body` so that an exception on one rank ends every rank with "rank R of N: ..."
  // (nn::distributed::run_distributed); with one process exceptions propagate unchanged.
  int run(const std::function<int()>& body);

  // Collective: wraps the model's parameters (this stage's, when pipelined) and copies the
  // first replica's values to every replica.
  void attach(ImdbModel& model);
  // After backward: every gradient = its mean over ranks (no-op for one process). Called before
  // ImdbModel::step(), i.e. before the fp16 unscale and the clipping, so every rank takes the
  // same step and, under fp16, the same skip decision.
  void all_reduce_gradients();
  // Collective: the largest `my_signal` over ranks (0 = no rank saw a stop signal).
  int agree_on_stop(int my_signal);
  // Collective: sums summed, times the slowest rank's (nn::distributed::reduce_metrics).
  nn::distributed::MetricTotals reduce(const nn::distributed::MetricTotals& mine);
  // Collective: returns when every rank has called it.
  void barrier();

  // Seconds spent in all_reduce_gradients and agree_on_stop since the last reset (waiting for
  // the slowest rank included): what data parallelism costs per epoch.
  double comm_seconds() const { return comm_seconds_; }
  void reset_comm_seconds() { comm_seconds_ = 0; }

 private:
  std::unique_ptr<nn::distributed::Communicator> comm_;
  std::unique_ptr<nn::distributed::PipelineGrid> grid_;
  std::unique_ptr<nn::distributed::DistributedDataParallel> ddp_;
  Device device_;
  std::string launcher_;
  double comm_seconds_ = 0;
};

}  // namespace loom::imdb
