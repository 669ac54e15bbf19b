// tests/cuda/index_kernels_emulation_test.cpp: the kernels of cuda/kernels/index_kernels.cuh run on
// the CPU under emulation (tests/cuda/cuda_emulation.h) with their launcher's arguments, against
// the CPU backend's index_select and index_add (the embedding forward and backward), every build.
//
// Checks: the bounds check reports the SMALLEST bad position, found by threads of different
// blocks; index_select with repeated rows for 1-, 2-, 4- and 8-byte words, a bad row left
// unwritten; the atomic index_add with duplicate indices (integer-valued floats: any order gives
// the CPU's sum); the deterministic segment kernel, fed with the sort / run-length encoding /
// scan CUB would compute (here on the host), bit for bit on arbitrary floats; iota. float16 in a
// CUDA build (the emulated atomicAdd on __half rounds as sm_70+'s). Outputs start as 0xFF bytes.
//
// Cannot check: CUB's sort, encode and scan, the hardware atomics, the launcher's read-back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/kernels/index_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_buffers.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::dtype_of;

using emu_test::expect_bytes_equal;
using emu_test::from_double;
using emu_test::kIsFloating;
using emu_test::kIsHalf;
using emu_test::launcher_grid;
using emu_test::PoisonedBuffer;
namespace ik = index_kernels;

constexpr unsigned long long kNone = ~0ull;  // ErrorSlot's "nothing reported"

// K indices in [0, rows), with repeats (rows < K).
std::vector<int64_t> random_index(int64_t K, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  std::vector<int64_t> index(static_cast<std::size_t>(K));
  for (int64_t& i : index)
    i = pick(rng);
  return index;
}

// ---- the bounds check ------------------------------------------------------------------

unsigned long long run_check(const std::vector<int64_t>& index, int64_t rows, unsigned grid) {
  unsigned long long slot = kNone;
  const auto K = static_cast<int64_t>(index.size());
  emu::emulate_launch({grid > 0 ? grid : launcher_grid(K)}, {kDefaultBlockSize},
                      ik::check_index_kernel, index.data(), K, rows, &slot);
  return slot;
}

TEST(IndexKernelsEmulation, CheckReportsTheSmallestBadPosition) {
  std::vector<int64_t> index = random_index(700, 9, 1);  // 3 blocks of 256 threads
  for (unsigned grid : {0u, 1u}) {
    EXPECT_EQ(run_check(index, 9, grid), kNone) << "good indices reported";
    std::vector<int64_t> bad = index;
    bad[650] = 9;  // == rows, in the last block
    EXPECT_EQ(run_check(bad, 9, grid), 650u);
    bad[300] = int64_t{1} << 40;  // huge
    bad[511] = -1;                // negative
    EXPECT_EQ(run_check(bad, 9, grid), 300u);
    bad[0] = -5;
    EXPECT_EQ(run_check(bad, 9, grid), 0u);
  }
}

// ---- index_select ----------------------------------------------------------------------

template <typename W>
void check_select(int64_t outer, int64_t rows, int64_t inner, const std::vector<int64_t>& index,
                  unsigned grid) {
  const auto K = static_cast<int64_t>(index.size());
  SCOPED_TRACE(std::to_string(sizeof(W)) + "-byte words, [" + std::to_string(outer) + ", " +
               std::to_string(rows) + ", " + std::to_string(inner) + "] K " + std::to_string(K) +
               " grid " + std::to_string(grid));
  PoisonedBuffer<W> src(outer * rows * inner), got(outer * K * inner), want(outer * K * inner);
  for (int64_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<W>(sizeof(W) == 1 ? i % 2 : i * 131 + 7);
  const DType dt = sizeof(W) == 1   ? DType::Bool
                   : sizeof(W) == 2 ? DType::Float16
                   : sizeof(W) == 4 ? DType::Int32
                                    : DType::Int64;
  backend_for(kCPU).index_select(src.data(), index.data(), want.data(), dt, outer, rows, inner, K);
  const int64_t work = outer * K * inner;
  if (work > 0) {
    emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(work)}, {kDefaultBlockSize},
                               ik::index_select_kernel<W>, static_cast<const W*>(src.data()),
                               index.data(), got.data(), outer, rows, inner, K);
  }
  expect_bytes_equal(got.data(), want.data(), work, "index_select");
  EXPECT_TRUE(got.guard_intact());
}

TEST(IndexKernelsEmulation, SelectGathersRowsWithRepeats) {
  const std::vector<int64_t> emb = random_index(37, 11, 2);
  for (unsigned grid : {0u, 1u}) {
    check_select<uint32_t>(1, 11, 16, emb, grid);  // an embedding: [rows, dim]
    check_select<uint64_t>(3, 11, 7, emb, grid);
    check_select<uint8_t>(2, 11, 1, emb, grid);   // inner 1: one element per index
    check_select<uint16_t>(2, 11, 9, emb, grid);  // float16's word
    check_select<uint32_t>(1, 11, 16, {4}, grid);
    check_select<uint32_t>(2, 11, 0, emb, grid);  // empty rows: nothing to do
  }
}

