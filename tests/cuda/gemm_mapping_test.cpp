// tests/cuda/gemm_mapping_test.cpp: cuda/kernels/matmul.cu's cuBLAS arguments
// (cuda/kernels/gemm_mapping.h: loom's row-major MatmulArgs as cuBLAS's column-major problem),
// checked on the CPU in every build. The mapped arguments run on tests/cuda/cublas_reference.h
// (cuBLAS's documented strided-batched GEMM, its argument checks, a bounds check on every element)
// against the CPU backend's matmul:
//   - every transpose, padded leading dimensions, batch strides with gaps and stride 0, alpha and
//     beta, beta == 0 with a NaN C; m, n, k = 1 and single-column operands with a small ld;
//   - what cuBLAS would refuse (an ld too small, a size past INT_MAX) is a loom::Error;
//   - every GEMM an LSTM + Linear model issues, forward and backward, on a stand-in cuda device
//     (tests/cuda/shadow_backend.h: cuda/kernels/lstm.cu's per-step GEMMs, call for call), one
//     by one and as a training step against the same model on the CPU.
// Tolerance: the one-by-one checks use float64 small integers, so every sum is exact in any order:
// EXACT (==). The model uses random float64 values summed in another order: 1e-12 relative.
// Cannot check: cuBLAS itself, float16's GemmEx (same mapping, other rounding), the k == 0 kernel
// of matmul.cu; those need a GPU (parity_matmul_test.cpp, parity_loss_scale_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "cuda/kernels/gemm_mapping.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "tensor/backend.h"
#include "tensor/cpu/matmul_span.h"
#include "tests/cuda/cublas_reference.h"
#include "tests/cuda/shadow_backend.h"

