// tests/cuda/parity_amp_test.cpp: CPU-vs-CUDA parity of the mixed-precision backend methods
// (lab 07): the loss scaler's amp_unscale_and_check and amp_update_scale (cuda/amp.cu vs
// tensor/cpu/cpu_amp.cpp) and the float16 x float16 -> float32 matmul_mixed (cuda/matmul.cu).
//
// What is compared, and how exactly:
//   - unscale: both backends test each value before multiplying it by the same float inv_scale
//     and round once, so every element must be bitwise equal (NaN payloads aside: a GPU returns
//     the canonical NaN), and the flag too. Several buffers of odd sizes (and an empty one), more
//     than one launch's worth of buffers (64), inf or NaN injected into one buffer, and the rule
//     that a clean pass does not write the flag at all (it starts at 0.5 and must stay 0.5).
//   - update: the state machine over scripted overflow/no-overflow sequences (growth, backoff,
//     the float32 ceiling, both collapse reasons, stickiness, factors that are not powers of
//     two), the scale compared bit for bit and the counters exactly after EVERY step.
//   - matmul_mixed: GEMM tolerance relative to |alpha| |A| |B| + |beta C| (parity_util.h).
// Skips without a CUDA device (the dtype refusals run wherever the backend is registered).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

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
  auto run = [&](Backend& be, Device dev, std::vector<Tensor>& bufs, Tensor& flag) {
    std::vector<void*> ptrs;
    for (const Tensor& t : host) {
      bufs.push_back(t.to(dev).clone());
      ptrs.push_back(bufs.back().raw_data());
    }
    const Tensor inv_t = from_vector<float>({inv}, {1}).to(dev);
    flag = from_vector<float>({flag0}, {1}).to(dev).clone();
    be.amp_unscale_and_check(ptrs.data(), sizes.data(), static_cast<int>(sizes.size()), dt,
                             static_cast<const float*>(inv_t.raw_data()),
                             static_cast<float*>(flag.raw_data()));
  };
  std::vector<Tensor> ref, got;
  Tensor ref_flag, got_flag;
  run(cpu_be(), kCPU, ref, ref_flag);
  run(cuda_be(), kCuda, got, got_flag);
  for (std::size_t i = 0; i < sizes.size(); ++i)
    EXPECT_TRUE(expect_close(ref[i], got[i], kExactUpToNaN)) << "buffer " << i;
  EXPECT_TRUE(expect_close(ref_flag, got_flag)) << "found_inf";
  EXPECT_EQ(ref_flag.item<float>(), bad >= 0 && sizes[bad] > 0 ? 1.0f : flag0);
}

TEST(CudaParityAmp, UnscaleAndCheckSeveralBuffersWithAndWithoutOverflow) {
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
TEST(CudaParityAmp, UnscaleAndCheckMoreBuffersThanOneLaunch) {
  LOOM_PARITY_BEGIN();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 150; ++i)
    sizes.push_back(static_cast<int64_t>(gen.uniform() * 3000));
  sizes[140] = 17;
  check_unscale(DType::Float32, sizes, 8.0f, -1, 0, gen);
  check_unscale(DType::Float32, sizes, 8.0f, 140, std::numeric_limits<double>::infinity(), gen);
  check_unscale(DType::Float16, sizes, 512.0f, 140, std::numeric_limits<double>::quiet_NaN(), gen);
}

// The scaler's state on one device: scale (float32 [1]), counters (int64 [4]), found_inf.
struct ScalerState {
  Tensor scale, counters, found_inf;
  ScalerState(float scale0, Device dev)
      : scale(from_vector<float>({scale0}, {1}).to(dev).clone()),
        counters(zeros({Backend::kAmpNumCounters}, TensorOptions(DType::Int64, kCPU)).to(dev)),
        found_inf(zeros({1}, TensorOptions(DType::Float32, kCPU)).to(dev)) {}
  void step(Backend& be, Device dev, bool overflow, const Backend::AmpScaleUpdate& args) {
    const float flag = overflow ? 1.0f : 0.0f;
    be.copy_host_to_device(found_inf.raw_data(), &flag, sizeof flag, dev);
    be.amp_update_scale(static_cast<float*>(scale.raw_data()),
                        static_cast<int64_t*>(counters.raw_data()),
                        static_cast<const float*>(found_inf.raw_data()), args);
  }
};

// Runs `script` (1 = overflow) on both backends from scale0, comparing after every step.
void check_script(const std::string& what, float scale0, const std::string& script,
                  const Backend::AmpScaleUpdate& args) {
  SCOPED_TRACE(what + ": script " + script);
  ScalerState cpu(scale0, kCPU), gpu(scale0, kCuda);
  for (std::size_t s = 0; s < script.size(); ++s) {
    const bool overflow = script[s] == '1';
    cpu.step(cpu_be(), kCPU, overflow, args);
    gpu.step(cuda_be(), kCuda, overflow, args);
    ASSERT_TRUE(expect_close(cpu.scale, gpu.scale)) << "scale after step " << s;
    ASSERT_TRUE(expect_close(cpu.counters, gpu.counters)) << "counters after step " << s;
  }
}

