// tests/bench/bench_gemm.cpp: the packed GEMM (fp32, bf16, u8 x s8) against Eigen, loom's Eigen
// backend and OpenBLAS sgemm, on 1 and 2 threads, and this machine's roofline, in one run.
//
// Shapes m x k x n: the LSTM's (100x100x400, 100x400x100, 10000x100x400) and 1024^3. Rate
// "GOP/s" = 2 m n k / s (floating-point operations for fp32 and bf16, integer ones for int8).
// The roofline: the peak rate of each multiply-add instruction on 24 independent accumulators
// (VFMADD231PS, VDPBF16PS, VPDPBUSD on 512 bits; VFMADD231PS on 256), and a STREAM-like triad
// over 3 x 64 MB. OpenBLAS is loaded with dlopen (libopenblas.so.0): loom never links it, and it
// is skipped when absent. Eigen runs its own OpenMP GEMM (Eigen::setNbThreads); "loom_eigen" is
// loom's CPU backend matmul (Eigen per row slice), which the packed GEMM is meant to replace.
// Run through tests/bench/run_gemm_bench.sh (results: docs/results/gemm-cpu.md).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <immintrin.h>

#include <Eigen/Core>
#include <random>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm/bf16_bits.h"
#include "tensor/cpu/gemm/gemm.h"
#include "tensor/cpu/gemm/kernels.h"
#include "tensor/cpu/threads.h"

namespace {

using namespace loom;

// ---- the roofline --------------------------------------------------------------------------

constexpr int kChains = 24;  // independent accumulators: more than latency x issue width
constexpr int64_t kPeakSteps = 1 << 16;

// `steps` x kChains multiply-add instructions. The accumulators must live in registers: the
// loops over them are unrolled (24 + 2 constants of the 32 vector registers), and they are
// copied out only at the end (taking their addresses would keep them in memory). Each starts
// from its own value (`init` of i), or the compiler sees 24 equal chains and computes one.
#define LOOM_PEAK_LOOP(type, init, op)                                        \
  type acc[kChains];                                                          \
  _Pragma("GCC unroll 24") for (int i = 0; i < kChains; ++i) acc[i] = init;   \
  for (int64_t s = 0; s < steps; ++s) {                                       \
    _Pragma("GCC unroll 24") for (int i = 0; i < kChains; ++i) acc[i] = op;   \
  }                                                                           \
  type out[kChains];                                                          \
  _Pragma("GCC unroll 24") for (int i = 0; i < kChains; ++i) out[i] = acc[i]; \
  benchmark::DoNotOptimize(out);

__attribute__((target("avx2,fma"))) void fma256_loop(int64_t steps) {
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
  LOOM_PEAK_LOOP(__m256, _mm256_set1_ps(i), _mm256_fmadd_ps(acc[i], x, y))
}

__attribute__((target("avx512f"))) void fma512_loop(int64_t steps) {
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  LOOM_PEAK_LOOP(__m512, _mm512_set1_ps(i), _mm512_fmadd_ps(acc[i], x, y))
}

__attribute__((target("avx512f,avx512bf16"))) void dpbf16_loop(int64_t steps) {
  const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80);  // (1, 1)
  LOOM_PEAK_LOOP(__m512, _mm512_set1_ps(i), _mm512_dpbf16_ps(acc[i], x, x))
}

__attribute__((target("avx512f,avx512vnni"))) void dpbusd_loop(int64_t steps) {
  const __m512i x = _mm512_set1_epi32(0x01010101);
  LOOM_PEAK_LOOP(__m512i, _mm512_set1_epi32(i), _mm512_dpbusd_epi32(acc[i], x, x))
}

