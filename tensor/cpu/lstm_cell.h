// tensor/cpu/lstm_cell.h: the LSTM cell over rows of H units on the CPU, shared by the training
// recurrence (tensor/cpu/lstm.cpp) and the inference path (tensor/cpu/lstm_inference.cpp).
//
// The math is tensor/kernels/lstm_pointwise.h's, one unit at a time; the loop over units is
// vectorised (both callers are compiled with -ffast-math, so GCC calls glibc's vector expf/tanhf
// from libmvec). A vector loop leaves H mod V units (V lanes of a 512-bit vector) to a scalar
// remainder, and glibc's scalar tanhf/expf there cost as much as the whole vector part at
// H = 100 (6 vectors and 4 scalar units; a profile of batch 1 showed it). So the remainders of
// all the rows are gathered into one zero-padded block and run as whole vectors
// (lstm_cell_rows).
// Leaves out: the backward cell (no transcendental functions: tensor/cpu/lstm.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/kernels/lstm_pointwise.h"

namespace loom::cpu {

// Units [0, n) of a row: gates (pre-activations, `stride` apart per gate) -> activations in
// place; c = f c_prev + i g, tanh_c, h. c may be c_prev (updated in place).
template <typename T>
void lstm_cell_units(T* gates, int64_t stride, const T* c_prev, T* c, T* tanh_c, T* h, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    kernels::lstm_pointwise_forward_at<T, T>(gates + j, stride, c_prev + j, gates + j, c + j,
                                             tanh_c + j, h + j);
  }
}

// Rows [0, rows) of H units: row b's gates [4H] at gates + b 4H (pre-activations in, activations
// out), its c_prev, c, tanh_c, h [H] at b H; c may be c_prev.
// Each row's first H - H mod V units run as whole vectors where they lie. The rows' last H mod V
// units (4 of 100) are gathered into one block, padded with zeros to whole vectors, and run as
// one more vector pass: a row's tail copied into a vector-wide block of its own was loaded back
// right after the narrow stores that wrote it, which the CPU cannot forward to a wide load; that
// stall was a third of the cell's time at H = 100 (perf annotate, batch 50 per thread). In one
// block for all the rows, a row's stores are long done when the pass reaches them. The padding
// lanes compute the cell of zeros and are dropped.
template <typename T>
void lstm_cell_rows(T* gates, int64_t rows, int64_t H, const T* c_prev, T* c, T* tanh_c, T* h) {
  constexpr int64_t V = 64 / sizeof(T);  // lanes of a 512-bit vector (two AVX2 ones)
  const int64_t body = H / V * V, tail = H - body;
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t o = b * H;
    lstm_cell_units<T>(gates + b * 4 * H, H, c_prev + o, c + o, tanh_c + o, h + o, body);
  }
  if (tail == 0 || rows == 0) return;
  // The block: 4 gates, c_prev, c, tanh_c, h; each `n` units, unit b * tail + j of row b.
  const int64_t n = (rows * tail + V - 1) / V * V;
  thread_local std::vector<T> block;
  block.assign(8 * n, T(0));
  T *g = block.data(), *cp = g + 4 * n, *cn = cp + n, *tc = cn + n, *hn = tc + n;
  for (int64_t b = 0; b < rows; ++b) {
    for (int q = 0; q < 4; ++q)
      std::copy_n(gates + b * 4 * H + q * H + body, tail, g + q * n + b * tail);
    std::copy_n(c_prev + b * H + body, tail, cp + b * tail);
  }
  lstm_cell_units<T>(g, n, cp, cn, tc, hn, n);
  for (int64_t b = 0; b < rows; ++b) {
    for (int q = 0; q < 4; ++q)
      std::copy_n(g + q * n + b * tail, tail, gates + b * 4 * H + q * H + body);
    std::copy_n(cn + b * tail, tail, c + b * H + body);
    std::copy_n(tc + b * tail, tail, tanh_c + b * H + body);
    std::copy_n(hn + b * tail, tail, h + b * H + body);
  }
}

}  // namespace loom::cpu
