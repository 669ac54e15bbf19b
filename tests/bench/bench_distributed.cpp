// tests/bench/bench_distributed.cpp: data-parallel training steps of the IMDB model on 1 or N
// processes, and the all-reduce of its gradients (lab 09). Not run by ctest.
//
//   mpiexec -n 2 build/tests/bench/bench_distributed        (tests/bench/run_distributed_bench.sh
//                                                            runs 1 and 2 and prints the speedup)
// The model is the study's at its real sizes (as bench_lstm_step.cpp): Embedding(500, 100) ->
// fused LSTM(100, 100) -> last step -> Linear(100, 1) -> BCE-with-logits -> Adam, random tokens,
// float32, one thread per process. The GLOBAL batch is 100: each of N ranks takes 100/N rows, so
// the work per step is the same for every N and samples/s compares directly. Every rank runs the
// same fixed number of iterations (collectives must match across ranks, and Google Benchmark
// would otherwise pick the count from each rank's own timing); rank 0 reports, the others run
// silently. LOOM_DIST_BACKEND (auto, none, mpi, nccl; default auto) picks the communicator (see
// main). The GPU path (nccl) has never run here (no GPU).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "autograd/functions.h"
#include "nn/distributed/communicator.h"
#include "nn/distributed/ddp.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"

namespace {

using loom::Tensor;
using loom::Variable;
namespace dist = loom::nn::distributed;

constexpr int64_t kVocab = 500, kEmbed = 100, kHidden = 100, kGlobalBatch = 100, kSeq = 100;

dist::Communicator* g_comm = nullptr;

// The IMDB model at its real sizes on `device`, `rows` rows of random tokens from `data_seed`.
struct ImdbStep {
  ImdbStep(loom::Device device, int64_t rows, uint64_t data_seed)
      : gen(0),
        emb(loom::nn::EmbeddingOptions(kVocab, kEmbed), gen),
        lstm(loom::nn::LSTMOptions(kEmbed, kHidden).batch_first(true), gen),
        fc(loom::nn::LinearOptions(kHidden, 1), gen) {
    for (auto* m : std::initializer_list<loom::nn::Module*>{&emb, &lstm, &fc}) {
      m->to(device);
      for (const auto& [name, p] : m->named_parameters())
        params.emplace_back(m->type_name() + "." + name, p);
    }
    loom::Generator data_gen(data_seed);
    tokens =
        loom::uniform({rows, kSeq}, 0, kVocab - 0.5, data_gen).to(loom::DType::Int64).to(device);
    labels = loom::lt(loom::rand({rows, 1}, data_gen), 0.5).to(loom::DType::Float32).to(device);
  }
  // zero_grad is the caller's; forward and backward of the mean BCE loss.
  Variable forward_backward() {
    const Variable out = lstm.forward(emb.forward(tokens));
    const Variable loss = loom::nn::bce_with_logits(fc.forward(select(out, 1, kSeq - 1)), labels);
    loss.backward();
    return loss;
  }

