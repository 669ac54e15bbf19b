// tensor/cpu/matmul_span.h: how many elements of a buffer one GEMM operand reads.
//
// The float16 GEMMs on the CPU widen their operands to float before calling Eigen, so they must
// know how far each operand reaches: `batch` matrices `stride` apart, each `rows` rows of `ld`
// elements of which the last row is read only up to its `cols` stored columns. Not rows * ld:
// an operand can be a window of a wider matrix (a slice of columns) that ends exactly at the
// buffer's last element, and reading whole rows would run past it.
#pragma once

#include <cstdint>

namespace loom::cpu {

inline int64_t matmul_operand_span(int64_t batch, int64_t stride, int64_t rows, int64_t cols,
                                   int64_t ld) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

}  // namespace loom::cpu
