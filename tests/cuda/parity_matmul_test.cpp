// tests/cuda/parity_matmul_test.cpp: CPU-vs-CUDA parity of matmul: every transpose combination,
// batches (including one A broadcast over the batch with stride 0), padded leading dimensions,
// alpha/beta with and without reading C, k == 0, float64/32/16; then batched, broadcast and
// transposed matmuls through the frontend. Results are compared relative to
// |alpha| |A| |B| + |beta C| (the GEMM's own error scale), see parity_util.h.
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

struct Case {
  int64_t batch, m, n, k;
  bool trans_a, trans_b;
  int64_t pad;       // extra elements per stored row (leading dimension > minimum)
  bool broadcast_a;  // stride_a == 0
  double alpha, beta;
};

std::string describe(const Case& c) {
  return "batch " + std::to_string(c.batch) + " m " + std::to_string(c.m) + " n " +
         std::to_string(c.n) + " k " + std::to_string(c.k) + (c.trans_a ? " A^T" : "") +
         (c.trans_b ? " B^T" : "") + " pad " + std::to_string(c.pad) +
         (c.broadcast_a ? " broadcast A" : "") + " alpha " + std::to_string(c.alpha) + " beta " +
         std::to_string(c.beta);
}

void run_case(const Case& c, DType dt, Generator& gen) {
  SCOPED_TRACE(describe(c) + " " + dtype_name(dt));
  MatmulArgs p;
  p.batch = c.batch;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.trans_a = c.trans_a;
  p.trans_b = c.trans_b;
  p.alpha = c.alpha;
  p.beta = c.beta;
  // Stored shapes: A [m, k] or [k, m]; B [k, n] or [n, k]; C [m, n]; rows padded by `pad`.
  const int64_t ra = c.trans_a ? c.k : c.m, ca = c.trans_a ? c.m : c.k;
  const int64_t rb = c.trans_b ? c.n : c.k, cb = c.trans_b ? c.k : c.n;
  p.lda = ca + c.pad;
  p.ldb = cb + c.pad;
  p.ldc = c.n + c.pad;
  p.stride_a = c.broadcast_a ? 0 : ra * p.lda;
  p.stride_b = rb * p.ldb;
  p.stride_c = c.m * p.ldc;
  const int64_t na = (c.batch - 1) * p.stride_a + ra * p.lda;
  const int64_t nb = (c.batch - 1) * p.stride_b + rb * p.ldb;
  const int64_t nc = c.batch * p.stride_c;

  const Tensor A = random_tensor({na}, dt, gen, -1, 1), B = random_tensor({nb}, dt, gen, -1, 1);
  // beta == 0: C must not be read, so it starts as poison (NaN) on both devices.
  const Tensor C0 = c.beta == 0 ? poisoned({nc}, dt, kCPU) : random_tensor({nc}, dt, gen, -1, 1);
  Tensor ref = C0.clone(), got = C0.to(kCuda);
  const Tensor Ad = A.to(kCuda), Bd = B.to(kCuda);
  cpu_be().matmul(A.raw_data(), B.raw_data(), ref.raw_data(), dt, p);
  cuda_be().matmul(Ad.raw_data(), Bd.raw_data(), got.raw_data(), dt, p);

  // scale = |alpha| sum_p |A[r, p]| |B[p, col]| + |beta C0[r, col]| (padding: |beta C0| or 0).
  const std::vector<double> av = A.to_vector<double>(), bv = B.to_vector<double>();
  std::vector<double> scale(nc, 0.0);
  if (c.beta != 0) {
    const std::vector<double> cv = C0.to_vector<double>();
    for (int64_t i = 0; i < nc; ++i)
      scale[i] = std::fabs(c.beta * cv[i]);
  }
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t r = 0; r < c.m; ++r)
      for (int64_t col = 0; col < c.n; ++col) {
        double s = 0;
        for (int64_t q = 0; q < c.k; ++q) {
          const double a =
              c.trans_a ? av[b * p.stride_a + q * p.lda + r] : av[b * p.stride_a + r * p.lda + q];
          const double bb = c.trans_b ? bv[b * p.stride_b + col * p.ldb + q]
                                      : bv[b * p.stride_b + q * p.ldb + col];
          s += std::fabs(a * bb);
        }
        scale[b * p.stride_c + r * p.ldc + col] += std::fabs(c.alpha) * s;
      }
  EXPECT_TRUE(expect_close(ref, got, sum_tol_for(dt), from_vector<double>(scale, {nc})));
}

