// tests/cuda/parity_loss_scale_test.cpp: CPU-vs-CUDA parity of the mixed-precision fused kernels
// (lab 07) through their Tensor ops: the loss scaler's unscale_and_check_ / update_loss_scale_
// (tensor/loss_scale.h; cuda/kernels/loss_scale.cu vs tensor/cpu/loss_scale.cpp) and matmul_mixed
// (tensor/ops.h; cuBLAS GemmEx vs the CPU's widened float32 GEMM).
//   - unscale: every element and the flag bitwise equal (NaN meets NaN). Odd sizes, an empty
//     buffer, 150 buffers (64 per launch), inf or NaN in one buffer, a clean pass leaves the flag.
//   - update: scripted overflow sequences (growth, backoff, float32's top, both collapse
//     reasons, stickiness, factors that are not powers of two): scale and counters bit for bit
//     after EVERY step.
//   - matmul_mixed, float16 and bfloat16 operands: transposed views, batches, a broadcast
//     operand, k == 0 through the op; alpha and beta (the LSTM's recurrent GEMM accumulates:
//     beta 1) through the fused kernel itself.
//     GEMM tolerance relative to |alpha| |A| |B| + |beta C| (parity_util.h).
// Skips without a CUDA device (the kernels' own dtype refusals run wherever the backend is
// registered).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tensor/fused_kernels.h"
#include "tensor/loss_scale.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

// Exact, except that NaN only has to meet NaN (expect_close's non-exact path with a tolerance
// below the smallest float16/float32/float64 subnormal difference).
const Tol kExactUpToNaN{0, 1e-300};

// One unscale case: buffers of `sizes` in dtype dt, each value scaled by `scale` (as a real
// gradient would be); `bad` >= 0 injects `bad_value` into buffer `bad`.
void check_unscale(DType dt, const std::vector<int64_t>& sizes, float scale, int bad,
                   double bad_value, Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(sizes.size()) +
               " buffers, scale " + std::to_string(scale) +
               (bad >= 0 ? ", " + std::to_string(bad_value) + " in buffer " + std::to_string(bad)
                         : std::string(", all finite")));
  std::vector<Tensor> host;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    // Values up to scale / 2: scaled gradients, all finite in float16 (max 65504) for scale 2^16.
    Tensor t = random_tensor({sizes[i]}, dt, gen, -scale / 2.0, scale / 2.0);
    if (static_cast<int>(i) == bad && sizes[i] > 0) {
      const int64_t at = static_cast<int64_t>(gen.uniform() * static_cast<double>(sizes[i]));
      t.narrow(0, at, 1).copy_(from_vector<double>({bad_value}, {1}).to(dt));
    }
    host.push_back(t);
  }
  // The flag starts at 0.5: a clean pass must leave it alone ("not written"), an overflow sets 1.
  const float inv = 1.0f / scale, flag0 = 0.5f;
  auto run = [&](Device dev, std::vector<Tensor>& bufs, Tensor& flag) {
    for (const Tensor& t : host)
      bufs.push_back(t.to(dev).clone());
    flag = from_vector<float>({flag0}, {1}).to(dev).clone();
    unscale_and_check_(bufs, from_vector<float>({inv}, {1}).to(dev), flag);
  };
  std::vector<Tensor> ref, got;
  Tensor ref_flag, got_flag;
  run(kCPU, ref, ref_flag);
  run(kCuda, got, got_flag);
  for (std::size_t i = 0; i < sizes.size(); ++i)
    EXPECT_TRUE(expect_close(ref[i], got[i], kExactUpToNaN)) << "buffer " << i;
  EXPECT_TRUE(expect_close(ref_flag, got_flag)) << "found_inf";
  EXPECT_EQ(ref_flag.item<float>(), bad >= 0 && sizes[bad] > 0 ? 1.0f : flag0);
}

