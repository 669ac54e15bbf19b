// cuda/kernels/lstm_persistent_kernels.cuh: the persistent launch strategy of the LSTM recurrence
// (lstm_persistent.cu): one kernel for a layer's whole forward recurrence, one for its backward,
// each block owning a few batch rows for all T steps with W_hh in shared memory. Also here, as
// plain C++: the shared-memory size, the "does it fit" rule and the launch plan (rows per block).
// Internal to cuda/ and tests/cuda/. The design: docs/labs/08-cuda.md, section 5b.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond threadIdx,
// blockIdx, blockDim, __syncthreads and shared memory, so
// tests/cuda/lstm_persistent_emulation_test.cpp runs these bodies on the CPU (a std::thread per
// CUDA thread, a barrier for __syncthreads).
//
// Leaves out: the launchers (lstm_persistent.cu).
#pragma once

#include <cstdint>

#include "cuda/kernels/launch.cuh"
#include "tensor/kernels/lstm_pointwise.h"

namespace loom::cuda::lstm_persistent_kernels {

constexpr int kMaxRowsPerBlock = 4;  // BB in {1, 2, 4}: see "Occupancy" in lstm_persistent.cu

// Shared memory of one block, in elements: the backward kernel's W [4H][H] + das [bb][4H] +
// part [4][bb][H], the larger of the two; the forward kernel (Wt, hs [bb][H], gs [bb][4H]) uses
// only 4H*H + 5*bb*H of it. Both launches get this size, so one opt-in serves both.
constexpr int64_t smem_elems(int64_t H, int bb) {
  return 4 * H * H + 8 * bb * H;
}

// Whether hidden size H fits one block: 4H threads at most kMaxBlockSize, and the shared memory
// of one row per block (elements of `elem_size` bytes) within the device's opt-in limit.
constexpr bool fits_block(int64_t H, int64_t elem_size, int64_t smem_optin) {
  return H >= 1 && 4 * H <= kMaxBlockSize && smem_elems(H, 1) * elem_size <= smem_optin;
}

// A launch: bb rows per block, `threads` per block, `blocks` blocks, dynamic shared memory.
struct Plan {
  int bb = 1;
  int threads = 0;
  int64_t smem_bytes = 0;
  int64_t blocks = 0;
};

// The launch for B rows of H units (H fits_block) on a device with `sms` SMs (see "Occupancy" in
// lstm_persistent.cu): the smallest bb in {1, 2, 4} whose ceil(B / bb) blocks fit one wave of
// one block per SM (and whose shared memory fits); 4 when none does.
inline Plan plan_launch(int64_t B, int64_t H, int64_t elem_size, int sms, int64_t smem_optin) {
  Plan p;
  while (p.bb < kMaxRowsPerBlock && ceil_div(B, p.bb) > sms &&
         smem_elems(H, 2 * p.bb) * elem_size <= smem_optin)
    p.bb *= 2;
  p.threads = static_cast<int>(ceil_div(4 * H, kWarpSize) * kWarpSize);
  p.smem_bytes = smem_elems(H, p.bb) * elem_size;
  p.blocks = ceil_div(B, p.bb);
  return p;
}

// ---- kernels -----------------------------------------------------------------------------

// W_hh [4H, H] -> shared memory, once per launch: as stored, or transposed ([H][4H]). Coalesced
// global reads, unrolled so many are in flight; the transposed writes conflict on banks, but once
// per launch, not per step.
template <bool kTransposed, typename T>
__device__ __forceinline__ void load_w_hh(T* dst, const T* __restrict__ w_hh, int G, int H, int tid,
                                          int nthreads) {
#pragma unroll 8
  for (int i = tid; i < G * H; i += nthreads)
    dst[kTransposed ? (i % H) * G + i / H : i] = w_hh[i];
}

// The four gates of one (row, unit) at to[0], to[H], to[2H], to[3H] (the [.., 4H] layout).
template <typename T>
__device__ __forceinline__ void store_gates(T* to, int H, const kernels::LstmGates<T>& g) {
  to[0] = g.i;
  to[H] = g.f;
  to[2 * H] = g.g;
  to[3 * H] = g.o;
}

// One block: rows [b0, b0 + nb) of the batch, nb = min(BB, B - b0); blockDim.x >= 4H.
// xproj [T, B, 4H] in; w_hh [4H, H] in; h0, c0 [B, H] in; act [T, B, 4H] out (may alias
// xproj); c, tanh_c, h [T, B, H] out; h_n, c_n [B, H] out or null.
template <typename T, int BB>
__global__ void __launch_bounds__(kMaxBlockSize)
    lstm_persistent_forward_kernel(const T* xproj, const T* __restrict__ w_hh,
                                   const T* __restrict__ h0, const T* __restrict__ c0, T* act, T* c,
                                   T* tanh_c, T* h, T* h_n, T* c_n, bool reverse, int steps, int B,
                                   int H) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int G = 4 * H, tid = threadIdx.x, nthreads = blockDim.x;
  const int64_t b0 = static_cast<int64_t>(blockIdx.x) * BB;
  const int nb = static_cast<int>(B - b0 < BB ? B - b0 : BB);
  T* Wt = reinterpret_cast<T*>(smem_raw);    // [H][4H]
  T* hs = Wt + static_cast<int64_t>(G) * H;  // [BB][H]
  T* gs = hs + BB * H;                       // [BB][4H]

