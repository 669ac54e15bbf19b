// tests/cuda/loss_scale_kernels_emulation_test.cpp: the dynamic loss scaler's kernels of
// cuda/kernels/loss_scale_kernels.cuh (unscale_and_check_kernel, update_scale_kernel), run on the
// CPU under emulation (tests/cuda/cuda_emulation.h) with the launcher's table, grid and block,
// against the CPU backend's amp_unscale_and_check / amp_update_scale (tensor/cpu/loss_scale.cpp).
//
// Checks: the tile walk over many buffers (sizes 0, 1, tile +- 1, several tiles); the flag
// raised through __syncthreads_or by whichever block meets an inf or NaN, and left unwritten
// otherwise; a grid smaller than the tiles; chunks of 64 buffers; the one-thread state machine
// (growth, back-off, both collapse reasons, stickiness, float32's top) step by step. Exact: one
// multiply per element and the same statements as the CPU's, so bit for bit (NaN as NaN).
// float16 (CUDA builds): the __half instantiation likewise; 65504 is finite, 65520 (inf once
// stored as a half) raises the flag; subnormal results.
//
// Cannot check: CUDA's isfinite, the device's half conversions, blocks storing the flag at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/loss_scale_kernels.cuh"
#include "tensor/cpu/backend.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::dtype_of;

// CudaBackend::amp_unscale_and_check (cuda/kernels/loss_scale.cu) with its launches emulated:
// chunks of kMaxBuffers, each on the launcher's grid (or `grid` blocks when > 0).
template <typename T>
void emulated_unscale(std::vector<std::vector<T>>& bufs, float inv_scale, float* found_inf,
                      unsigned grid = 0) {
  std::vector<void*> grads;
  std::vector<int64_t> counts;
  for (std::vector<T>& b : bufs) {
    grads.push_back(b.data());
    counts.push_back(static_cast<int64_t>(b.size()));
  }
  const int num = static_cast<int>(bufs.size());
  for (int first = 0; first < num; first += loss_scale_kernels::kMaxBuffers) {
    const int n = std::min(loss_scale_kernels::kMaxBuffers, num - first);
    loss_scale_kernels::UnscaleTable<T> table{};
    loss_scale_kernels::fill_table(table, grads.data(), counts.data(), first, n);
    const int64_t tiles = table.tiles.tiles();
    if (tiles == 0) continue;
    // launch_for(tiles * kBlock, kBlock, ...)'s block count.
    const auto blocks = static_cast<unsigned>(
        blocks_for(tiles * loss_scale_kernels::kBlock, loss_scale_kernels::kBlock, "amp_unscale"));
    emu::emulate_launch(emu::Dim3{grid > 0 ? grid : blocks}, emu::Dim3{loss_scale_kernels::kBlock},
                        loss_scale_kernels::unscale_and_check_kernel<T>, table, &inv_scale,
                        found_inf);
  }
}

template <typename T>
void cpu_unscale(std::vector<std::vector<T>>& bufs, float inv_scale, float* found_inf) {
  std::vector<void*> grads;
  std::vector<int64_t> counts;
  for (std::vector<T>& b : bufs) {
    grads.push_back(b.data());
    counts.push_back(static_cast<int64_t>(b.size()));
  }
  cpu::cpu_backend().amp_unscale_and_check(grads.data(), counts.data(),
                                           static_cast<int>(bufs.size()), dtype_of<T>(), &inv_scale,
                                           found_inf);
}

template <typename T>
bool same_bits_or_nan(T a, T b) {
  return (emu_test::is_nan(a) && emu_test::is_nan(b)) || std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Buffers of `sizes` random values times 4096; bad[i] = {buffer, element, value} planted.
struct Plant {
  std::size_t buffer;
  int64_t element;
  double value;
};
template <typename T>
std::vector<std::vector<T>> make_grads(const std::vector<int64_t>& sizes,
                                       const std::vector<Plant>& plants, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 4096.0);
  std::vector<std::vector<T>> bufs;
  for (int64_t n : sizes) {
    bufs.emplace_back(static_cast<std::size_t>(n));
    for (T& x : bufs.back())
      x = emu_test::from_double<T>(normal(rng));
  }
  for (const Plant& p : plants)
    bufs.at(p.buffer).at(static_cast<std::size_t>(p.element)) = emu_test::from_double<T>(p.value);
  return bufs;
}