TEST(CudaParityLossScale, UnscaleAndCheckSeveralBuffersWithAndWithoutOverflow) {
  LOOM_PARITY_BEGIN();
  const std::vector<int64_t> sizes = {1, 1000, 0, 4097, 300, 70001};  // the IMDB model's kind
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : kFloatDTypes) {
    check_unscale(dt, sizes, 1024.0f, -1, 0, gen);
    check_unscale(dt, sizes, 65536.0f, 3, inf, gen);
    check_unscale(dt, sizes, 65536.0f, 5, -inf, gen);
    check_unscale(dt, sizes, 3.0f, 1, nan, gen);  // inv_scale not a power of two: rounding
    check_unscale(dt, sizes, 1.0f, 0, nan, gen);
  }
}

// More buffers than one launch's table holds (64): the launcher splits them, and a bad value
// in the last chunk still raises the one flag.
TEST(CudaParityLossScale, UnscaleAndCheckMoreBuffersThanOneLaunch) {
  LOOM_PARITY_BEGIN();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 150; ++i)
    sizes.push_back(static_cast<int64_t>(gen.uniform() * 3000));
  sizes[140] = 17;
  check_unscale(DType::Float32, sizes, 8.0f, -1, 0, gen);
  check_unscale(DType::Float32, sizes, 8.0f, 140, std::numeric_limits<double>::infinity(), gen);
  check_unscale(DType::Float16, sizes, 512.0f, 140, std::numeric_limits<double>::quiet_NaN(), gen);
}

// The scaler's state on one device: scale (float32 [1]), counters (int64 [kAmpNumCounters]).
struct ScalerState {
  Tensor scale, counters;
  ScalerState(float scale0, Device dev)
      : scale(from_vector<float>({scale0}, {1}).to(dev).clone()),
        counters(zeros({kAmpNumCounters}, TensorOptions(DType::Int64, kCPU)).to(dev)) {}
  void step(Device dev, bool overflow, const AmpScaleUpdate& args) {
    const Tensor found_inf = from_vector<float>({overflow ? 1.0f : 0.0f}, {1}).to(dev);
    update_loss_scale_(scale, counters, found_inf, args);
  }
};

// Runs `script` (1 = overflow) on both backends from scale0, comparing after every step.
void check_script(const std::string& what, float scale0, const std::string& script,
                  const AmpScaleUpdate& args) {
  SCOPED_TRACE(what + ": script " + script);
  ScalerState cpu(scale0, kCPU), gpu(scale0, kCuda);
  for (std::size_t s = 0; s < script.size(); ++s) {
    const bool overflow = script[s] == '1';
    cpu.step(kCPU, overflow, args);
    gpu.step(kCuda, overflow, args);
    ASSERT_TRUE(expect_close(cpu.scale, gpu.scale)) << "scale after step " << s;
    ASSERT_TRUE(expect_close(cpu.counters, gpu.counters)) << "counters after step " << s;
  }
}

TEST(CudaParityLossScale, UpdateScaleStateMachineMatchesTheCpuStepByStep) {
  LOOM_PARITY_BEGIN();
  AmpScaleUpdate a;
  a.growth_interval = 3;
  a.max_consecutive_skips = 4;
  // Growth after 3 clean steps, backoff on overflow resets the tracker, then 4 overflows in a row
  // collapse (reason 2), which stays set through later clean steps.
  check_script("grow, back off, collapse by skips", 65536.0f, "000100010000011110000", a);
  // The scale falls below min_scale first (reason 1, then sticky although skips also reach 4).
  check_script("collapse below min_scale", 4.0f, "0111111000", a);
  // At the top of float32 growth would overflow: the scale stays, the tracker still resets.
  check_script("float32 ceiling", std::numeric_limits<float>::max() / 1.5f, "000000000100000", a);
  // Factors that are not powers of two exercise the float/double rounding of every update.
  AmpScaleUpdate odd;
  odd.growth_factor = 1.7;
  odd.backoff_factor = 0.3;
  odd.growth_interval = 2;
  odd.min_scale = 1e-3;
  odd.max_consecutive_skips = 0;  // no limit
  check_script("odd factors, no skip limit", 1000.0f, "0010100001101110000000111111110000", odd);
}

