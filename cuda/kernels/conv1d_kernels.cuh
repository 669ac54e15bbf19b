// cuda/kernels/conv1d_kernels.cuh: the kernels of conv1d.cu: im2col, col2im and the direct loop,
// one thread per output element. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, so tests/cuda/conv1d_kernels_emulation_test.cpp runs these bodies on the CPU
// against the CPU backend. Indexing is Conv1dShape's (tensor/fused_kernels.h); col2im gathers
// (each dx element sums its K sources, k ascending, as the CPU does) instead of scattering with
// atomics, so it is deterministic and matches the CPU bit for bit.
//
// Leaves out: shared-memory tiling of the direct loop (it is the reference, not the fast path).
#pragma once

#include <cstdint>

#include "cuda/kernels/launch.cuh"
#include "tensor/fused_kernels.h"

namespace loom::cuda::conv1d_kernels {

// cols [B, T_out, C*K]: element i = ((b * T_out + t) * C + c) * K + k  <-  x[b, t + k - P, c].
template <typename T>
__global__ void im2col_kernel(const T* __restrict__ x, T* __restrict__ cols, Conv1dShape s) {
  const int64_t To = s.T + 2 * s.P - s.K + 1;
  for (int64_t i : grid_stride(s.B * To * s.C * s.K)) {
    const int64_t k = i % s.K, c = (i / s.K) % s.C, t = (i / (s.K * s.C)) % To,
                  b = i / (s.K * s.C * To);
    const int64_t src = t + k - s.P;
    cols[i] = (src >= 0 && src < s.T) ? x[(b * s.T + src) * s.C + c] : T(0);
  }
}

// dx [B, T, C]: element i = (b * T + j) * C + c  =  sum over k of cols[b, j - k + P, c*K + k].
template <typename T>
__global__ void col2im_kernel(const T* __restrict__ cols, T* __restrict__ dx, Conv1dShape s) {
  const int64_t To = s.T + 2 * s.P - s.K + 1, CK = s.C * s.K;
  for (int64_t i : grid_stride(s.B * s.T * s.C)) {
    const int64_t c = i % s.C, j = (i / s.C) % s.T, b = i / (s.C * s.T);
    T acc = T(0);
    for (int64_t k = 0; k < s.K; ++k) {
      const int64_t t = j - k + s.P;
      if (t >= 0 && t < To) acc += cols[(b * To + t) * CK + c * s.K + k];
    }
    dx[i] = acc;
  }
}

// y [B, T_out, O]: element i = (b * T_out + t) * O + o  =  bias[o] + sum over c, k of
// x[b, t + k - P, c] w[o, c, k] (c outer, k inner: the CPU's order).
template <typename T>
__global__ void direct_kernel(const T* __restrict__ x, const T* __restrict__ w,
                              const T* __restrict__ bias, T* __restrict__ y, Conv1dShape s,
                              int64_t O) {
  const int64_t To = s.T + 2 * s.P - s.K + 1;
  for (int64_t i : grid_stride(s.B * To * O)) {
    const int64_t o = i % O, t = (i / O) % To, b = i / (O * To);
    T acc = bias ? bias[o] : T(0);
    for (int64_t c = 0; c < s.C; ++c) {
      for (int64_t k = 0; k < s.K; ++k) {
        const int64_t src = t + k - s.P;
        if (src >= 0 && src < s.T) acc += x[(b * s.T + src) * s.C + c] * w[(o * s.C + c) * s.K + k];
      }
    }
    y[i] = acc;
  }
}

}  // namespace loom::cuda::conv1d_kernels