TEST(CudaParityMatmul, EveryTransposeBatchPaddingAndScaling) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        run_case({1, 17, 9, 33, ta, tb, 0, false, 1.0, 0.0}, dt, gen);
        run_case({3, 8, 21, 64, ta, tb, 3, false, 1.0, 0.0}, dt, gen);
        run_case({4, 5, 6, 7, ta, tb, 0, true, 1.0, 0.0}, dt, gen);       // A broadcast
        run_case({2, 16, 16, 40, ta, tb, 1, false, 0.5, -2.0}, dt, gen);  // reads C
        run_case({1, 1, 7, 5, ta, tb, 0, false, 1.0, 0.0}, dt, gen);      // one row
        run_case({2, 6, 1, 5, ta, tb, 2, false, 1.0, 1.0}, dt, gen);      // one column
        run_case({1, 64, 48, 300, ta, tb, 0, false, 1.0, 0.0}, dt, gen);
      }
    }
    // k == 0: C = beta * C (or zeros when beta == 0), like the CPU.
    run_case({2, 4, 5, 0, false, false, 1, false, 1.0, 0.0}, dt, gen);
    run_case({2, 4, 5, 0, true, true, 0, false, 1.0, 0.5}, dt, gen);
  }
}

TEST(CudaParityMatmul, IntegerMatmulIsAClearErrorOnCuda) {
  LOOM_PARITY_BEGIN();
  for (DType dt : {DType::Int32, DType::Int64, DType::Bool}) {
    const Tensor a = random_tensor({3, 4}, dt, gen, -5, 5).to(kCuda);
    const Tensor b = random_tensor({4, 2}, dt, gen, -5, 5).to(kCuda);
    const std::string msg = error_of([&] { matmul(a, b); });
    EXPECT_NE(msg.find("not supported"), std::string::npos) << msg;
  }
}

// The frontend maps views onto MatmulArgs (transposed operands read in place, stride-0 batch
// broadcast); the same expression on both devices must agree.
TEST(CudaParityMatmul, FrontendBatchedBroadcastAndTransposedMatmuls) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tol tol = sum_tol_for(dt);
    auto check = [&](const Tensor& a, const Tensor& b, const char* what) {
      SCOPED_TRACE(what);
      const Tensor scale = matmul(abs(a.to(DType::Float64)), abs(b.to(DType::Float64)));
      poison_cuda_cache(static_cast<std::size_t>(scale.numel()) * dtype_size(dt));
      EXPECT_TRUE(expect_close(matmul(a, b), matmul(a.to(kCuda), b.to(kCuda)), tol, scale));
      // Views made on the device (not copied from CPU views): the frontend sees device strides.
    };
    const Tensor x = random_tensor({7, 13}, dt, gen), y = random_tensor({13, 5}, dt, gen);
    const Tensor yt = random_tensor({5, 13}, dt, gen), xt = random_tensor({13, 7}, dt, gen);
    check(x, y, "plain");
    check(x, yt.t(), "B transposed");
    check(xt.t(), y, "A transposed");
    check(xt.t(), yt.t(), "both transposed");
    const Tensor batched = random_tensor({2, 3, 4, 6}, dt, gen), w = random_tensor({6, 5}, dt, gen);
    check(batched, w, "batched @ shared matrix");
    check(random_tensor({4, 6}, dt, gen), random_tensor({2, 6, 5}, dt, gen), "matrix @ batched");
    const Tensor q = random_tensor({3, 8, 16}, dt, gen), k = random_tensor({3, 10, 16}, dt, gen);
    check(q, k.transpose(-1, -2), "attention scores q k^T");
    check(random_tensor({2, 1, 5, 4}, dt, gen), random_tensor({3, 4, 2}, dt, gen),
          "broadcast batch dims");
    // Device-side views of device tensors.
    const Tensor kd = k.to(kCuda);
    const Tensor scale =
        matmul(abs(q.to(DType::Float64)), abs(k.to(DType::Float64)).transpose(-1, -2));
    EXPECT_TRUE(expect_close(matmul(q, k.transpose(-1, -2)),
                             matmul(q.to(kCuda), kd.transpose(-1, -2)), tol, scale));
  }
}

}  // namespace