// The emulated kernel and the CPU on the same gradients: every element and the flag equal.
template <typename T>
void check_unscale(const std::vector<int64_t>& sizes, const std::vector<Plant>& plants,
                   float inv_scale, unsigned grid = 0) {
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + ", " + std::to_string(plants.size()) +
               " planted, inv_scale " + std::to_string(inv_scale) +
               (grid ? ", grid " + std::to_string(grid) : ""));
  std::vector<std::vector<T>> gpu = make_grads<T>(sizes, plants, 9), cpu = gpu;
  float flag_gpu = 0.5f, flag_cpu = 0.5f;  // "not written" must leave 0.5
  emulated_unscale(gpu, inv_scale, &flag_gpu, grid);
  cpu_unscale(cpu, inv_scale, &flag_cpu);
  EXPECT_EQ(flag_gpu, flag_cpu);
  // Raised iff some planted value is inf or NaN once stored as T (65520 is inf as a half).
  const bool overflow = std::any_of(plants.begin(), plants.end(), [](const Plant& p) {
    return !std::isfinite(emu_test::to_double(emu_test::from_double<T>(p.value)));
  });
  EXPECT_EQ(flag_cpu, overflow ? 1.0f : 0.5f);
  for (std::size_t i = 0; i < gpu.size(); ++i) {
    int bad = 0;
    for (std::size_t e = 0; e < gpu[i].size() && bad < 3; ++e) {
      if (!same_bits_or_nan(gpu[i][e], cpu[i][e])) {
        ++bad;
        ADD_FAILURE() << "buffer " << i << " element " << e << ": emulated kernel "
                      << emu_test::to_double(gpu[i][e]) << ", CPU "
                      << emu_test::to_double(cpu[i][e]);
      }
    }
  }
}

constexpr int64_t kTile = loss_scale_kernels::kTile;
const std::vector<int64_t> kSizes = {0, 1, kTile - 1, kTile, kTile + 1, 3 * kTile + 5, 0, 2};

TEST(LossScaleKernelsEmulation, UnscaleCleanGradientsLeavesTheFlagAlone) {
  check_unscale<float>(kSizes, {}, 1.0f / 4096);
  check_unscale<double>(kSizes, {}, 1.0f / 4096);
  check_unscale<float>(kSizes, {}, 1.0f / 3000);  // not a power of two: rounded products
  check_unscale<double>(kSizes, {}, 1.0f / 3000, 2);
}

TEST(LossScaleKernelsEmulation, AnyInfOrNanRaisesTheFlag) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // In the last element of a buffer's last, partial tile; deep in a later tile; the first
  // element of all; each alone, then together.
  const std::vector<Plant> plants = {{4, kTile, inf}, {5, 2 * kTile + 17, -inf}, {1, 0, nan}};
  for (const Plant& p : plants) {
    check_unscale<float>(kSizes, {p}, 1.0f / 1024);
    check_unscale<double>(kSizes, {p}, 1.0f / 1024);
    check_unscale<float>(kSizes, {p}, 1.0f / 1024, 1);  // one block walks every tile
  }
  check_unscale<float>(kSizes, plants, 1.0f / 1024, 3);
}

TEST(LossScaleKernelsEmulation, MoreBuffersThanOneTableTakeSeveralLaunches) {
  std::vector<int64_t> sizes(loss_scale_kernels::kMaxBuffers + 7);
  for (std::size_t i = 0; i < sizes.size(); ++i)
    sizes[i] = static_cast<int64_t>(i % 3);  // buffer kMaxBuffers + 4 has 2
  check_unscale<float>(sizes, {}, 0.25f, 4);
  // The overflow is in the second launch's buffers only.
  check_unscale<float>(sizes, {{loss_scale_kernels::kMaxBuffers + 4, 1, std::nan("")}}, 0.25f, 4);
}