namespace loom::test {
namespace {

using cuda::GemmOp;

std::string describe(const MatmulArgs& p) {
  std::ostringstream s;
  s << "batch " << p.batch << " m " << p.m << " n " << p.n << " k " << p.k << " trans_a "
    << p.trans_a << " trans_b " << p.trans_b << " lda " << p.lda << " ldb " << p.ldb << " ldc "
    << p.ldc << " stride_a " << p.stride_a << " stride_b " << p.stride_b << " stride_c "
    << p.stride_c << " alpha " << p.alpha << " beta " << p.beta;
  return s.str();
}

// Runs `p` on integer-valued float64 data twice — the CPU backend's matmul, and the mapped
// arguments on the cuBLAS reference — and expects the same C, element for element, over the
// whole buffer (so padding and gaps must be left alone by both). beta == 0: C starts as NaN.
void expect_mapping_exact(const MatmulArgs& p, uint32_t seed = 1) {
  SCOPED_TRACE(describe(p));
  using cpu::matmul_operand_span;
  const int64_t na =
      matmul_operand_span(p.batch, p.stride_a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k, p.lda);
  const int64_t nb =
      matmul_operand_span(p.batch, p.stride_b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n, p.ldb);
  const int64_t nc = matmul_operand_span(p.batch, p.stride_c, p.m, p.n, p.ldc);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> digit(-4, 4);
  std::vector<double> a(na), b(nb), c(nc);
  for (double& x : a)
    x = digit(rng);
  for (double& x : b)
    x = digit(rng);
  for (double& x : c)
    x = p.beta == 0 ? std::numeric_limits<double>::quiet_NaN() : digit(rng);
  std::vector<double> c_cpu = c, c_ref = c;
  backend_for(kCPU).matmul(a.data(), b.data(), c_cpu.data(), DType::Float64, p);
  const GemmOutcome r = run_mapped<double>(p, a.data(), na, b.data(), nb, c_ref.data(), nc);
  ASSERT_TRUE(r.ok) << r.error;
  int mismatches = 0;
  for (int64_t i = 0; i < nc && mismatches < 5; ++i) {
    const bool same = c_cpu[i] == c_ref[i] || (std::isnan(c_cpu[i]) && std::isnan(c_ref[i]));
    if (!same) {
      ++mismatches;
      ADD_FAILURE() << "C[" << i << "]: CPU " << c_cpu[i] << ", mapped cuBLAS reference "
                    << c_ref[i];
    }
  }
  // Every element of every C window was written (NaN would mean: not computed).
  for (int64_t bi = 0; bi < p.batch; ++bi)
    for (int64_t r0 = 0; r0 < p.m; ++r0)
      for (int64_t col = 0; col < p.n; ++col)
        ASSERT_FALSE(std::isnan(c_ref[bi * p.stride_c + r0 * p.ldc + col]))
            << "C[" << bi << ", " << r0 << ", " << col << "] not written";
}

// Dense MatmulArgs for [batch] x ([m, k] @ [k, n]) with the given transposes, each row padded
// by `pad` elements and each batch matrix followed by `gap` elements.
MatmulArgs dense(int64_t batch, int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t pad,
                 int64_t gap) {
  MatmulArgs p;
  p.batch = batch, p.m = m, p.n = n, p.k = k;
  p.trans_a = ta, p.trans_b = tb;
  p.lda = (ta ? m : k) + pad;
  p.ldb = (tb ? k : n) + pad;
  p.ldc = n + pad;
  p.stride_a = (ta ? k : m) * p.lda + gap;
  p.stride_b = (tb ? n : k) * p.ldb + gap;
  p.stride_c = m * p.ldc + gap;
  return p;
}

// ---- the reference itself ---------------------------------------------------------------

TEST(CublasReference, ComputesTheColumnMajorProductOfTheDocumentation) {
  // A = [1 2; 3 4] (column-major {1, 3, 2, 4}), B = [5 6; 7 8] ({5, 7, 6, 8}).
  const std::vector<double> A = {1, 3, 2, 4}, B = {5, 7, 6, 8};
  std::vector<double> C(4, -1);
  auto run = [&](GemmOp oa, GemmOp ob, double beta) {
    return reference_gemm_strided_batched<double>(oa, ob, 2, 2, 2, 1.0, {A.data(), 4}, 2, 0,
                                                  {B.data(), 4}, 2, 0, beta, {C.data(), 4}, 2, 0,
                                                  1);
  };
  ASSERT_TRUE(run(GemmOp::N, GemmOp::N, 0).ok);
  EXPECT_EQ(C, (std::vector<double>{19, 43, 22, 50}));  // A B = [19 22; 43 50]
  ASSERT_TRUE(run(GemmOp::T, GemmOp::N, 0).ok);
  EXPECT_EQ(C, (std::vector<double>{26, 38, 30, 44}));  // A^T B = [26 30; 38 44]
  ASSERT_TRUE(run(GemmOp::N, GemmOp::T, 1).ok);         // + C: A B^T = [17 23; 39 53]
  EXPECT_EQ(C, (std::vector<double>{26 + 17, 38 + 39, 30 + 23, 44 + 53}));
}

TEST(CublasReference, RefusesWhatCublasRefuses) {
  std::vector<double> buf(64, 0);
  auto run = [&](GemmOp oa, GemmOp ob, int m, int n, int k, int lda, int ldb, int ldc, int batch) {
    return reference_gemm_strided_batched<double>(oa, ob, m, n, k, 1.0, {buf.data(), 64}, lda, 0,
                                                  {buf.data(), 64}, ldb, 0, 0.0, {buf.data(), 64},
                                                  ldc, 0, batch);
  };
  EXPECT_TRUE(run(GemmOp::N, GemmOp::N, 3, 2, 4, 3, 4, 3, 1).ok);
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, 3, 2, 4, 2, 4, 3, 1).ok);  // lda < m (op N)
  EXPECT_FALSE(run(GemmOp::T, GemmOp::N, 3, 2, 4, 3, 4, 3, 1).ok);  // lda < k (op T)
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, 3, 2, 4, 3, 3, 3, 1).ok);  // ldb < k (op N)
  EXPECT_FALSE(run(GemmOp::N, GemmOp::T, 3, 2, 4, 3, 1, 3, 1).ok);  // ldb < n (op T)
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, 3, 2, 4, 3, 4, 2, 1).ok);  // ldc < m
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, 1, 1, 1, 0, 1, 1, 1).ok);  // ld 0 < max(1, 1)
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, -1, 2, 4, 3, 4, 3, 1).ok);
  EXPECT_FALSE(run(GemmOp::N, GemmOp::N, 3, 2, 4, 3, 4, 3, -1).ok);
  // Reads or writes past a buffer are caught: C [3, 2] needs 6 elements, given 5.
  std::vector<double> small(5, 0);
  const GemmOutcome r = reference_gemm_strided_batched<double>(
      GemmOp::N, GemmOp::N, 3, 2, 1, 1.0, {buf.data(), 64}, 3, 0, {buf.data(), 64}, 1, 0, 0.0,
      {small.data(), 5}, 3, 0, 1);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("out of bounds: C[5]"), std::string::npos) << r.error;
}

