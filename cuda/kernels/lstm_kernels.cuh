// cuda/kernels/lstm_kernels.cuh: the cell of the per-step LSTM recurrence (lstm.cu), forward and
// backward: one thread per (row, unit), calling tensor/kernels/lstm_pointwise.h, the very code
// the CPU's recurrence runs. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop, so tests/cuda/lstm_kernels_emulation_test.cpp runs these bodies on the CPU,
// in-place forms included. No pointer is __restrict__: the activations overwrite the
// pre-activations and dc is updated in place, each element by the one thread that read it.
//
// Leaves out: the launchers and their argument checks (lstm.cu).
#pragma once

#include <cstdint>

#include "cuda/kernels/kernel_types.h"
#include "cuda/kernels/launch.cuh"
#include "tensor/kernels/lstm_pointwise.h"

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // ComputeT<__half>
#endif

namespace loom::cuda::lstm_kernels {

// ---- kernels -----------------------------------------------------------------------------

// gates [B, 4H] pre-activations in, activations out; c_prev [B, H] in; c, tanh_c, h [B, H] out.
template <typename T>
__global__ void lstm_forward_kernel(T* gates, const T* c_prev, T* c, T* tanh_c, T* h, int64_t B,
                                    int64_t H) {
  for (int64_t t : grid_stride(B * H)) {
    const int64_t b = t / H, j = t % H;
    T* row = gates + b * 4 * H + j;  // gate i of unit j; gate k at row[k * H]
    kernels::lstm_pointwise_forward_at<T, ComputeT<T>>(row, H, c_prev + t, row, c + t, tanh_c + t,
                                                       h + t);
  }
}

// dh [B, H] in; dc [B, H] in (from t+1) and out (to t-1); act [B, 4H] in; d_pre [B, 4H] out
// (may alias act); c_prev, tanh_c [B, H] in.
template <typename T>
__global__ void lstm_backward_kernel(const T* dh, T* dc, const T* act, T* d_pre, const T* c_prev,
                                     const T* tanh_c, int64_t B, int64_t H) {
  for (int64_t t : grid_stride(B * H)) {
    const int64_t b = t / H, j = t % H;
    const int64_t g = b * 4 * H + j;  // gate i of unit j in the [B, 4H] buffers
    kernels::lstm_pointwise_backward_at<T, ComputeT<T>>(dh + t, dc + t, act + g, H, c_prev + t,
                                                        tanh_c + t, d_pre + g, dc + t);
  }
}

}  // namespace loom::cuda::lstm_kernels