  load_w_hh</*kTransposed=*/true>(Wt, w_hh, G, H, tid, nthreads);
  // h0 -> hs; the rows of a partial last block stay zero (computed, never stored).
  for (int e = tid; e < BB * H; e += nthreads)
    hs[e] = e / H < nb ? h0[(b0 + e / H) * H + e % H] : T(0);
  const bool owns = tid < nb * H;  // this thread's pointwise element: (row tid / H, unit tid % H)
  const int my_b = tid / H, my_j = tid % H;
  T c_reg = owns ? c0[(b0 + my_b) * H + my_j] : T(0);  // c of this element, carried in a register
  const bool has_row = tid < G;                        // this thread's gate row r = tid
  T x_next[BB] = {};  // xproj of this gate row for the next step (prefetched)
  if (has_row) {
    const int64_t t0 = reverse ? steps - 1 : 0;
#pragma unroll
    for (int bb = 0; bb < BB; ++bb)
      x_next[bb] = bb < nb ? xproj[(t0 * B + b0 + bb) * G + tid] : T(0);
  }
  __syncthreads();

  for (int step = 0; step < steps; ++step) {
    const int64_t t = reverse ? steps - 1 - step : step;
    // 1. gs = xproj[t] + h_{t-1} W_hh^T for the block's rows.
    if (has_row) {
      T acc[BB];
#pragma unroll
      for (int bb = 0; bb < BB; ++bb)
        acc[bb] = x_next[bb];
      if (step + 1 < steps) {  // issue the next step's loads now; used one step later
        const int64_t tn = reverse ? t - 1 : t + 1;
#pragma unroll
        for (int bb = 0; bb < BB; ++bb)
          x_next[bb] = bb < nb ? xproj[(tn * B + b0 + bb) * G + tid] : T(0);
      }
#pragma unroll 4
      for (int k = 0; k < H; ++k) {
        const T w = Wt[k * G + tid];
#pragma unroll
        for (int bb = 0; bb < BB; ++bb)
          acc[bb] += hs[bb * H + k] * w;
      }
#pragma unroll
      for (int bb = 0; bb < BB; ++bb)
        gs[bb * G + tid] = acc[bb];
    }
    __syncthreads();  // gs complete; every read of hs for this step done
    // 2. the cell update, one element per thread.
    if (owns) {
      const T* g = gs + my_b * G + my_j;
      const kernels::LstmForwardResult<T> r =
          kernels::lstm_pointwise_forward<T>({g[0], g[H], g[2 * H], g[3 * H]}, c_reg);
      const int64_t row = t * B + b0 + my_b;  // row of the [T*B, ...] buffers
      store_gates(act + row * G + my_j, H, r.act);
      c[row * H + my_j] = r.c;
      tanh_c[row * H + my_j] = r.tanh_c;
      h[row * H + my_j] = r.h;
      c_reg = r.c;
      hs[tid] = r.h;  // tid == my_b * H + my_j
    }
    __syncthreads();  // hs holds h_t before the next matvec
  }
  if (owns) {
    if (h_n) h_n[(b0 + my_b) * H + my_j] = hs[tid];
    if (c_n) c_n[(b0 + my_b) * H + my_j] = c_reg;
  }
}

// What the backward pointwise step of one element reads from global memory (prefetched one step
// ahead into registers).
template <typename T>
struct SavedStep {
  T a[4];  // activated gates i, f, g, o
  T c_prev, tanh_c, dh;
};

// Loads step `s` (in forward step order; time t) of element (b, j). c_prev is c0 at step 0.
template <typename T>
__device__ __forceinline__ SavedStep<T> load_step(const T* dh, const T* act, const T* c,
                                                  const T* c0, const T* tanh_c, bool reverse,
                                                  int steps, int s, int64_t B, int H, int64_t b,
                                                  int j) {
  const int64_t t = reverse ? steps - 1 - s : s;
  const int64_t row = t * B + b;
  SavedStep<T> v;
  const T* a = act + row * 4 * H + j;
  v.a[0] = a[0];
  v.a[1] = a[H];
  v.a[2] = a[2 * H];
  v.a[3] = a[3 * H];
  const int64_t t_prev = reverse ? t + 1 : t - 1;
  v.c_prev = s == 0 ? c0[b * H + j] : c[(t_prev * B + b) * H + j];
  v.tanh_c = tanh_c[row * H + j];
  v.dh = dh[row * H + j];
  return v;
}