// A test that can fail: the naive mapping (loom's row-major buffers handed to cuBLAS as if they
// were column-major matrices of the same shapes, A first) is accepted by cuBLAS, stays inside the
// buffers, and computes something else; the comparison says so.
TEST(CublasReference, TheNaiveMappingIsCaught) {
  const MatmulArgs p = dense(1, 2, 3, 4, false, false, 0, 0);  // A [2, 4] @ B [4, 3]
  std::vector<double> a(8), b(12), c_cpu(6), c_naive(6);
  for (int i = 0; i < 8; ++i)
    a[i] = i + 1;
  for (int i = 0; i < 12; ++i)
    b[i] = i % 5 - 2;
  backend_for(kCPU).matmul(a.data(), b.data(), c_cpu.data(), DType::Float64, p);
  const GemmOutcome r = reference_gemm_strided_batched<double>(
      GemmOp::N, GemmOp::N, 2, 3, 4, 1.0, {a.data(), 8}, 2, 0, {b.data(), 12}, 4, 0, 0.0,
      {c_naive.data(), 6}, 2, 0, 1);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(c_cpu, c_naive);
}

// ---- the mapping against the CPU backend --------------------------------------------------

TEST(GemmMapping, EveryTransposePaddingAndBatchStride) {
  const int64_t shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {5, 1, 3}, {1, 4, 2},
                               {3, 3, 1}, {4, 2, 7}, {7, 5, 6}};
  uint32_t seed = 0;
  for (const auto& s : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int64_t pad : {0, 3})
          for (int64_t batch : {1, 3}) {
            MatmulArgs p = dense(batch, s[0], s[1], s[2], ta, tb, pad, pad == 0 ? 0 : 5);
            expect_mapping_exact(p, ++seed);
            p.alpha = 2, p.beta = -1;  // C read and scaled
            expect_mapping_exact(p, ++seed);
            if (batch > 1) {
              MatmulArgs q = p;
              q.stride_a = 0;  // one A for every batch (a broadcast weight)
              expect_mapping_exact(q, ++seed);
              q = p;
              q.stride_b = 0;
              expect_mapping_exact(q, ++seed);
            }
          }
}

// fit_ld: a single-column operand of the column-major problem may come with an ld smaller than
// its rows (loom's contract does not need one: nothing steps over it); cuBLAS would refuse it,
// so the mapping raises it. The cases, with ld 0 and 1: A [1, k] untransposed and C [1, n]
// (m = 1); B stored transposed as [1, k] (n = 1); C [1, n] under a batch of A stored [k, 1].
TEST(GemmMapping, SingleColumnOperandsWithASmallLeadingDimension) {
  for (int64_t small : {0, 1}) {
    MatmulArgs p = dense(1, 1, 4, 3, false, false, 0, 0);  // A [1, 3], C [1, 4]
    p.lda = small;
    p.ldc = small;
    expect_mapping_exact(p);
    p = dense(1, 3, 1, 4, false, true, 0, 0);  // B stored [1, 4] (n = 1), C [3, 1]
    p.ldb = small;
    p.ldc = 1;
    expect_mapping_exact(p);
    p = dense(2, 1, 3, 5, true, false, 0, 0);  // A stored [5, 1] (m = 1): ld = 1 is its width
    p.ldc = small;
    p.stride_c = 3;
    expect_mapping_exact(p);
    const cuda::ColMajorGemm g = cuda::col_major_gemm(dense(1, 1, 4, 3, false, false, 0, 0));
    EXPECT_EQ(g.ld2, 3);  // A [1, 3] is a column of 3 in cuBLAS's view
    EXPECT_EQ(g.ldc, 4);
  }
}

