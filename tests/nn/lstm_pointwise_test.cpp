// tests/nn/lstm_pointwise_test.cpp: the LSTM cell's pointwise math
// (tensor/kernels/lstm_pointwise.h).
//
// Forward against the textbook formula written out directly in double; backward against central
// differences in double of L = dh*h + dc_next*c (so dL/dh = dh and dL/dc = dc_next, the two
// gradients the backward receives); the strided wrappers against the scalar functions, with
// float, double and fp16 (Eigen::half) storage; and saturation at large |pre-activation|.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/kernels/lstm_pointwise.h"

using loom::kernels::lstm_pointwise_backward;
using loom::kernels::lstm_pointwise_backward_at;
using loom::kernels::lstm_pointwise_forward;
using loom::kernels::lstm_pointwise_forward_at;
using loom::kernels::LstmGates;

namespace {

double sig(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// The cell written the obvious way; the reference for the forward.
struct Direct {
  double i, f, g, o, c, tanh_c, h;
};
Direct direct(const std::array<double, 4>& pre, double c_prev) {
  Direct d{sig(pre[0]), sig(pre[1]), std::tanh(pre[2]), sig(pre[3]), 0, 0, 0};
  d.c = d.f * c_prev + d.i * d.g;
  d.tanh_c = std::tanh(d.c);
  d.h = d.o * d.tanh_c;
  return d;
}

// A random element: pre-activations in [-3, 3], c_prev in [-2, 2].
struct Case {
  std::array<double, 4> pre;
  double c_prev, dh, dc_next;
};
std::vector<Case> random_cases(int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> pre(-3, 3), c(-2, 2), up(-1, 1);
  std::vector<Case> cases;
  for (int k = 0; k < n; ++k) {
    cases.push_back({{pre(gen), pre(gen), pre(gen), pre(gen)}, c(gen), up(gen), up(gen)});
  }
  return cases;
}

LstmGates<double> gates(const std::array<double, 4>& a) {
  return {a[0], a[1], a[2], a[3]};
}

}  // namespace

TEST(LstmPointwise, ForwardMatchesTheDirectFormula) {
  for (const Case& k : random_cases(200, 1)) {
    const Direct want = direct(k.pre, k.c_prev);
    const auto got = lstm_pointwise_forward<double>(gates(k.pre), k.c_prev);
    EXPECT_NEAR(got.act.i, want.i, 1e-15);
    EXPECT_NEAR(got.act.f, want.f, 1e-15);
    EXPECT_NEAR(got.act.g, want.g, 1e-15);
    EXPECT_NEAR(got.act.o, want.o, 1e-15);
    EXPECT_NEAR(got.c, want.c, 1e-14);
    EXPECT_NEAR(got.tanh_c, want.tanh_c, 1e-15);
    EXPECT_NEAR(got.h, want.h, 1e-15);
    // float compute: within float rounding of the double result.
    const auto f = lstm_pointwise_forward<float>(
        {float(k.pre[0]), float(k.pre[1]), float(k.pre[2]), float(k.pre[3])}, float(k.c_prev));
    EXPECT_NEAR(f.c, want.c, 1e-6);
    EXPECT_NEAR(f.h, want.h, 1e-6);
  }
}

// Central differences of L = dh*h(pre, c_prev) + dc_next*c(pre, c_prev), in double.
TEST(LstmPointwise, BackwardMatchesCentralDifferences) {
  const double eps = 1e-6;
  for (const Case& k : random_cases(200, 2)) {
    const auto loss = [&](const std::array<double, 4>& pre, double c_prev) {
      const Direct d = direct(pre, c_prev);
      return k.dh * d.h + k.dc_next * d.c;
    };
    const auto fwd = lstm_pointwise_forward<double>(gates(k.pre), k.c_prev);
    const auto got =
        lstm_pointwise_backward<double>(k.dh, k.dc_next, fwd.act, k.c_prev, fwd.tanh_c);
    const double analytic[4] = {got.d_pre.i, got.d_pre.f, got.d_pre.g, got.d_pre.o};
    const char* names[4] = {"i", "f", "g", "o"};
    for (int q = 0; q < 4; ++q) {
      auto up = k.pre, down = k.pre;
      up[q] += eps;
      down[q] -= eps;
      const double numeric = (loss(up, k.c_prev) - loss(down, k.c_prev)) / (2 * eps);
      EXPECT_NEAR(analytic[q], numeric, 1e-8 + 1e-6 * std::abs(numeric))
          << "d pre_" << names[q] << " at pre=(" << k.pre[0] << ", " << k.pre[1] << ", " << k.pre[2]
          << ", " << k.pre[3] << ") c_prev=" << k.c_prev;
    }
    const double numeric_c =
        (loss(k.pre, k.c_prev + eps) - loss(k.pre, k.c_prev - eps)) / (2 * eps);
    EXPECT_NEAR(got.dc_prev, numeric_c, 1e-8 + 1e-6 * std::abs(numeric_c));
  }
}

// A row of H units laid out as the fused LSTM stores it ([4H] gates, gate k at k*H), with the
// activations written over the pre-activations and the gate gradients over the activations.
template <typename T, typename C>
void check_strided(double tol) {
  const std::int64_t H = 5;
  const auto cases = random_cases(static_cast<int>(H), 3);
  std::vector<T> gates_row(4 * H), c_prev(H), c(H), tanh_c(H), h(H), dh(H), dc_next(H), dc_prev(H);
  for (std::int64_t j = 0; j < H; ++j) {
    for (int q = 0; q < 4; ++q)
      gates_row[q * H + j] = static_cast<T>(cases[j].pre[q]);
    c_prev[j] = static_cast<T>(cases[j].c_prev);
    dh[j] = static_cast<T>(cases[j].dh);
    dc_next[j] = static_cast<T>(cases[j].dc_next);
  }
  const std::vector<T> pre = gates_row;
  for (std::int64_t j = 0; j < H; ++j) {
    lstm_pointwise_forward_at<T, C>(&gates_row[j], H, &c_prev[j], &gates_row[j], &c[j], &tanh_c[j],
                                    &h[j]);
  }
  const std::vector<T> act = gates_row;
  for (std::int64_t j = 0; j < H; ++j) {
    lstm_pointwise_backward_at<T, C>(&dh[j], &dc_next[j], &gates_row[j], H, &c_prev[j], &tanh_c[j],
                                     &gates_row[j], &dc_prev[j]);
  }
  for (std::int64_t j = 0; j < H; ++j) {
    // Reference: the double scalar functions on the same (storage-rounded) inputs.
    const std::array<double, 4> p = {double(pre[j]), double(pre[H + j]), double(pre[2 * H + j]),
                                     double(pre[3 * H + j])};
    const auto f = lstm_pointwise_forward<double>(gates(p), double(c_prev[j]));
    const auto b = lstm_pointwise_backward<double>(double(dh[j]), double(dc_next[j]), f.act,
                                                   double(c_prev[j]), f.tanh_c);
    EXPECT_NEAR(double(act[j]), f.act.i, tol);
    EXPECT_NEAR(double(act[H + j]), f.act.f, tol);
    EXPECT_NEAR(double(act[2 * H + j]), f.act.g, tol);
    EXPECT_NEAR(double(act[3 * H + j]), f.act.o, tol);
    EXPECT_NEAR(double(c[j]), f.c, tol * 4);
    EXPECT_NEAR(double(tanh_c[j]), f.tanh_c, tol);
    EXPECT_NEAR(double(h[j]), f.h, tol);
    EXPECT_NEAR(double(gates_row[j]), b.d_pre.i, tol);
    EXPECT_NEAR(double(gates_row[H + j]), b.d_pre.f, tol);
    EXPECT_NEAR(double(gates_row[2 * H + j]), b.d_pre.g, tol);
    EXPECT_NEAR(double(gates_row[3 * H + j]), b.d_pre.o, tol);
    EXPECT_NEAR(double(dc_prev[j]), b.dc_prev, tol * 4);
  }
}

TEST(LstmPointwise, StridedWrappersMatchScalarMath) {
  check_strided<double, double>(1e-15);
  check_strided<float, float>(2e-6);
  check_strided<float, double>(1e-6);
  // fp16 storage, float compute: each stored value is rounded to half (relative 2^-11, and
  // |values| < 4 here), so the bound is a few half ulps at magnitude 4.
  check_strided<Eigen::half, float>(4e-3);
}

TEST(LstmPointwise, SaturatesWithoutNaNAtLargePreActivations) {
  for (float big : {30.0f, 100.0f, 1e4f}) {
    for (float s : {-1.0f, 1.0f}) {
      const float x = s * big;
      const auto r = lstm_pointwise_forward<float>({x, x, x, x}, 1.0f);
      for (float v : {r.act.i, r.act.f, r.act.g, r.act.o, r.c, r.tanh_c, r.h}) {
        EXPECT_TRUE(std::isfinite(v)) << "pre " << x;
      }
      EXPECT_NEAR(r.act.i, s > 0 ? 1.0f : 0.0f, 1e-12);
      EXPECT_NEAR(r.act.g, s, 1e-12);
      const auto b = lstm_pointwise_backward<float>(1.0f, 1.0f, r.act, 1.0f, r.tanh_c);
      for (float v : {b.d_pre.i, b.d_pre.f, b.d_pre.g, b.d_pre.o, b.dc_prev}) {
        EXPECT_TRUE(std::isfinite(v)) << "pre " << x;
      }
    }
  }
}
