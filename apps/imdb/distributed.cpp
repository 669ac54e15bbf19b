// apps/imdb/distributed.cpp: see distributed.h.
#include "apps/imdb/distributed.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "apps/imdb/model.h"
#include "cuda/runtime/device.h"
#include "data/split.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/env.h"
#include "nn/distributed/pipeline.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

namespace dist = nn::distributed;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool is_cuda(const std::string& device) {
  return device.rfind("cuda", 0) == 0;
}

}  // namespace

void check_launch(const Request& r, const dist::ProcessInfo& p) {
  const int64_t stages = r.config.pipeline_stages;
  const int64_t world = p.distributed() ? p.world_size : 1;
  LOOM_CHECK(stages == 1 || (world % stages == 0 && world >= stages), "--pipeline-stages ", stages,
             " needs a multiple of ", stages, " processes (stages x replicas), but this is ",
             p.distributed() ? p.str() : std::string("one process"), ": start it with mpirun -n ",
             stages, " (or ", 2 * stages, ", ...)");
  if (!p.distributed()) return;
  const std::string who = p.str();
  LOOM_CHECK(r.command == "train", "imdb ", r.command, " runs as one process, but this is ", who,
             ": run it without mpirun/srun (only `imdb train` is data-parallel)");
  const Config& c = r.config;
  LOOM_CHECK(c.dist != "none", "--dist none, but this is ", who,
             ": every process would train alone into the same --out; use --dist auto (or mpi / "
             "nccl), or start one process");
  // MPI (and NCCL, which starts over MPI) must be able to find the other processes.
  const std::string problem = dist::mpi_launch_problem(p);
  LOOM_CHECK(problem.empty(), problem);
  LOOM_CHECK(!(c.dist == "mpi" && is_cuda(c.device)),
             "--dist mpi carries CPU tensors only, but --device is ", c.device,
             ": use --dist nccl (or auto) to train on GPUs");
  LOOM_CHECK(!(c.dist == "nccl" && !is_cuda(c.device)),
             "--dist nccl carries GPU tensors only, but --device is ", c.device,
             ": use --dist mpi (or auto) on the CPU");
  LOOM_CHECK(c.device.find(':') == std::string::npos, "--device ", c.device, " names one GPU, but ",
             who, ": each process trains on cuda:<local rank>; pass --device cuda");
  // With --resume the batch comes from the checkpoint and is checked again by ShardSampler.
  // Each replica (a pipeline's stages share its rows) trains --batch / replicas rows.
  const int64_t replicas = p.world_size / stages;
  LOOM_CHECK(c.resume || replicas == 0 || c.batch % replicas == 0, "--batch ", c.batch,
             " is the global batch and must split evenly over the ", replicas,
             " data-parallel replicas (each trains --batch / ", replicas,
             " rows per step): use a multiple of ", replicas);
  LOOM_CHECK(c.resume || replicas == 0 || c.micro_batches <= c.batch / replicas, "--micro-batches ",
             c.micro_batches, " is more than the ", c.batch / replicas,
             " rows each replica trains per step (--batch ", c.batch, " / ", replicas,
             " replicas): use at most that many");
}

int threads_per_process(int64_t threads, int local_size) {
  if (threads > 0) return static_cast<int>(threads);
  const unsigned hw = std::thread::hardware_concurrency();
  const int cores = hw == 0 ? 1 : static_cast<int>(hw);
  return std::max(1, cores / std::max(1, local_size));
}

ShardSampler::ShardSampler(std::vector<int64_t> rows, int64_t global_batch, int rank, int world,
                           uint64_t seed)
    : rows_(std::move(rows)),
      positions_(std::max<int64_t>(1, static_cast<int64_t>(rows_.size())), rank, world,
                 /*shuffle=*/true, seed) {
  const int64_t n = static_cast<int64_t>(rows_.size());
  LOOM_CHECK(global_batch >= 1 && global_batch <= n, "--batch ", global_batch, " must be in [1, ",
             n, "] (the training rows)");
  LOOM_CHECK(global_batch % world == 0, "--batch ", global_batch,
             " is the global batch and must split evenly over the ", world,
             " processes (each trains --batch / ", world, " rows per step): use a multiple of ",
             world);
  local_batch_ = global_batch / world;
  batches_ = n / global_batch;
}