TEST(GemmMapping, WhatCublasWouldRefuseIsALoomError) {
  MatmulArgs p = dense(1, 3, 4, 5, false, false, 0, 0);
  p.lda = 4;  // A [3, 5] with rows 4 apart: overlapping rows, not a matrix cuBLAS takes
  try {
    cuda::col_major_gemm(p);
    ADD_FAILURE() << "lda 4 < k 5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("leading dimension lda = 4 < 5"), std::string::npos)
        << e.what();
  }
  p = dense(1, 3, 4, 5, false, false, 0, 0);
  p.ldc = 3;
  EXPECT_THROW(cuda::col_major_gemm(p), Error);
  p = dense(1, 3, 4, 5, false, false, 0, 0);
  p.n = int64_t{1} << 31;  // cuBLAS's m is a 32-bit int
  p.ldb = p.ldc = p.n;
  try {
    cuda::col_major_gemm(p);
    ADD_FAILURE() << "n = 2^31 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n = 2147483648 does not fit"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cuda::to_int(std::numeric_limits<int>::max(), "k"), std::numeric_limits<int>::max());
}

// ---- the GEMMs a model issues ---------------------------------------------------------------

bool same_args(const MatmulArgs& x, const MatmulArgs& y) {
  return x.batch == y.batch && x.m == y.m && x.n == y.n && x.k == y.k && x.trans_a == y.trans_a &&
         x.trans_b == y.trans_b && x.lda == y.lda && x.ldb == y.ldb && x.ldc == y.ldc &&
         x.stride_a == y.stride_a && x.stride_b == y.stride_b && x.stride_c == y.stride_c &&
         x.alpha == y.alpha && x.beta == y.beta;
}

// cuda/kernels/lstm.cu's per-step GEMM: C [m, n] += A [m, k] op(B) (op: transposed when trans_b).
MatmulArgs step_args(int64_t m, int64_t n, int64_t k, bool trans_b) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_b = trans_b;
  g.lda = k, g.ldb = trans_b ? k : n, g.ldc = n;
  g.beta = 1.0;
  return g;
}

bool issued(const std::vector<MatmulArgs>& calls, const MatmulArgs& want) {
  for (const MatmulArgs& c : calls)
    if (same_args(c, want)) return true;
  return false;
}

struct ModelRun {
  std::vector<double> loss;
  std::vector<std::vector<double>> grads;
};

// Embedding-free IMDB model in miniature: x [B, T, in] (or [T, B, in]) -> LSTM -> Linear on every
// step's output, MSE + mean(c_n); one backward. Float64. Parameters from `seed`, moved to `device`.
// with_state: h0 and c0 given and trained too (their gradients are the recurrence's dh0 and dc0).
ModelRun run_model(const nn::LSTMOptions& opts, Device device, uint64_t seed, bool with_state) {
  Generator gen(seed);
  nn::LSTM lstm(opts, gen);
  nn::Linear fc(nn::LinearOptions(opts.num_directions() * opts.hidden_size(), 2), gen);
  lstm.to(device, DType::Float64);
  fc.to(device, DType::Float64);
  Generator data(seed + 1);
  const int64_t B = 4, T = 5, L = opts.num_layers() * opts.num_directions();
  const TensorOptions f64(DType::Float64);
  const bool bf = opts.batch_first();
  const Tensor x =
      randn(bf ? Shape{B, T, opts.input_size()} : Shape{T, B, opts.input_size()}, data, f64);
  const Tensor target = randn(bf ? Shape{B, T, 2} : Shape{T, B, 2}, data, f64);
  Variable h0, c0;
  if (with_state) {
    h0 = Variable(randn({L, B, opts.hidden_size()}, data, f64).to(device), true);
    c0 = Variable(randn({L, B, opts.hidden_size()}, data, f64).to(device), true);
  }
  const nn::LstmOutput y = lstm.forward_full(Variable(x.to(device)), h0, c0);
  const Variable loss = nn::mse_loss(fc.forward(y.output), target.to(device)) + mean(y.c_n) * 0.5;
  loss.backward();
  ModelRun r;
  r.loss = loss.data().to(kCPU).to_vector<double>();
  std::vector<Variable> trained = lstm.parameters();
  for (const Variable& p : fc.parameters())
    trained.push_back(p);
  if (with_state) trained.insert(trained.end(), {h0, c0});
  for (const Variable& p : trained)
    r.grads.push_back(p.grad().to(kCPU).to_vector<double>());
  return r;
}

