// tensor/cpu/gemm/tasks.cpp: the k blocks and the column runs.
//
// Units are A micro-panels first: an A micro-panel is packed by the unit that uses it, so more
// runs per micro-panel mean packing it again. Runs are added only when there are fewer A
// micro-panels than kTargetUnits (m < 8 mr: 80 rows for the AVX-512 kernels; the LSTM's 100
// rows make 10 micro-panels) and each unit keeps at least kMinUnitWork multiply-adds.
#include "tensor/cpu/gemm/tasks.h"

#include <algorithm>

#include "tensor/cpu/gemm/blocking.h"

namespace loom::cpu::gemm {
namespace {
int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
}  // namespace

int64_t k_block_depth(int64_t k, int64_t kc_max, int group) {
  if (k <= 0) return group;
  const int64_t blocks = ceil_div(k, kc_max);
  const int64_t depth = ceil_div(ceil_div(k, blocks), group) * group;
  return std::min(depth, kc_max / group * group);
}

int64_t column_runs(int64_t row_panels, int64_t col_panels, int64_t work) {
  if (row_panels >= kTargetUnits) return 1;
  const int64_t wanted = ceil_div(kTargetUnits, row_panels);
  const int64_t affordable = std::max<int64_t>(1, work / kMinUnitWork / row_panels);
  return std::max<int64_t>(1, std::min({wanted, affordable, col_panels}));
}

}  // namespace loom::cpu::gemm
