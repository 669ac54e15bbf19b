// tensor/cpu/lstm_cell.h: the LSTM cell over one row of H units on the CPU, shared by the training
// recurrence (tensor/cpu/lstm.cpp) and the inference path (tensor/cpu/lstm_inference.cpp).
//
// The math is tensor/kernels/lstm_pointwise.h's, one unit at a time; the loop over units is
// vectorised (both callers are compiled with -ffast-math, so GCC calls glibc's vector expf/tanhf
// from libmvec). A vector loop leaves H mod V units (V lanes of a 512-bit vector) to a scalar
// remainder, and glibc's scalar tanhf/expf there cost as much as the whole vector part at
// H = 100 (6 vectors and 4 scalar units; a profile of batch 1 showed it). So the remainder is
// copied into a zero-padded block V wide and run as one full vector pass; the padding lanes
// compute the cell of zeros and are dropped.
// Leaves out: the backward cell (no transcendental functions: tensor/cpu/lstm.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

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

// One row of H units: gates [4H] (pre-activations in, activations out), c_prev [H] -> c, tanh_c,
// h [H]; c may be c_prev.
template <typename T>
void lstm_cell_row(T* gates, int64_t H, const T* c_prev, T* c, T* tanh_c, T* h) {
  constexpr int64_t V = 64 / sizeof(T);  // lanes of a 512-bit vector (two AVX2 ones)
  const int64_t body = H / V * V, tail = H - body;
  lstm_cell_units<T>(gates, H, c_prev, c, tanh_c, h, body);
  if (tail == 0) return;
  alignas(64) T g[4 * V] = {}, cp[V] = {}, cn[V], tc[V], hn[V];  // the tail, padded
  for (int q = 0; q < 4; ++q)
    std::copy_n(gates + q * H + body, tail, g + q * V);
  std::copy_n(c_prev + body, tail, cp);
  lstm_cell_units<T>(g, V, cp, cn, tc, hn, V);
  for (int q = 0; q < 4; ++q)
    std::copy_n(g + q * V, tail, gates + q * H + body);
  std::copy_n(cn, tail, c + body);
  std::copy_n(tc, tail, tanh_c + body);
  std::copy_n(hn, tail, h + body);
}

}  // namespace loom::cpu