TEST(LossScaleKernelsEmulation, Float16GradientsUnscaleAndCheckAsTheCpu) {
#if LOOM_EMU_HALF
  // unscale_and_check_kernel<__half>: each gradient widened to float, checked with isfinite
  // BEFORE the multiply, multiplied by inv_scale in float and rounded once to half — the CPU's
  // loop, so bit for bit (NaN as NaN). 1/3000: rounded products; 1/4096: exact ones, many of
  // them subnormal halves (|g| < 0.25 -> below 2^-14 after unscaling).
  check_unscale<__half>(kSizes, {}, 1.0f / 4096);
  check_unscale<__half>(kSizes, {}, 1.0f / 3000);
  check_unscale<__half>(kSizes, {}, 1.0f / 3000, 2);
  const double inf = std::numeric_limits<double>::infinity();
  // float16's own overflow: 65504 is finite (not flagged), 65520 rounds to inf (flagged).
  check_unscale<__half>(kSizes, {{3, 7, 65504.0}, {5, 100, -65504.0}}, 1.0f / 1024);
  const std::vector<Plant> plants = {
      {4, kTile, inf}, {5, 2 * kTile + 17, -inf}, {1, 0, std::nan("")}, {7, 1, 65520.0}};
  for (const Plant& p : plants) {
    check_unscale<__half>(kSizes, {p}, 1.0f / 1024);
    check_unscale<__half>(kSizes, {p}, 1.0f / 1024, 1);
  }
  check_unscale<__half>(kSizes, plants, 1.0f / 1024, 3);
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

// ---- the state machine ----------------------------------------------------------------------

struct ScalerState {
  float scale;
  int64_t counters[kAmpNumCounters] = {};
};

// One update through the emulated <<<1, 1>>> kernel and one through the CPU; equal after each.
void expect_same_update(ScalerState& gpu, ScalerState& cpu, bool overflow, const AmpScaleUpdate& a,
                        int step) {
  const float flag = overflow ? 1.0f : 0.0f;
  emu::emulate_launch(emu::Dim3{1}, emu::Dim3{1}, loss_scale_kernels::update_scale_kernel,
                      &gpu.scale, static_cast<int64_t*>(gpu.counters), &flag, a);
  cpu::cpu_backend().amp_update_scale(&cpu.scale, cpu.counters, &flag, a);
  ASSERT_TRUE(same_bits_or_nan(gpu.scale, cpu.scale))
      << "step " << step << ": scale " << gpu.scale << " vs CPU " << cpu.scale;
  for (int c = 0; c < kAmpNumCounters; ++c)
    ASSERT_EQ(gpu.counters[c], cpu.counters[c]) << "step " << step << ": counter " << c;
}

TEST(LossScaleKernelsEmulation, UpdateScaleStepByStepAsTheCpu) {
  AmpScaleUpdate a;
  a.growth_interval = 3;
  a.max_consecutive_skips = 3;
  a.min_scale = 1.0;
  // Growth after 3 clean steps, back-off, a clean step resets the skip run, then 3 overflows in
  // a row collapse (reason 2), which stays.
  const bool pattern[] = {false, false, false, false, true, false, true, true, true, false, true};
  ScalerState gpu{1024.0f}, cpu{1024.0f};
  for (int s = 0; s < static_cast<int>(std::size(pattern)); ++s)
    expect_same_update(gpu, cpu, pattern[s], a, s);
  EXPECT_EQ(cpu.counters[kAmpCollapsed], 2);
  // Backing off below min_scale collapses with reason 1.
  ScalerState g1{1.5f}, c1{1.5f};
  expect_same_update(g1, c1, true, a, 0);
  EXPECT_EQ(c1.counters[kAmpCollapsed], 1);
  // At float32's top the scale stays put instead of becoming inf; an odd factor rounds.
  a.growth_interval = 1;
  a.growth_factor = 3.0;
  ScalerState g2{std::numeric_limits<float>::max() / 2}, c2 = g2;
  for (int s = 0; s < 3; ++s)
    expect_same_update(g2, c2, false, a, s);
  EXPECT_TRUE(std::isfinite(c2.scale));
}

}  // namespace
}  // namespace loom::cuda
