// tests/cuda/adam_kernels_emulation_test.cpp: the fused Adam/AdamW kernels of
// cuda/kernels/adam_kernels.cuh (adam_kernel, advance_steps_kernel), run on the CPU under emulation
// (tests/cuda/cuda_emulation.h) with the launcher's table, grid and block, against the CPU
// backend's fused adam_step (tensor/cpu/adam.cpp) — in every build.
//
// Checks: the tile walk over many parameters (sizes 0, 1, tile +- 1, several tiles, one launch);
// the per-parameter constants one thread puts in shared memory (every parameter at another step,
// so stale constants show); the 16-byte path and its refusal for a buffer one element off; Adam
// and AdamW, float32 and float64; a grid smaller than the tiles; chunks of 48 parameters;
// found_inf (set: nothing changes, counters included); the launch that advances the counters.
// Tolerance: the same functions (tensor/kernels/adam_update.h) in the same type, but the CPU
// loop is vectorised and contracted into FMAs differently (seen: ~6e-7 relative where an AdamW
// float32 weight cancels to 1e-3): 4 ulps of max(1, |value|). A stale constant is off by ~1e-3.
//
// Cannot check: the GPU's pow/sqrt, real 16-byte loads, the 4 KB parameter space, graph capture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/adam_kernels.cuh"
#include "tensor/cpu/backend.h"

namespace loom::cuda {
namespace {

namespace fa = adam_kernels;

// One parameter's four buffers (p, g, m, v), each starting at a 64-byte boundary except buffer
// `shifted` (0..3; -1: none), which starts one element past it; copies keep that placement.
template <typename T>
struct ParamBuffers {
  std::vector<T> storage[4];
  T* ptr[4];  // p, g, m, v
  int64_t step = 0, numel = 0;
  int shifted = -1;

  ParamBuffers(int64_t n, int64_t start_step, int shift, std::mt19937& rng)
      : step(start_step), numel(n), shifted(shift) {
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int b = 0; b < 4; ++b) {
      place(b);
      for (int64_t i = 0; i < n; ++i) {
        const double x = normal(rng);
        ptr[b][i] = static_cast<T>(b == 3 ? x * x : x);  // v >= 0
      }
    }
  }
  ParamBuffers(const ParamBuffers& o) : step(o.step), numel(o.numel), shifted(o.shifted) {
    for (int b = 0; b < 4; ++b) {
      place(b);
      std::copy(o.ptr[b], o.ptr[b] + numel, ptr[b]);
    }
  }
  ParamBuffers& operator=(const ParamBuffers&) = delete;
  AdamParam param() { return {ptr[0], ptr[1], ptr[2], ptr[3], &step, numel}; }

 private:
  void place(int b) {
    storage[b].assign(static_cast<std::size_t>(numel + 17), T(0));
    T* base = storage[b].data();
    while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0)
      ++base;
    ptr[b] = base + (b == shifted ? 1 : 0);
  }
};

template <typename T>
std::vector<AdamParam> table_of(std::vector<ParamBuffers<T>>& ps) {
  std::vector<AdamParam> out;
  for (ParamBuffers<T>& p : ps)
    out.push_back(p.param());
  return out;
}

// CudaBackend::adam_step (cuda/kernels/adam.cu) with its launches emulated: chunks of kMaxParams,
// one table each, adam_kernel on the launcher's grid (or `grid` blocks when > 0), then the counter
// kernel on <<<1, kStepThreads>>>.
template <typename T>
void emulated_adam_step(const AdamParam* params, int num, const AdamHyper& h,
                        const float* found_inf, unsigned grid = 0) {
  for (int first = 0; first < num; first += fa::kMaxParams) {
    const int n = std::min(fa::kMaxParams, num - first);
    fa::AdamTable<T> table{};
    fa::fill_table(table, params + first, n);
    const int64_t tiles = table.tiles.tiles();
    if (tiles > 0) {
      // launch_for(tiles * kBlock, kBlock, ...)'s block count.
      const auto blocks = static_cast<unsigned>(blocks_for(tiles * fa::kBlock, fa::kBlock, "adam"));
      const emu::Dim3 g{grid > 0 ? grid : blocks}, b{fa::kBlock};
      if (h.decoupled)
        emu::emulate_launch(g, b, fa::adam_kernel<T, true>, table, h, found_inf);
      else
        emu::emulate_launch(g, b, fa::adam_kernel<T, false>, table, h, found_inf);
    }
    emu::emulate_launch(emu::Dim3{1}, emu::Dim3{fa::kStepThreads}, fa::advance_steps_kernel,
                        table.steps, found_inf);
  }
}

// Expects every buffer and counter of `got` equal to `want` within 4 ulps of max(1, |want|)
// (exactly when `exact`): the values are O(1), and where p - step_size * m / (...) cancels to
// near 0 the two loops' different FMA contractions leave an absolute, not a relative, error.
template <typename T>
void expect_same(std::vector<ParamBuffers<T>>& got, std::vector<ParamBuffers<T>>& want,
                 bool exact = false) {
  const char* names[] = {"param", "grad", "exp_avg", "exp_avg_sq"};
  static_assert(sizeof(names) / sizeof(names[0]) == 4, "one name per buffer compared below");
  const double ulp = std::numeric_limits<T>::epsilon();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].step, want[i].step) << "step counter of parameter " << i;
    for (int b = 0; b < 4; ++b) {
      int bad = 0;
      for (int64_t e = 0; e < got[i].numel && bad < 3; ++e) {
        const double x = got[i].ptr[b][e], y = want[i].ptr[b][e];
        const bool ok = exact ? std::memcmp(&got[i].ptr[b][e], &want[i].ptr[b][e], sizeof(T)) == 0
                              : std::fabs(x - y) <= 4 * ulp * std::max(1.0, std::fabs(y));
        if (!ok) {
          ++bad;
          ADD_FAILURE() << names[b] << " of parameter " << i << " (numel " << got[i].numel
                        << ") element " << e << ": emulated kernel " << x << ", CPU " << y;
        }
      }
    }
  }
}