std::vector<int64_t> ShardSampler::indices(int64_t epoch) const {
  // Local position p is global position p * world + rank, so local batch k (positions
  // k*b .. k*b+b-1) is global positions k*B + j*world + rank: rank r's share of global batch k.
  std::vector<int64_t> mine = positions_.indices(epoch);
  mine.resize(static_cast<size_t>(size()));  // whole global batches only: padding never reached
  for (int64_t& pos : mine)
    pos = rows_[static_cast<size_t>(pos)];
  return mine;
}

std::vector<int64_t> strided_rows(const std::vector<int64_t>& rows, int rank, int world) {
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(rank); i < rows.size(); i += static_cast<size_t>(world))
    mine.push_back(rows[i]);
  return mine;
}

uint64_t dropout_seed(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  // A constant keeps these seeds apart from the epoch shuffles' mix_seed(seed, epoch).
  return data::mix_seed(seed ^ 0x9e3779b97f4a7c15ULL, static_cast<uint64_t>(rank));
}

DataParallel::DataParallel(const std::string& dist_name, const std::string& device,
                           int64_t pipeline_stages) {
  const dist::ProcessInfo info = dist::process_info_from_env();
  launcher_ = info.launcher;
  Device wanted(device);
  // A single process keeps its --device; several take one GPU each, by local rank.
  comm_ = dist::make_communicator(dist_name, wanted.type, info);
  if (comm_->world_size() > 1 && wanted.is_cuda()) {
    const int gpu =
        dist::gpu_for_local_rank(comm_->local_rank(), comm_->local_size(), cuda::device_count());
    LOOM_CHECK(gpu >= 0, "--device cuda: local rank ", comm_->local_rank(), " of ",
               comm_->local_size(), " processes on this node, but ", cuda::device_count(),
               " GPU(s) visible: start at most one process per GPU");
    wanted = Device(DeviceType::CUDA, gpu);
  }
  device_ = wanted;
  if (pipeline_stages > 1)
    grid_ = std::make_unique<dist::PipelineGrid>(*comm_, static_cast<int>(pipeline_stages));
}

DataParallel::~DataParallel() = default;

int DataParallel::stage() const {
  return grid_ ? grid_->stage() : 0;
}
int DataParallel::num_stages() const {
  return grid_ ? grid_->num_stages() : 1;
}
int DataParallel::data_rank() const {
  return grid_ ? grid_->replica() : rank();
}
int DataParallel::data_world() const {
  return grid_ ? grid_->num_replicas() : world_size();
}

std::string DataParallel::describe(int64_t global_batch, int threads) const {
  std::ostringstream s;
  const int n = world_size();
  if (n == 1) {
    s << "1 process, batch " << global_batch << ", " << threads << " thread(s)";
  } else {
    s << n << " processes (" << comm_->backend_name() << ", launcher " << launcher_ << ", "
      << comm_->local_size() << " on this node), global batch " << global_batch << " = " << n
      << " x " << global_batch / n << " rows, " << threads << " thread(s) each";
  }
  if (grid_) {
    const int S = grid_->num_stages(), R = grid_->num_replicas();
    s.str("");
    s << n << " processes (" << comm_->backend_name() << ", launcher " << launcher_ << ") = " << S
      << " pipeline stages x " << R << " replica(s), global batch " << global_batch << " = " << R
      << " x " << global_batch / R << " rows, " << threads << " thread(s) each";
  }
  return s.str();
}

int DataParallel::run(const std::function<int()>& body) {
  return dist::run_distributed(*comm_, body);
}

void DataParallel::attach(ImdbModel& model) {
  if (data_world() == 1) return;  // nobody to average with
  dist::Communicator& copies = grid_ ? grid_->replicas() : *comm_;
  ddp_ = std::make_unique<dist::DistributedDataParallel>(copies, model.named_parameters());
}

void DataParallel::all_reduce_gradients() {
  if (data_world() == 1) return;
  LOOM_CHECK(ddp_ != nullptr, "DataParallel::all_reduce_gradients: attach(model) first");
  const auto t0 = Clock::now();
  ddp_->all_reduce_gradients();
  comm_seconds_ += since(t0);
}

int DataParallel::agree_on_stop(int my_signal) {
  if (world_size() == 1) return my_signal;
  const auto t0 = Clock::now();
  const double any = comm_->all_reduce_max({static_cast<double>(my_signal)})[0];
  comm_seconds_ += since(t0);
  return static_cast<int>(any);
}

dist::MetricTotals DataParallel::reduce(const dist::MetricTotals& mine) {
  return dist::reduce_metrics(*comm_, mine);
}

void DataParallel::barrier() {
  comm_->barrier();
}

}  // namespace loom::imdb
