// tests/cuda/device_batches_kernels_emulation_test.cpp: ResidentDataset's gather kernel
// (cuda/device_batches_kernels.cuh) run on the CPU under emulation (tests/cuda/cuda_emulation.h),
// against a plain loop — in every build.
//
// What this checks: out_tokens [rows, T] = tokens[order[r], :] and out_labels [rows] =
// labels[order[r]] for a batch taken from the middle of the order (the launcher passes
// order + k * batch_size), with repeated rows, a last batch shorter than the others, on the
// launcher's grid and on one block that must loop over all rows * T tokens; every output element
// is written (the outputs start poisoned) and nothing past `rows` is.
//
// What it cannot check: the launcher itself (device tensors, the stream, the capture refusal) and
// the pinned staging of DeviceBatchQueue: tests/cuda/device_batches_test.cpp, on a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/device_batches_kernels.cuh"

namespace loom::cuda {
namespace {

// Gathers batch k (rows order[k * batch .. k * batch + rows)) of a dataset of N rows of T tokens
// with the emulated kernel on `grid` blocks (0: the launcher's launch_for(rows * T, 256)).
void check_gather(int64_t N, int64_t T, const std::vector<int64_t>& order, int64_t batch, int64_t k,
                  unsigned grid) {
  const int64_t rows = std::min<int64_t>(batch, static_cast<int64_t>(order.size()) - k * batch);
  SCOPED_TRACE("N " + std::to_string(N) + " T " + std::to_string(T) + " batch " +
               std::to_string(k) + " (" + std::to_string(rows) + " rows) grid " +
               std::to_string(grid));
  std::vector<int32_t> tokens(static_cast<std::size_t>(N * T));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<int32_t>(1000 + i);
  std::vector<float> labels(static_cast<std::size_t>(N));
  for (int64_t r = 0; r < N; ++r)
    labels[r] = 0.5f + static_cast<float>(r);
  // One spare row past `rows` in each output: it must stay poisoned.
  std::vector<int32_t> out_tokens(static_cast<std::size_t>((rows + 1) * T), -1);
  std::vector<float> out_labels(static_cast<std::size_t>(rows + 1), NAN);
  const unsigned blocks =
      grid > 0 ? grid : static_cast<unsigned>(blocks_for(rows * T, kDefaultBlockSize, "gather"));
  emu::emulate_launch(emu::Dim3{blocks}, emu::Dim3{kDefaultBlockSize}, resident::gather_rows_kernel,
                      static_cast<const int32_t*>(tokens.data()),
                      static_cast<const float*>(labels.data()), order.data() + k * batch, rows, T,
                      out_tokens.data(), out_labels.data());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t src = order[k * batch + r];
    EXPECT_EQ(out_labels[r], labels[src]) << "label of row " << r;
    for (int64_t c = 0; c < T; ++c)
      ASSERT_EQ(out_tokens[r * T + c], tokens[src * T + c]) << "row " << r << " token " << c;
  }
  EXPECT_TRUE(std::isnan(out_labels[rows])) << "a label past the batch was written";
  for (int64_t c = 0; c < T; ++c)
    ASSERT_EQ(out_tokens[rows * T + c], -1) << "a token past the batch was written";
}

TEST(DeviceBatchesKernelsEmulation, GatherRowsOfABatch) {
  const std::vector<int64_t> order = {6, 0, 3, 3, 1, 5, 2, 4, 0, 6, 1};  // 11 rows, N = 7
  for (unsigned grid : {0u, 1u}) {
    check_gather(7, 40, order, 4, 0, grid);  // 160 tokens
    check_gather(7, 40, order, 4, 1, grid);
    check_gather(7, 40, order, 4, 2, grid);  // the last batch: 3 rows
    check_gather(7, 1, order, 11, 0, grid);  // T = 1: every thread moves a label
    check_gather(7, 90, order, 9, 0, grid);  // 810 tokens: one block loops 4 times
  }
}

}  // namespace
}  // namespace loom::cuda
