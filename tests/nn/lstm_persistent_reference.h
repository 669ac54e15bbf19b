// tests/nn/lstm_persistent_reference.h: a plain reference for the persistent LSTM's backend
// contract (tensor/backend.h, lstm_persistent_forward/backward), shared by the CPU twin's test
// (tests/nn/lstm_persistent_test.cpp) and the CPU emulation of the CUDA kernels
// (tests/cuda/lstm_persistent_emulation_test.cpp).
//
// Row by row, step by step, in double: a naive matvec for the gates and the per-element math of
// tensor/kernels/lstm_pointwise.h for the cell, forward then backward. Random inputs in the
// ranges the model trains in (W_hh in PyTorch's init range 1/sqrt(H)).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/kernels/lstm_pointwise.h"

namespace loom::nn::testing {

struct Sizes {
  int64_t T, B, H;
};

// Everything one forward + backward call pair reads and writes, as double vectors.
struct Buffers {
  std::vector<double> xproj, w, h0, c0;           // forward inputs
  std::vector<double> act, c, tanh_c, h, hn, cn;  // forward outputs
  std::vector<double> dh, dh_n, dc_n;             // backward inputs
  std::vector<double> dgates, dh0, dc0;           // backward outputs
};

inline std::vector<double> random_vec(int64_t n, double lo, double hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (double& x : v)
    x = u(rng);
  return v;
}

inline Buffers random_inputs(const Sizes& s, uint32_t seed) {
  std::mt19937 rng(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.H));  // PyTorch's init range
  Buffers b;
  b.xproj = random_vec(s.T * s.B * 4 * s.H, -2, 2, rng);
  b.w = random_vec(4 * s.H * s.H, -bound, bound, rng);
  b.h0 = random_vec(s.B * s.H, -1, 1, rng);
  b.c0 = random_vec(s.B * s.H, -1, 1, rng);
  b.dh = random_vec(s.T * s.B * s.H, -1, 1, rng);
  b.dh_n = random_vec(s.B * s.H, -1, 1, rng);
  b.dc_n = random_vec(s.B * s.H, -1, 1, rng);
  return b;
}

// Fills b's outputs from its inputs (dh_n, dc_n are always added: zero them for "null").
inline void reference(const Sizes& s, bool reverse, Buffers& b) {
  const int64_t T = s.T, B = s.B, H = s.H, G = 4 * H;
  b.act.assign(T * B * G, 0), b.c.assign(T * B * H, 0), b.tanh_c.assign(T * B * H, 0);
  b.h.assign(T * B * H, 0), b.hn.assign(B * H, 0), b.cn.assign(B * H, 0);
  b.dgates.assign(T * B * G, 0), b.dh0.assign(B * H, 0), b.dc0.assign(B * H, 0);
  auto time = [&](int64_t step) { return reverse ? T - 1 - step : step; };
  for (int64_t r = 0; r < B; ++r) {
    std::vector<double> h(b.h0.begin() + r * H, b.h0.begin() + (r + 1) * H);
    std::vector<double> c(b.c0.begin() + r * H, b.c0.begin() + (r + 1) * H), pre(G);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = time(step), row = t * B + r;
      for (int64_t g = 0; g < G; ++g) {
        pre[g] = b.xproj[row * G + g];
        for (int64_t k = 0; k < H; ++k)
          pre[g] += h[k] * b.w[g * H + k];
      }
      for (int64_t j = 0; j < H; ++j) {
        const auto f = loom::kernels::lstm_pointwise_forward<double>(
            {pre[j], pre[H + j], pre[2 * H + j], pre[3 * H + j]}, c[j]);
        double* a = &b.act[row * G + j];
        a[0] = f.act.i, a[H] = f.act.f, a[2 * H] = f.act.g, a[3 * H] = f.act.o;
        b.c[row * H + j] = c[j] = f.c;
        b.tanh_c[row * H + j] = f.tanh_c;
        b.h[row * H + j] = h[j] = f.h;
      }
    }
    std::copy(h.begin(), h.end(), b.hn.begin() + r * H);
    std::copy(c.begin(), c.end(), b.cn.begin() + r * H);
    // backward, last step first
    std::vector<double> dc(b.dc_n.begin() + r * H, b.dc_n.begin() + (r + 1) * H), rec(H, 0.0);
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = time(step), row = t * B + r;
      const int64_t prev_row = (reverse ? t + 1 : t - 1) * B + r;
      for (int64_t j = 0; j < H; ++j) {
        double dh = b.dh[row * H + j] + rec[j];
        if (step == T - 1) dh += b.dh_n[r * H + j];
        const double* a = &b.act[row * G + j];
        const double c_prev = step == 0 ? b.c0[r * H + j] : b.c[prev_row * H + j];
        const auto d = loom::kernels::lstm_pointwise_backward<double>(
            dh, dc[j], {a[0], a[H], a[2 * H], a[3 * H]}, c_prev, b.tanh_c[row * H + j]);
        double* dg = &b.dgates[row * G + j];
        dg[0] = d.d_pre.i, dg[H] = d.d_pre.f, dg[2 * H] = d.d_pre.g, dg[3 * H] = d.d_pre.o;
        dc[j] = d.dc_prev;
      }
      for (int64_t k = 0; k < H; ++k) {  // rec = da_t W_hh: dL/dh_{t-1} through the gates
        rec[k] = 0;
        for (int64_t g = 0; g < G; ++g)
          rec[k] += b.dgates[row * G + g] * b.w[g * H + k];
      }
    }
    std::copy(rec.begin(), rec.end(), b.dh0.begin() + r * H);
    std::copy(dc.begin(), dc.end(), b.dc0.begin() + r * H);
  }
}

}  // namespace loom::nn::testing