TEST(IndexKernelsEmulation, SelectSkipsABadRowInsteadOfReadingIt) {
  // The launcher throws after the check; the kernel alone must still not read out of bounds.
  // The source has real rows past `rows` (what an unchecked index 4 or 5 would read).
  const int64_t inner = 5, rows = 4;
  const std::vector<int64_t> index = {1, 4, 3, -1, 0, 5};
  PoisonedBuffer<uint32_t> src((rows + 2) * inner), out(6 * inner);
  for (int64_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<uint32_t>(i);
  emu::emulate_launch({1}, {kDefaultBlockSize}, ik::index_select_kernel<uint32_t>,
                      static_cast<const uint32_t*>(src.data()), index.data(), out.data(),
                      int64_t{1}, rows, inner, int64_t{6});
  for (int64_t k = 0; k < 6; ++k) {
    for (int64_t i = 0; i < inner; ++i) {
      const bool bad = index[k] < 0 || index[k] >= rows;
      EXPECT_EQ(out[k * inner + i], bad ? 0xFFFFFFFFu : src[index[k] * inner + i])
          << "k " << k << " i " << i;
    }
  }
}

// ---- index_add -------------------------------------------------------------------------

// dst, src values: integer-valued (exact in any order) or arbitrary fractions. float16's
// integers are in [-4, 4], so ~100 of them and their partial sums stay below 2048, where every
// integer is a half (exact in any order there too).
template <typename T>
std::vector<T> values(int64_t n, bool integer_valued, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-4.0, 4.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  const double scale = kIsHalf<T> ? 1 : 8;
  for (T& x : v) {
    const double r = u(rng);
    x = from_double<T>(integer_valued || !kIsFloating<T> ? std::round(r * scale) : r);
  }
  return v;
}

// The atomic kernel (fast path), a std::thread per CUDA thread.
template <typename T>
void check_add_atomic(int64_t outer, int64_t rows, int64_t inner, const std::vector<int64_t>& index,
                      unsigned grid, bool integer_valued = true) {
  const auto K = static_cast<int64_t>(index.size());
  SCOPED_TRACE(std::string("atomic ") + dtype_name(dtype_of<T>()) + " [" + std::to_string(outer) +
               ", " + std::to_string(rows) + ", " + std::to_string(inner) + "] K " +
               std::to_string(K) + " grid " + std::to_string(grid));
  PoisonedBuffer<T> src(outer * K * inner), got(outer * rows * inner), want(outer * rows * inner);
  src.assign(values<T>(src.size(), integer_valued, 3));
  got.assign(values<T>(got.size(), integer_valued, 4));
  want.assign(values<T>(want.size(), integer_valued, 4));
  backend_for(kCPU).index_add(want.data(), index.data(), src.data(), dtype_of<T>(), outer, rows,
                              inner, K);
  const int64_t work = outer * K * inner;
  emu::emulate_launch({grid > 0 ? grid : launcher_grid(work)}, {kDefaultBlockSize},
                      ik::index_add_atomic_kernel<T>, got.data(), index.data(),
                      static_cast<const T*>(src.data()), outer, rows, inner, K);
  expect_bytes_equal(got.data(), want.data(), got.size(), "index_add (atomic)");
  EXPECT_TRUE(got.guard_intact());
}

TEST(IndexKernelsEmulation, AtomicAddSumsDuplicateIndices) {
  // 300 indices into 3 rows: ~100 threads add into each destination element at once.
  const std::vector<int64_t> many = random_index(300, 3, 5);
  const std::vector<int64_t> emb = random_index(40, 13, 6);
  for (unsigned grid : {0u, 1u}) {
    check_add_atomic<float>(1, 3, 1, many, grid);
    check_add_atomic<double>(2, 13, 5, emb, grid);
    check_add_atomic<int32_t>(1, 3, 2, many, grid);
    check_add_atomic<int64_t>(3, 13, 4, emb, grid);
  }
}

// What CUB computes on the GPU for the deterministic path: the (index, position) pairs sorted
// stably by index, the run-length encoding of the sorted indices (unique rows, counts, their
// number) and the exclusive scan of the counts. Arrays have K entries, as the launcher's; the
// encoder leaves entries past the number of runs unwritten (poison here) except the counts,
// which the launcher zeroes.
struct Segments {
  std::vector<int64_t> sorted_positions, unique_rows;
  std::vector<int> seg_start, seg_count;
  int num = 0;
};

Segments segments_of(const std::vector<int64_t>& index) {
  const auto K = index.size();
  Segments s;
  s.sorted_positions.resize(K);
  std::iota(s.sorted_positions.begin(), s.sorted_positions.end(), int64_t{0});
  std::stable_sort(s.sorted_positions.begin(), s.sorted_positions.end(),
                   [&](int64_t a, int64_t b) { return index[a] < index[b]; });
  s.unique_rows.assign(K, -1);  // poison past the runs
  s.seg_count.assign(K, 0);
  for (std::size_t p = 0; p < K; ++p) {
    const int64_t key = index[s.sorted_positions[p]];
    if (s.num == 0 || s.unique_rows[s.num - 1] != key) s.unique_rows[s.num++] = key;
    ++s.seg_count[s.num - 1];
  }
  s.seg_start.assign(K, 0);
  for (std::size_t i = 1; i < K; ++i)
    s.seg_start[i] = s.seg_start[i - 1] + s.seg_count[i - 1];
  return s;
}

// The deterministic kernel: must equal the CPU's loop bit for bit, whatever the values.
template <typename T>
void check_add_segments(int64_t outer, int64_t rows, int64_t inner,
                        const std::vector<int64_t>& index, unsigned grid) {
  const auto K = static_cast<int64_t>(index.size());
  SCOPED_TRACE(std::string("segments ") + dtype_name(dtype_of<T>()) + " [" + std::to_string(outer) +
               ", " + std::to_string(rows) + ", " + std::to_string(inner) + "] K " +
               std::to_string(K) + " grid " + std::to_string(grid));
  PoisonedBuffer<T> src(outer * K * inner), got(outer * rows * inner), want(outer * rows * inner);
  src.assign(values<T>(src.size(), false, 7));
  got.assign(values<T>(got.size(), false, 8));
  want.assign(values<T>(want.size(), false, 8));
  backend_for(kCPU).index_add(want.data(), index.data(), src.data(), dtype_of<T>(), outer, rows,
                              inner, K);
  const Segments s = segments_of(index);
  const int64_t work = outer * K * inner;
  emu::emulate_launch_serial(
      {grid > 0 ? grid : launcher_grid(work)}, {kDefaultBlockSize},
      ik::index_add_segments_kernel<T>, got.data(), static_cast<const T*>(src.data()),
      s.unique_rows.data(), s.seg_start.data(), s.seg_count.data(), static_cast<const int*>(&s.num),
      s.sorted_positions.data(), outer, rows, inner, K);
  expect_bytes_equal(got.data(), want.data(), got.size(), "index_add (deterministic)");
  EXPECT_TRUE(got.guard_intact());
}

TEST(IndexKernelsEmulation, Float16AtomicAdd) {
#if LOOM_EMU_HALF
  // atomicAdd on __half (sm_70+; emulated: the float sum rounded to nearest even).
  // Duplicates with integer values (exact in any order), bit for bit.
  const std::vector<int64_t> many = random_index(300, 3, 5);
  const std::vector<int64_t> emb = random_index(40, 13, 6);
  // Every row once (a permutation): one rounded addition per element, so arbitrary fractions
  // must give the CPU's bits too. With duplicates they would depend on the atomics' order.
  std::vector<int64_t> perm(13);
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::shuffle(perm.begin(), perm.end(), std::mt19937(11));
  for (unsigned grid : {0u, 1u}) {
    check_add_atomic<__half>(1, 3, 1, many, grid);
    check_add_atomic<__half>(2, 13, 5, emb, grid);
    check_add_atomic<__half>(3, 13, 7, perm, grid, /*integer_valued=*/false);
  }
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(IndexKernelsEmulation, SegmentAddEqualsTheCpuLoopBitForBit) {
  const std::vector<int64_t> many = random_index(300, 3, 9);
  const std::vector<int64_t> emb = random_index(40, 13, 10);  // some rows never picked
  const std::vector<int64_t> one = {12};
  for (unsigned grid : {0u, 1u}) {
    check_add_segments<float>(1, 3, 1, many, grid);
    check_add_segments<float>(1, 13, 16, emb, grid);  // the embedding backward
    check_add_segments<double>(2, 13, 5, emb, grid);
    check_add_segments<int32_t>(1, 3, 2, many, grid);
    check_add_segments<int64_t>(3, 13, 1, emb, grid);
    check_add_segments<float>(2, 13, 3, one, grid);
  }
}

TEST(IndexKernelsEmulation, Float16SegmentAddRoundsAfterEveryAdditionAsTheCpu) {
#if LOOM_EMU_HALF
  // add_rounded<__half>: float sum, rounded to half after every addition, in position order —
  // the CPU's loop; arbitrary fractions, ~100 additions into each element: bit for bit.
  const std::vector<int64_t> many = random_index(300, 3, 9);
  const std::vector<int64_t> emb = random_index(40, 13, 10);
  for (unsigned grid : {0u, 1u}) {
    check_add_segments<__half>(1, 3, 1, many, grid);
    check_add_segments<__half>(1, 13, 16, emb, grid);  // the embedding backward in float16
    check_add_segments<__half>(2, 13, 3, {12}, grid);
  }
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

TEST(IndexKernelsEmulation, IotaWritesPositions) {
  for (int64_t K : {1, 255, 256, 700}) {
    for (unsigned grid : {0u, 1u}) {
      PoisonedBuffer<int64_t> pos(K);
      emu::emulate_launch_serial({grid > 0 ? grid : launcher_grid(K)}, {kDefaultBlockSize},
                                 ik::iota_kernel, pos.data(), K);
      for (int64_t k = 0; k < K; ++k)
        ASSERT_EQ(pos[k], k) << "K " << K << " grid " << grid;
      EXPECT_TRUE(pos.guard_intact());
    }
  }
}

}  // namespace
}  // namespace loom::cuda