// `loop` on range(0) threads at once; ops per instruction: lanes x (2 per FMA, 4 per bfloat16
// pair, 8 per byte quad). The rate is over wall time, all threads together.
void BM_Peak(benchmark::State& state, void (*loop)(int64_t), double ops_per_instruction) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    loop(kPeakSteps);
  }
  state.counters["GOP/s"] =
      benchmark::Counter(threads * ops_per_instruction * kChains * kPeakSteps * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// a = b + s c over 16M floats each (3 x 64 MB, far past the caches), the OpenMP threads
// splitting the arrays; bytes counted: 2 read + 1 written per element.
void BM_StreamTriad(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t n = int64_t{1} << 24;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i)
      a[i] = b[i] + 0.5f * c[i];
    benchmark::DoNotOptimize(a.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(3.0 * sizeof(float) * n * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}

// ---- the micro-kernels alone ---------------------------------------------------------------

// One thread runs `kernel` over 13 B micro-panels of 64 k groups (all in L1, like the LSTM's B
// block in L2): the kernel's own rate, the ceiling of every GEMM that uses it.
template <typename TA, typename TB, typename TC>
void BM_MicroKernel(benchmark::State& state, const cpu::gemm::MicroKernel<TA, TB, TC>* kernel) {
  constexpr int G = cpu::gemm::kGroup<TA>;
  const int64_t groups = 64, panels = 13;
  const std::vector<TA> a(groups * kernel->mr * G, TA(1));
  const std::vector<TB> b(panels * groups * kernel->nr * G, TB(1));
  std::vector<TC> c(kernel->mr * kernel->nr);
  const cpu::gemm::CTile<TC> tile{c.data(), kernel->nr, kernel->mr, kernel->nr, TC(1), TC(0)};
  for (auto _ : state)
    for (int64_t p = 0; p < panels; ++p)
      kernel->run(groups, a.data(), b.data() + p * groups * kernel->nr * G, tile);
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * kernel->mr * kernel->nr * groups * G * panels * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// ---- the GEMMs -----------------------------------------------------------------------------

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// cblas_sgemm and openblas_set_num_threads from libopenblas.so.0, or null.
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                       float, float*, int);
struct OpenBlas {
  Sgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
};
const OpenBlas& openblas() {
  static const OpenBlas lib = [] {
    OpenBlas l;
    if (void* h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL)) {
      l.sgemm = reinterpret_cast<Sgemm>(dlsym(h, "cblas_sgemm"));
      l.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
    }
    return l;
  }();
  return lib;
}

enum class Impl { LoomFp32, LoomBf16, LoomInt8, Eigen, LoomEigen, OpenBlas, Naive };

struct Operands {  // A [m, k], B [k, n], C [m, n], row-major, in every element type
  std::vector<float> a, b, c;
  std::vector<uint16_t> a16, b16;
  std::vector<uint8_t> a8;
  std::vector<int8_t> b8;
  std::vector<int32_t> c32;
};

Operands make_operands(int64_t m, int64_t k, int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  Operands o;
  o.a.resize(m * k), o.b.resize(k * n), o.c.assign(m * n, 0.0f), o.c32.assign(m * n, 0);
  for (float& x : o.a)
    x = real(rng);
  for (float& x : o.b)
    x = real(rng);
  o.a16.resize(o.a.size()), o.b16.resize(o.b.size());
  cpu::gemm::floats_to_bf16(o.a.data(), o.a16.data(), m * k);
  cpu::gemm::floats_to_bf16(o.b.data(), o.b16.data(), k * n);
  for (float x : o.a)
    o.a8.push_back(static_cast<uint8_t>(128 + 127 * x));
  for (float x : o.b)
    o.b8.push_back(static_cast<int8_t>(127 * x));
  return o;
}

// The textbook triple loop, C = A B (row-major, no transposes): the first step of the lab.
void naive_gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a[i * k + p] * b[p * n + j];
      c[i * n + j] = sum;
    }
}

// One product C = A B with `impl`.
void run_once(Impl impl, Operands& o, const MatmulArgs& p) {
  const int m = static_cast<int>(p.m), n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  switch (impl) {
    case Impl::LoomFp32:
      return cpu::gemm::gemm_f32(o.a.data(), o.b.data(), o.c.data(), p);
    case Impl::LoomBf16:
      return cpu::gemm::gemm_bf16(o.a16.data(), o.b16.data(), o.c.data(), p);
    case Impl::LoomInt8:
      return cpu::gemm::gemm_u8s8(o.a8.data(), o.b8.data(), o.c32.data(), p);
    case Impl::LoomEigen:
      return backend_for(kCPU).matmul(o.a.data(), o.b.data(), o.c.data(), DType::Float32, p);
    case Impl::Eigen: {
      Eigen::Map<const RowMat> a(o.a.data(), m, k), b(o.b.data(), k, n);
      Eigen::Map<RowMat> c(o.c.data(), m, n);
      c.noalias() = a * b;
      return;
    }
    case Impl::OpenBlas:  // CblasRowMajor = 101, CblasNoTrans = 111
      return openblas().sgemm(101, 111, 111, m, n, k, 1.0f, o.a.data(), k, o.b.data(), n, 0.0f,
                              o.c.data(), n);
    case Impl::Naive:
      return naive_gemm(o.a.data(), o.b.data(), o.c.data(), m, n, k);
  }
}