TEST(CudaParityAmp, UpdateScaleStateMachineMatchesTheCpuStepByStep) {
  LOOM_PARITY_BEGIN();
  Backend::AmpScaleUpdate a;
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
  Backend::AmpScaleUpdate odd;
  odd.growth_factor = 1.7;
  odd.backoff_factor = 0.3;
  odd.growth_interval = 2;
  odd.min_scale = 1e-3;
  odd.max_consecutive_skips = 0;  // no limit
  check_script("odd factors, no skip limit", 1000.0f, "0010100001101110000000111111110000", odd);
}

// One matmul_mixed case: A [m, k] or stored [k, m], B likewise, batch with strides, alpha/beta.
void check_matmul_mixed(int64_t batch, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                        double alpha, double beta, Generator& gen) {
  SCOPED_TRACE("batch " + std::to_string(batch) + " m " + std::to_string(m) + " n " +
               std::to_string(n) + " k " + std::to_string(k) + (ta ? " A^T" : "") +
               (tb ? " B^T" : "") + " alpha " + std::to_string(alpha) + " beta " +
               std::to_string(beta));
  MatmulArgs p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_a = ta;
  p.trans_b = tb;
  p.alpha = alpha;
  p.beta = beta;
  p.lda = ta ? m : k;
  p.ldb = tb ? k : n;
  p.ldc = n;
  p.stride_a = m * k;
  p.stride_b = k * n;
  p.stride_c = m * n;
  const Tensor A = random_tensor({batch * m * k}, DType::Float16, gen, -1, 1);
  const Tensor B = random_tensor({batch * k * n}, DType::Float16, gen, -1, 1);
  const Tensor C0 = beta == 0 ? poisoned({batch * m * n}, DType::Float32, kCPU)
                              : random_tensor({batch * m * n}, DType::Float32, gen, -1, 1);
  Tensor ref = C0.clone(), got = C0.to(kCuda);
  const Tensor Ad = A.to(kCuda), Bd = B.to(kCuda);
  cpu_be().matmul_mixed(A.raw_data(), B.raw_data(), DType::Float16, ref.raw_data(), DType::Float32,
                        p);
  cuda_be().matmul_mixed(Ad.raw_data(), Bd.raw_data(), DType::Float16, got.raw_data(),
                         DType::Float32, p);
  // scale = |alpha| sum_q |A[r, q] B[q, col]| + |beta C0|.
  const std::vector<double> av = A.to_vector<double>(), bv = B.to_vector<double>();
  std::vector<double> scale(batch * m * n, 0.0);
  if (beta != 0) {
    const std::vector<double> cv = C0.to_vector<double>();
    for (std::size_t i = 0; i < scale.size(); ++i)
      scale[i] = std::fabs(beta * cv[i]);
  }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) {
          const double x = ta ? av[b * p.stride_a + q * m + r] : av[b * p.stride_a + r * k + q];
          const double y = tb ? bv[b * p.stride_b + col * k + q] : bv[b * p.stride_b + q * n + col];
          s += std::fabs(x * y);
        }
        scale[b * p.stride_c + r * n + col] += std::fabs(alpha) * s;
      }
  EXPECT_TRUE(expect_close(ref, got, sum_tol_for(DType::Float32),
                           from_vector<double>(scale, {batch * m * n})));
}

TEST(CudaParityAmp, MatmulMixedMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      check_matmul_mixed(1, 17, 9, 33, ta, tb, 1.0, 0.0, gen);
      check_matmul_mixed(3, 8, 24, 64, ta, tb, 1.0, 0.0, gen);
      // The fused LSTM's use: gates [B, 4H] += h [B, H] W_hh^T, accumulated in float32.
      check_matmul_mixed(1, 100, 400, 100, ta, tb, 1.0, 1.0, gen);
      check_matmul_mixed(2, 5, 7, 11, ta, tb, 0.5, -2.0, gen);
    }
  }
  check_matmul_mixed(2, 4, 5, 0, false, false, 1.0, 0.5, gen);  // k == 0: C = beta * C
  check_matmul_mixed(2, 4, 5, 0, true, false, 1.0, 0.0, gen);   // k == 0, beta 0: zeros
}

// Checked on the host before any CUDA call, so this runs without a device too.
TEST(CudaParityAmp, UnsupportedDTypesAreAClearError) {
  if (!has_backend(DeviceType::CUDA)) GTEST_SKIP() << "this build has no CUDA backend";
  MatmulArgs p;
  p.m = p.n = p.k = 2;
  p.lda = p.ldb = p.ldc = 2;
  for (auto [ab, c] :
       {std::pair{DType::Float32, DType::Float32}, std::pair{DType::Float16, DType::Float16},
        std::pair{DType::Float64, DType::Float32}}) {
    const std::string msg = error_of(
        [&, ab = ab, c = c] { cuda_be().matmul_mixed(nullptr, nullptr, ab, nullptr, c, p); });
    EXPECT_NE(msg.find("matmul_mixed on cuda: supports float16 x float16 -> float32"),
              std::string::npos)
        << msg;
  }
  const int64_t count = 4;
  void* buf = nullptr;
  const std::string msg = error_of(
      [&] { cuda_be().amp_unscale_and_check(&buf, &count, 1, DType::Int32, nullptr, nullptr); });
  EXPECT_NE(msg.find("amp_unscale_and_check: gradients must be floating point"), std::string::npos)
      << msg;
}

}  // namespace