// dh [T, B, H] in; dh_n, dc_n [B, H] in or null; w_hh [4H, H]; act [T, B, 4H], c, tanh_c
// [T, B, H], c0 [B, H] in (saved by forward); dgates [T, B, 4H] out (may alias act); dh0, dc0
// [B, H] out or null. Same block/row ownership as the forward kernel.
template <typename T, int BB>
__global__ void __launch_bounds__(kMaxBlockSize)
    lstm_persistent_backward_kernel(const T* __restrict__ dh, const T* __restrict__ dh_n,
                                    const T* __restrict__ dc_n, const T* __restrict__ w_hh,
                                    const T* act, const T* __restrict__ c, const T* __restrict__ c0,
                                    const T* __restrict__ tanh_c, T* dgates, T* dh0, T* dc0,
                                    bool reverse, int steps, int B, int H) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int G = 4 * H, tid = threadIdx.x, nthreads = blockDim.x;
  const int64_t b0 = static_cast<int64_t>(blockIdx.x) * BB;
  const int nb = static_cast<int>(B - b0 < BB ? B - b0 : BB);
  T* W = reinterpret_cast<T*>(smem_raw);     // [4H][H]
  T* das = W + static_cast<int64_t>(G) * H;  // [BB][4H]
  T* part = das + BB * G;                    // [4][BB][H]: part[(q * BB + b) * H + j]

  load_w_hh</*kTransposed=*/false>(W, w_hh, G, H, tid, nthreads);
  for (int e = tid; e < BB * G; e += nthreads)
    das[e] = T(0);  // rows of a partial last block stay zero
  for (int e = tid; e < 4 * BB * H; e += nthreads)
    part[e] = T(0);  // no da_{t+1} W_hh before the last step
  const bool owns = tid < nb * H;
  const int my_b = tid / H, my_j = tid % H;
  const int64_t b = b0 + my_b;
  T dc_reg = owns && dc_n ? dc_n[b * H + my_j] : T(0);  // dL/dc carried back, in a register
  SavedStep<T> cur{};
  if (owns) {
    cur = load_step(dh, act, c, c0, tanh_c, reverse, steps, steps - 1, B, H, b, my_j);
    if (dh_n) cur.dh += dh_n[b * H + my_j];  // h_n is the last step's h
  }
  const bool has_col = tid < G;  // matvec: gate block q = tid / H, column j = tid % H
  const int q = tid / H, col = tid % H;
  __syncthreads();

  for (int s = steps - 1; s >= 0; --s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    // 1. the cell backward, one element per thread.
    if (owns) {
      const T* p = part + my_b * H + my_j;
      const T dh_t = cur.dh + p[0] + p[BB * H] + p[2 * BB * H] + p[3 * BB * H];
      const kernels::LstmBackwardResult<T> r = kernels::lstm_pointwise_backward<T>(
          dh_t, dc_reg, {cur.a[0], cur.a[1], cur.a[2], cur.a[3]}, cur.c_prev, cur.tanh_c);
      store_gates(dgates + (t * B + b) * G + my_j, H, r.d_pre);
      store_gates(das + my_b * G + my_j, H, r.d_pre);
      dc_reg = r.dc_prev;
      // The next step's saved values, loaded while the matvec runs.
      if (s > 0) cur = load_step(dh, act, c, c0, tanh_c, reverse, steps, s - 1, B, H, b, my_j);
    }
    __syncthreads();  // das complete; every read of part for this step done
    // 2. part[q][b][col] = sum over gate rows r of block q of das[b][r] * W[r][col].
    if (has_col) {
      T acc[BB];
#pragma unroll
      for (int bb = 0; bb < BB; ++bb)
        acc[bb] = T(0);
      const T* w = W + static_cast<int64_t>(q) * H * H + col;  // W[q*H + k][col] at w[k * H]
      const T* da = das + q * H;
#pragma unroll 4
      for (int k = 0; k < H; ++k) {
        const T wk = w[k * H];
#pragma unroll
        for (int bb = 0; bb < BB; ++bb)
          acc[bb] += da[bb * G + k] * wk;
      }
#pragma unroll
      for (int bb = 0; bb < BB; ++bb)
        part[(q * BB + bb) * H + col] = acc[bb];
    }
    __syncthreads();  // part holds da_t W_hh before the next step reads it
  }
  if (owns) {
    const T* p = part + my_b * H + my_j;  // da_first W_hh: the gradient of h0
    if (dh0) dh0[b * H + my_j] = ((p[0] + p[BB * H]) + p[2 * BB * H]) + p[3 * BB * H];
    if (dc0) dc0[b * H + my_j] = dc_reg;
  }
}

}  // namespace loom::cuda::lstm_persistent_kernels
