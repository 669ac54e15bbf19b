// tests/bench/bench_core.cpp: loom's CPU backend vs raw Eigen on the same shapes, same run.
//
//   matmul  [100, 100] @ [100, 400]  and  [256, 256] @ [256, 256]   (float32)
//   add and sigmoid on 1M float32 elements
//
// The loom side goes through the whole frontend (checks, output allocation, backend_for,
// the Eigen kernel); the Eigen side maps preallocated buffers and runs the same expression.
// The difference is loom's dispatch overhead. Threads: --threads=N sets both Eigen and loom
// (they share Eigen's setting). Results and command: docs/results/core-bench-cpu.md.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdlib>
#include <string>

#include "tensor/cpu/threads.h"
#include "tensor/ops.h"

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Arr = Eigen::Array<float, Eigen::Dynamic, 1>;

void report_flops(benchmark::State& state, int64_t m, int64_t k, int64_t n) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * k * n * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}

void BM_loom_matmul(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  loom::Generator gen(0);
  const loom::Tensor a = loom::randn({m, k}, gen), b = loom::randn({k, n}, gen);
  for (auto _ : state) {
    loom::Tensor c = loom::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  report_flops(state, m, k, n);
}

void BM_eigen_matmul(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const RowMat a = RowMat::Random(m, k), b = RowMat::Random(k, n);
  RowMat c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  report_flops(state, m, k, n);
}

void BM_loom_add(benchmark::State& state) {
  loom::Generator gen(0);
  const loom::Tensor a = loom::randn({state.range(0)}, gen), b = loom::randn({state.range(0)}, gen);
  for (auto _ : state) {
    loom::Tensor c = a + b;
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 3 * sizeof(float));
}

void BM_eigen_add(benchmark::State& state) {
  const Arr a = Arr::Random(state.range(0)), b = Arr::Random(state.range(0));
  Arr c(state.range(0));
  for (auto _ : state) {
    c = a + b;
    benchmark::DoNotOptimize(c.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 3 * sizeof(float));
}

void BM_loom_sigmoid(benchmark::State& state) {
  loom::Generator gen(0);
  const loom::Tensor a = loom::randn({state.range(0)}, gen);
  for (auto _ : state) {
    loom::Tensor c = loom::sigmoid(a);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 2 * sizeof(float));
}

void BM_eigen_sigmoid(benchmark::State& state) {
  const Arr a = Arr::Random(state.range(0));
  Arr c(state.range(0));
  for (auto _ : state) {
    c = (1.0f + (-a).exp()).inverse();
    benchmark::DoNotOptimize(c.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 2 * sizeof(float));
}

constexpr int64_t kElems = 1 << 20;

BENCHMARK(BM_loom_matmul)
    ->Args({100, 100, 400})
    ->Args({256, 256, 256})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eigen_matmul)
    ->Args({100, 100, 400})
    ->Args({256, 256, 256})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_loom_add)->Arg(kElems)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eigen_add)->Arg(kElems)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_loom_sigmoid)->Arg(kElems)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eigen_sigmoid)->Arg(kElems)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // Our own flag: --threads=N (default 1), applied before any benchmark runs.
  int threads = 1;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) {
      threads = std::atoi(arg.c_str() + 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  loom::set_num_threads(threads);
  benchmark::AddCustomContext("loom_threads", std::to_string(loom::get_num_threads()));
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