// Dense MatmulArgs for [batch] x (op(A) [m, k] @ op(B) [k, n]), A stored [k, m] when ta, B
// stored [n, k] when tb; stride_a == 0 when A is one matrix broadcast over the batch.
MatmulArgs dense_args(int64_t batch, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                      bool broadcast_a) {
  MatmulArgs p;
  p.batch = batch, p.m = m, p.n = n, p.k = k;
  p.trans_a = ta, p.trans_b = tb;
  p.lda = ta ? m : k, p.ldb = tb ? k : n, p.ldc = n;
  p.stride_a = broadcast_a ? 0 : m * k, p.stride_b = k * n, p.stride_c = m * n;
  return p;
}

// The error scale of every C element: |alpha| sum_q |A[r, q] B[q, col]| + |beta C0|.
Tensor gemm_scale(const MatmulArgs& p, const Tensor& A, const Tensor& B, const Tensor& C0) {
  const std::vector<double> av = A.to_vector<double>(), bv = B.to_vector<double>();
  std::vector<double> scale(p.batch * p.m * p.n, 0.0);
  if (p.beta != 0) {
    const std::vector<double> cv = C0.to_vector<double>();
    for (std::size_t i = 0; i < scale.size(); ++i)
      scale[i] = std::fabs(p.beta * cv[i]);
  }
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t r = 0; r < p.m; ++r)
      for (int64_t col = 0; col < p.n; ++col) {
        double s = 0;
        for (int64_t q = 0; q < p.k; ++q) {
          const int64_t ia = b * p.stride_a + (p.trans_a ? q * p.lda + r : r * p.lda + q);
          const int64_t ib = b * p.stride_b + (p.trans_b ? col * p.ldb + q : q * p.ldb + col);
          s += std::fabs(av[ia] * bv[ib]);
        }
        scale[b * p.stride_c + r * p.ldc + col] += std::fabs(p.alpha) * s;
      }
  return from_vector<double>(scale, {p.batch * p.m * p.n});
}

std::string describe(const MatmulArgs& p) {
  return "batch " + std::to_string(p.batch) + " m " + std::to_string(p.m) + " n " +
         std::to_string(p.n) + " k " + std::to_string(p.k) + (p.trans_a ? " A^T" : "") +
         (p.trans_b ? " B^T" : "") + (p.stride_a == 0 ? " A broadcast" : "") + " alpha " +
         std::to_string(p.alpha) + " beta " + std::to_string(p.beta);
}

// The Tensor op matmul_mixed on both devices: A and B made in their stored layout, then
// transposed as views (so the op hands the GEMM transposed operands, not copies).
void check_matmul_mixed_op(DType ab, int64_t batch, int64_t m, int64_t n, int64_t k, bool ta,
                           bool tb, bool broadcast_a, Generator& gen) {
  const MatmulArgs p = dense_args(batch, m, n, k, ta, tb, broadcast_a);
  SCOPED_TRACE("matmul_mixed " + std::string(dtype_name(ab)) + " " + describe(p));
  const Shape a_stored =
      broadcast_a ? Shape{ta ? k : m, ta ? m : k} : Shape{batch, ta ? k : m, ta ? m : k};
  const Tensor A = random_tensor(a_stored, ab, gen, -1, 1);
  const Tensor B = random_tensor({batch, tb ? n : k, tb ? k : n}, ab, gen, -1, 1);
  auto op = [&](Device dev) {
    Tensor a = A.to(dev), b = B.to(dev);
    if (ta) a = a.transpose(-2, -1);
    if (tb) b = b.transpose(-2, -1);
    return matmul_mixed(a, b);
  };
  const Tensor ref = op(kCPU), got = op(kCuda);
  ASSERT_EQ(got.dtype(), DType::Float32);
  ASSERT_EQ(got.shape(), (Shape{batch, m, n}));
  const Tensor scale = gemm_scale(p, A, B, Tensor()).reshape({batch, m, n});
  EXPECT_TRUE(expect_close(ref, got, sum_tol_for(DType::Float32), scale));
}