constexpr int64_t kTile = fa::kTile;

template <typename T>
std::vector<ParamBuffers<T>> make_params(const std::vector<int64_t>& sizes, uint32_t seed,
                                         const std::vector<int>& shifted = {}) {
  std::mt19937 rng(seed);
  std::vector<ParamBuffers<T>> ps;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    ps.emplace_back(sizes[i], static_cast<int64_t>(3 * i), shifted.empty() ? -1 : shifted[i], rng);
  return ps;
}

// Three steps of the emulated kernels against three of the CPU backend.
template <typename T>
void check_steps(const std::vector<int64_t>& sizes, const AdamHyper& h,
                 const std::vector<int>& shifted = {}, unsigned grid = 0) {
  SCOPED_TRACE(std::string(sizeof(T) == 4 ? "float32" : "float64") +
               (h.decoupled ? " AdamW" : " Adam") + (grid ? " grid " + std::to_string(grid) : ""));
  std::vector<ParamBuffers<T>> gpu = make_params<T>(sizes, 11, shifted);
  std::vector<ParamBuffers<T>> cpu = gpu;
  const float no_inf = 0.0f;
  const DType dt = sizeof(T) == 4 ? DType::Float32 : DType::Float64;
  for (int step = 0; step < 3; ++step) {
    std::vector<AdamParam> tg = table_of(gpu), tc = table_of(cpu);
    const float* flag = step == 1 ? &no_inf : nullptr;  // a clear flag runs the step
    emulated_adam_step<T>(tg.data(), static_cast<int>(tg.size()), h, flag, grid);
    cpu::cpu_backend().adam_step(tc.data(), static_cast<int>(tc.size()), dt, h, flag);
  }
  expect_same(gpu, cpu);
}

AdamHyper hyper(bool decoupled) {
  AdamHyper h;
  h.lr = 1e-2;  // big steps, so an element left out differs clearly
  h.weight_decay = 0.05;
  h.decoupled = decoupled;
  return h;
}

const std::vector<int64_t> kSizes = {0, 1, kTile - 1, kTile, kTile + 1, 3 * kTile + 5, 0, 2};

TEST(AdamKernelsEmulation, SizesAroundTheTileInOneLaunch) {
  for (bool decoupled : {false, true}) {
    check_steps<float>(kSizes, hyper(decoupled));
    check_steps<double>(kSizes, hyper(decoupled));
  }
}

TEST(AdamKernelsEmulation, AnUnalignedBufferTakesTheScalarPath) {
  // Parameter 3 (one full tile) has its gradient one element off a 16-byte boundary, parameter
  // 5 its exp_avg_sq: their full tiles must refuse the 16-byte path, which faults on a GPU (and
  // here trips UBSan's alignment check, which this program is built with).
  std::vector<int> shifted(kSizes.size(), -1);
  shifted[3] = 1;  // g
  shifted[5] = 3;  // v
  check_steps<float>(kSizes, hyper(false), shifted);
  check_steps<double>(kSizes, hyper(true), shifted);
}

TEST(AdamKernelsEmulation, AGridSmallerThanTheTilesStridesOverThem) {
  check_steps<float>(kSizes, hyper(true), {}, 1);
  check_steps<double>(kSizes, hyper(false), {}, 3);
}

TEST(AdamKernelsEmulation, MoreParametersThanOneTableTakeSeveralLaunches) {
  std::vector<int64_t> sizes(fa::kMaxParams + 5);
  for (std::size_t i = 0; i < sizes.size(); ++i)
    sizes[i] = static_cast<int64_t>(i % 4);  // many empty and tiny ones
  check_steps<float>(sizes, hyper(false), {}, 4);
}

TEST(AdamKernelsEmulation, AllParametersEmptyStillCountTheStep) {
  std::vector<ParamBuffers<float>> ps = make_params<float>({0, 0, 0}, 2);
  std::vector<AdamParam> t = table_of(ps);
  emulated_adam_step<float>(t.data(), 3, hyper(false), nullptr);
  EXPECT_EQ(ps[0].step, 1);
  EXPECT_EQ(ps[1].step, 4);
  EXPECT_EQ(ps[2].step, 7);
}

TEST(AdamKernelsEmulation, FoundInfSkipsTheWholeStep) {
  for (bool decoupled : {false, true}) {
    std::vector<ParamBuffers<float>> ps = make_params<float>(kSizes, 5);
    std::vector<ParamBuffers<float>> before = ps;
    std::vector<AdamParam> t = table_of(ps);
    const float inf_seen = 1.0f;
    emulated_adam_step<float>(t.data(), static_cast<int>(t.size()), hyper(decoupled), &inf_seen);
    expect_same(ps, before, /*exact=*/true);
    // And the CPU backend agrees that nothing happens.
    std::vector<AdamParam> tb = table_of(before);
    cpu::cpu_backend().adam_step(tb.data(), static_cast<int>(tb.size()), DType::Float32,
                                 hyper(decoupled), &inf_seen);
    expect_same(ps, before, /*exact=*/true);
  }
}

}  // namespace
}  // namespace loom::cuda