// range: m, k, n, threads, and (loom only) the kernel level, as a cpu::KernelLevel.
void BM_Gemm(benchmark::State& state, Impl impl) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const cpu::KernelLevel saved = cpu::kernel_level();
  if (state.range(4) >= 0) cpu::set_kernel_level(static_cast<cpu::KernelLevel>(state.range(4)));
  if (impl == Impl::OpenBlas && openblas().sgemm == nullptr) {
    state.SkipWithError("libopenblas.so.0 not found");
    return;
  }
  set_num_threads(threads);  // loom, loom_eigen
  Eigen::setNbThreads(threads);
  if (openblas().set_num_threads) openblas().set_num_threads(threads);
  Operands o = make_operands(m, k, n);
  MatmulArgs p;
  p.m = m, p.n = n, p.k = k, p.lda = k, p.ldb = n, p.ldc = n;
  for (auto _ : state) {
    run_once(impl, o, p);
    benchmark::ClobberMemory();
  }
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
  cpu::set_kernel_level(saved);
}

void register_roofline() {
  const cpu::CpuFeatures& f = cpu::cpu_features();
  const struct {
    bool present;
    const char* name;
    void (*loop)(int64_t);
    double ops;
  } peaks[] = {{f.avx2_fma, "peak/fma256", fma256_loop, 8 * 2},
               {f.avx512f, "peak/fma512", fma512_loop, 16 * 2},
               {f.avx512_bf16, "peak/dpbf16", dpbf16_loop, 16 * 4},
               {f.avx512_vnni, "peak/dpbusd", dpbusd_loop, 16 * 8}};
  for (const auto& p : peaks)
    if (p.present)
      benchmark::RegisterBenchmark(p.name, BM_Peak, p.loop, p.ops)
          ->ArgName("threads")
          ->Arg(1)
          ->Arg(2)
          ->UseRealTime();
  const cpu::KernelLevel level = cpu::kernel_level();
  benchmark::RegisterBenchmark("kernel/fp32", BM_MicroKernel<float, float, float>,
                               &cpu::gemm::f32_kernel(level))
      ->ArgName("threads")
      ->Arg(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("kernel/bf16", BM_MicroKernel<uint16_t, uint16_t, float>,
                               &cpu::gemm::bf16_kernel(level))
      ->ArgName("threads")
      ->Arg(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("kernel/int8", BM_MicroKernel<uint8_t, int8_t, int32_t>,
                               &cpu::gemm::u8s8_kernel(level))
      ->ArgName("threads")
      ->Arg(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("stream/triad", BM_StreamTriad)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime();
}

void register_gemms() {
  const std::pair<const char*, Impl> impls[] = {
      {"loom_fp32", Impl::LoomFp32}, {"loom_bf16", Impl::LoomBf16},   {"loom_int8", Impl::LoomInt8},
      {"eigen", Impl::Eigen},        {"loom_eigen", Impl::LoomEigen}, {"openblas", Impl::OpenBlas}};
  const int64_t shapes[][3] = {
      {100, 100, 400}, {100, 400, 100}, {10000, 100, 400}, {1024, 1024, 1024}};
  const std::vector<std::string> names = {"m", "k", "n", "threads", "level"};
  for (const auto& s : shapes)
    for (int threads : {1, 2})
      for (const auto& [name, impl] : impls)
        benchmark::RegisterBenchmark((std::string("gemm/") + name).c_str(), BM_Gemm, impl)
            ->Args({s[0], s[1], s[2], threads, -1})
            ->ArgNames(names)
            ->UseRealTime();
  // The lab's staircase, one thread: the triple loop, then the packed GEMM with the scalar
  // reference kernel, the AVX2 kernel and (above) the AVX-512 one.
  for (const auto& s : {shapes[0], shapes[3]}) {
    benchmark::RegisterBenchmark("gemm/naive", BM_Gemm, Impl::Naive)
        ->Args({s[0], s[1], s[2], 1, -1})
        ->ArgNames(names)
        ->UseRealTime();
    for (cpu::KernelLevel level : {cpu::KernelLevel::Reference, cpu::KernelLevel::Avx2})
      benchmark::RegisterBenchmark(
          (std::string("gemm/loom_fp32_") + cpu::kernel_level_name(level)).c_str(), BM_Gemm,
          Impl::LoomFp32)
          ->Args({s[0], s[1], s[2], 1, static_cast<int64_t>(level)})
          ->ArgNames(names)
          ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_roofline();
  register_gemms();
  const cpu::KernelLevel level = cpu::kernel_level();
  benchmark::AddCustomContext("kernel_level", cpu::kernel_level_name(level));
  benchmark::AddCustomContext("loom_kernels", std::string(cpu::gemm::f32_kernel(level).name) +
                                                  ", " + cpu::gemm::bf16_kernel(level).name + ", " +
                                                  cpu::gemm::u8s8_kernel(level).name);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