void check_model(const nn::LSTMOptions& opts, const char* what, bool with_state = false) {
  SCOPED_TRACE(what);
  const ModelRun cpu = run_model(opts, kCPU, 7, with_state);
  std::vector<ShadowBackend::Call> calls;
  {
    ShadowCuda shadow(ShadowBackend::Matmul::Mapped);
    const ModelRun gpu =
        run_model(opts, kShadowDevice, 7, with_state);  // every tensor dies in this scope
    ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
    EXPECT_NEAR(gpu.loss.at(0), cpu.loss.at(0), 1e-12 * std::fabs(cpu.loss.at(0)));
    for (std::size_t i = 0; i < cpu.grads.size(); ++i) {
      ASSERT_EQ(gpu.grads[i].size(), cpu.grads[i].size());
      double diff = 0, scale = 1e-300;
      for (std::size_t j = 0; j < cpu.grads[i].size(); ++j) {
        diff = std::max(diff, std::fabs(gpu.grads[i][j] - cpu.grads[i][j]));
        scale = std::max(scale, std::fabs(cpu.grads[i][j]));
      }
      EXPECT_LE(diff / scale, 1e-12) << "gradient of parameter " << i;
    }
    calls = shadow.backend().calls();
  }
  ASSERT_FALSE(calls.empty());
  // Each distinct call once more, on integer data against the CPU: exact.
  std::vector<MatmulArgs> distinct;
  std::size_t per_step = 0;
  for (const ShadowBackend::Call& c : calls) {
    EXPECT_FALSE(c.mixed);
    per_step += c.recurrence;
    bool seen = false;
    for (const MatmulArgs& d : distinct)
      seen = seen || same_args(d, c.args);
    if (!seen) distinct.push_back(c.args);
  }
  std::cout << "[ model    ] " << what << ": " << calls.size() << " GEMM calls (" << per_step
            << " in the recurrence), " << distinct.size() << " distinct:\n";
  for (const MatmulArgs& d : distinct) {
    std::cout << "               " << describe(d) << "\n";
    expect_mapping_exact(d);
  }
  if (opts.impl() == nn::LstmImpl::Fused) {
    // The recurrence's two per-step patterns (cuda/kernels/lstm.cu): gates [B, 4H] += h [B, H]
    // W_hh^T and dh [B, H] += dA [B, 4H] W_hh. B = 4 (run_model's batch).
    const int64_t B = 4, H = opts.hidden_size();
    EXPECT_TRUE(issued(distinct, step_args(B, 4 * H, H, true))) << "the forward step's GEMM";
    EXPECT_TRUE(issued(distinct, step_args(B, H, 4 * H, false))) << "the backward step's GEMM";
    MatmulArgs dh0 = step_args(B, H, 4 * H, false);
    dh0.beta = 0;  // dh0 = dA_first W_hh, written
    EXPECT_EQ(issued(distinct, dh0), with_state) << "dh0's GEMM, when h0 wants a gradient";
  } else {
    EXPECT_EQ(per_step, 0u) << "the composed LSTM has no fused recurrence";
  }
}

TEST(GemmMapping, TheGemmsOfAnLstmAndLinearModelForwardAndBackward) {
  check_model(nn::LSTMOptions(3, 5).batch_first(true).impl(nn::LstmImpl::Fused), "fused");
  check_model(nn::LSTMOptions(3, 4).num_layers(2).bidirectional(true).impl(nn::LstmImpl::Fused),
              "fused, 2 layers, bidirectional, time-major");
  check_model(nn::LSTMOptions(3, 4).bidirectional(true).impl(nn::LstmImpl::Fused),
              "fused, bidirectional, trained h0 and c0", true);
  check_model(nn::LSTMOptions(3, 4).batch_first(true).impl(nn::LstmImpl::Composed), "composed");
}

}  // namespace
}  // namespace loom::test