  loom::Generator gen;
  loom::nn::Embedding emb;
  loom::nn::LSTM lstm;
  loom::nn::Linear fc;
  loom::nn::optim::NamedParameters params;
  Tensor tokens, labels;
};

// zero_grad, forward, backward, all_reduce_gradients, Adam. Counters: samples_per_s (global),
// allreduce_ms (per step, rank 0's share of the step; nothing to reduce at world size 1).
void BM_DdpStep(benchmark::State& state) {
  dist::Communicator& comm = *g_comm;
  loom::set_num_threads(1);
  // This rank's rows; each rank its own rows.
  ImdbStep model(comm.device(), kGlobalBatch / comm.world_size(),
                 1 + static_cast<uint64_t>(comm.rank()));
  dist::DistributedDataParallel ddp(comm, model.params);
  loom::nn::optim::Adam adam(model.params, loom::nn::optim::AdamOptions(1e-3));
  double allreduce_s = 0;
  for (auto _ : state) {
    adam.zero_grad(/*set_to_none=*/true);
    const Variable loss = model.forward_backward();
    const auto t0 = std::chrono::steady_clock::now();
    ddp.all_reduce_gradients();
    allreduce_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    adam.step();
    if (comm.device().is_cuda()) (void)loss.item<float>();  // waits for the GPU: whole steps
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["world"] = comm.world_size();
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(kGlobalBatch) * steps, benchmark::Counter::kIsRate);
  state.counters["allreduce_ms"] = 1e3 * allreduce_s / steps;
}
BENCHMARK(BM_DdpStep)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same step without DDP at `rows` rows: the compute one rank does when N ranks share a
// global batch (rows = B/N). The scaling model (tests/bench/scaling_model.py) reads these
// instead of guessing how compute shrinks with the rows: ceil(100/N) for N = 1, 2, 4, 8, 16, 28.
// Run it with ONE process.
void BM_LocalStep(benchmark::State& state) {
  loom::set_num_threads(1);
  ImdbStep model(g_comm->device(), state.range(0), 1);
  loom::nn::optim::Adam adam(model.params, loom::nn::optim::AdamOptions(1e-3));
  for (auto _ : state) {
    adam.zero_grad(/*set_to_none=*/true);
    const Variable loss = model.forward_backward();
    adam.step();
    if (g_comm->device().is_cuda()) (void)loss.item<float>();
  }
}
BENCHMARK(BM_LocalStep)
    ->Arg(100)
    ->Arg(50)
    ->Arg(25)
    ->Arg(13)
    ->Arg(7)
    ->Arg(4)
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The embedding's backward alone at `rows` rows (scatter-adding [rows*T, E] output gradients
// into the table). It is all the backward that is left once the LSTM's and the head's
// gradients are final, so it bounds what overlapping their all-reduce with backward can hide
// (lab 09, section 4). Run it with ONE process.
void BM_EmbeddingBackward(benchmark::State& state) {
  loom::set_num_threads(1);
  ImdbStep model(g_comm->device(), state.range(0), 1);
  const Tensor grad_out = loom::ones({state.range(0), kSeq, kEmbed}, g_comm->device());
  for (auto _ : state) {
    model.emb.weight.set_grad(Tensor());
    const Variable embedded = model.emb.forward(model.tokens);
    const auto t0 = std::chrono::steady_clock::now();
    embedded.backward(grad_out);
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
BENCHMARK(BM_EmbeddingBackward)
    ->Arg(100)
    ->Arg(50)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();

// all_reduce_sum of a float32 buffer: the model's gradient and larger sizes. Counters: algbw
// (bytes / time) and busbw (algbw * 2(N-1)/N, what a ring moves per rank; comparable across N).
// With nccl it times NCCL even with 1 process.
void BM_AllReduce(benchmark::State& state) {
  dist::Communicator& comm = *g_comm;
  const Tensor buffer = loom::ones({state.range(0)}, comm.device());
  for (auto _ : state)
    comm.all_reduce_sum(buffer);
  const double n = comm.world_size();
  const double bytes = 4.0 * static_cast<double>(state.range(0)) * state.iterations();
  state.counters["world"] = n;
  state.counters["algbw"] = benchmark::Counter(bytes, benchmark::Counter::kIsRate);
  state.counters["busbw"] =
      benchmark::Counter(bytes * 2 * (n - 1) / n, benchmark::Counter::kIsRate);
}
// 130901: the IMDB model's gradient in floats (50,000 + 80,800 + 101 = 0.52 MB).
BENCHMARK(BM_AllReduce)
    ->Arg(130901)
    ->Arg(1 << 20)
    ->Arg(1 << 22)
    ->Iterations(50)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Prints nothing: the reporter of ranks other than 0.
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

// auto with 1 process is the single-process communicator (no MPI): the baseline a user without a
// launcher gets. With nccl the model and buffers live on cuda:local_rank.
int main(int argc, char** argv) {
  const char* backend = std::getenv("LOOM_DIST_BACKEND");
  auto comm = dist::make_communicator(backend != nullptr ? backend : "auto");
  g_comm = comm.get();
  // Ranks other than 0 drop --benchmark_out (else every rank would write the same file).
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i)
    if (comm->is_root() || std::strncmp(argv[i], "--benchmark_out", 15) != 0)
      args.push_back(argv[i]);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (comm->is_root()) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    SilentReporter silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  return 0;
}