// The fused kernel itself, for what the op cannot say: alpha and beta (C read and scaled).
void check_matmul_mixed_kernel(DType ab, const MatmulArgs& p, Generator& gen) {
  SCOPED_TRACE("FusedKernels::matmul_mixed " + std::string(dtype_name(ab)) + " " + describe(p));
  const Tensor A = random_tensor({p.batch * p.m * p.k}, ab, gen, -1, 1);
  const Tensor B = random_tensor({p.batch * p.k * p.n}, ab, gen, -1, 1);
  const Tensor C0 = p.beta == 0 ? poisoned({p.batch * p.m * p.n}, DType::Float32, kCPU)
                                : random_tensor({p.batch * p.m * p.n}, DType::Float32, gen, -1, 1);
  auto run = [&](Device dev) {
    const Tensor a = A.to(dev), b = B.to(dev), c = C0.to(dev).clone();
    fused_kernels_for(dev, "matmul_mixed test")
        .matmul_mixed(a.raw_data(), b.raw_data(), ab, c.raw_data(), DType::Float32, p);
    return c;
  };
  EXPECT_TRUE(
      expect_close(run(kCPU), run(kCuda), sum_tol_for(DType::Float32), gemm_scale(p, A, B, C0)));
}

// The products of two 16-bit values are exact in float32, so both dtypes take float32's sum
// tolerance: only the order of the float32 sums differs.
TEST(CudaParityLossScale, MatmulMixedMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  for (DType ab : {DType::Float16, DType::BFloat16}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        check_matmul_mixed_op(ab, 1, 17, 9, 33, ta, tb, false, gen);
        check_matmul_mixed_op(ab, 3, 8, 24, 64, ta, tb, false, gen);
        check_matmul_mixed_op(ab, 3, 8, 24, 64, ta, tb, true, gen);
        // The fused LSTM's use: gates [B, 4H] += h [B, H] W_hh^T, accumulated in float32.
        check_matmul_mixed_kernel(ab, dense_args(1, 100, 400, 100, ta, tb, false), gen);
        MatmulArgs odd = dense_args(2, 5, 7, 11, ta, tb, false);
        odd.alpha = 0.5, odd.beta = -2.0;
        check_matmul_mixed_kernel(ab, odd, gen);
      }
    }
    check_matmul_mixed_op(ab, 2, 4, 5, 0, false, false, false, gen);  // k == 0: zeros
    MatmulArgs k0 = dense_args(2, 4, 5, 0, true, false, false);
    k0.beta = 0.5;  // k == 0: C = beta * C
    check_matmul_mixed_kernel(ab, k0, gen);
  }
}

// The kernels' own refusals, checked on the host before any CUDA call, so this runs without a
// device too (the Tensor ops refuse these earlier: tests/tensor).
TEST(CudaParityLossScale, TheKernelsRefuseUnsupportedDTypes) {
  if (!has_backend(DeviceType::CUDA)) GTEST_SKIP() << "this build has no CUDA backend";
  FusedKernels& fk = fused_kernels_for(kCuda, "amp test");
  MatmulArgs p;
  p.m = p.n = p.k = 2;
  p.lda = p.ldb = p.ldc = 2;
  for (auto [ab, c] :
       {std::pair{DType::Float32, DType::Float32}, std::pair{DType::Float16, DType::Float16},
        std::pair{DType::BFloat16, DType::BFloat16}, std::pair{DType::Float64, DType::Float32}}) {
    const std::string msg =
        error_of([&, ab = ab, c = c] { fk.matmul_mixed(nullptr, nullptr, ab, nullptr, c, p); });
    EXPECT_NE(msg.find("matmul_mixed on cuda: supports float16 or bfloat16 operands -> float32"),
              std::string::npos)
        << msg;
  }
  const int64_t count = 4;
  void* buf = nullptr;
  const std::string msg =
      error_of([&] { fk.amp_unscale_and_check(&buf, &count, 1, DType::Int32, nullptr, nullptr); });
  EXPECT_NE(msg.find("amp_unscale_and_check: gradients must be floating point"), std::string::npos)
      << msg;
}

}  // namespace
