// tests/cuda/parity_lstm_test.cpp: CPU-vs-CUDA parity of the fused LSTM cell's pointwise step
// (Backend::lstm_pointwise_forward / lstm_pointwise_backward; cuda/lstm.cu vs
// tensor/cpu/cpu_lstm.cpp), in float64, float32 and float16 (CUDA only: checked against the CPU's
// float32 run on the same half values), with fresh random inputs and poisoned outputs, including
// the in-place forms the contract allows (activations over pre-activations, d_pre over act, dc in
// place), for shapes from 1 x 1 to the IMDB model's 100 x 100.
//
// Tolerances. Both backends run the same per-element code (tensor/kernels/lstm_pointwise.h) but
// with different exp/tanh (libdevice vs glibc) and possibly different FMA contraction, so results
// differ by a few ulps of the *terms* of each sum, not of the result: c = f*c_prev + i*g can
// cancel to ~0. Each output is therefore compared relative to its error scale, the same formula
// with every term taken in absolute value (1 - t^2 becomes 1 + t^2); rtol is parity_util.h's per
// dtype. float16 results are additionally one rounding to half away from the float reference
// (2^-10 relative, see parity_util.h), hence scale |ref| + 0.01 * (float error scale).
// Skips without a CUDA device (the dtype refusal runs wherever the backend is registered).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

// (B, H): single element, odd sizes (no unit lines up with a warp), the IMDB model's step.
const std::pair<int64_t, int64_t> kShapes[] = {{1, 1}, {3, 5}, {7, 33}, {100, 100}};

// The dtype the CPU reference runs in: the CPU backend has no float16 LSTM step.
DType ref_dtype(DType dt) {
  return dt == DType::Float16 ? DType::Float32 : dt;
}

// Compares `got` (CUDA, dtype dt) with `ref` (CPU, ref_dtype(dt)) given the float error scale
// of each element (see the file header).
::testing::AssertionResult close_to(const Tensor& ref, const Tensor& got, DType dt,
                                    const std::vector<double>& err_scale) {
  const std::vector<double> r = ref.to_vector<double>();
  std::vector<double> s(err_scale);
  if (dt == DType::Float16) {
    for (std::size_t i = 0; i < s.size(); ++i)
      s[i] = std::fabs(r[i]) + 0.01 * s[i];
  }
  return expect_close(ref, got.to(kCPU).to(ref.dtype()), tol_for(dt),
                      from_vector<double>(s, ref.shape()));
}

struct Forward {
  Tensor gates, c, tanh_c, h;  // gates: pre-activations in, activations out
};

// Runs the forward step on `be`/`dev` in dtype `dt` on copies of pre and c_prev, with poisoned c,
// tanh_c and h.
Forward run_forward(Backend& be, Device dev, DType dt, const Tensor& pre, const Tensor& c_prev) {
  const int64_t B = pre.shape()[0], H = pre.shape()[1] / 4;
  Forward f{pre.to(dt).to(dev).clone(), poisoned({B, H}, dt, dev), poisoned({B, H}, dt, dev),
            poisoned({B, H}, dt, dev)};
  const Tensor cp = c_prev.to(dt).to(dev);
  be.lstm_pointwise_forward(f.gates.raw_data(), cp.raw_data(), f.c.raw_data(), f.tanh_c.raw_data(),
                            f.h.raw_data(), dt, B, H);
  return f;
}

void check_forward(DType dt, int64_t B, int64_t H, Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " H " + std::to_string(H));
  // Inputs are made in dt (so float16 values are halves), then widened for the reference.
  const Tensor pre = random_tensor({B, 4 * H}, dt, gen, -5, 5);
  const Tensor c_prev = random_tensor({B, H}, dt, gen, -3, 3);
  const DType rdt = ref_dtype(dt);
  const Forward ref = run_forward(cpu_be(), kCPU, rdt, pre, c_prev);
  const Forward got = run_forward(cuda_be(), kCuda, dt, pre, c_prev);

  const std::vector<double> a = ref.gates.to_vector<double>(), cp = c_prev.to_vector<double>(),
                            t = ref.tanh_c.to_vector<double>();
  std::vector<double> s_act(a.size()), s_c(B * H), s_t(B * H), s_h(B * H);
  for (std::size_t i = 0; i < a.size(); ++i)
    s_act[i] = std::fabs(a[i]);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const double* row = a.data() + b * 4 * H + j;
      const double gi = row[0], gf = row[H], gg = row[2 * H], go = row[3 * H];
      const int64_t e = b * H + j;
      s_c[e] = std::fabs(gf * cp[e]) + std::fabs(gi * gg);
      s_t[e] = std::fabs(t[e]) + s_c[e];  // tanh' <= 1
      s_h[e] = std::fabs(go) * s_t[e];
    }
  }
  EXPECT_TRUE(close_to(ref.gates, got.gates, dt, s_act)) << "activations";
  EXPECT_TRUE(close_to(ref.c, got.c, dt, s_c)) << "c";
  EXPECT_TRUE(close_to(ref.tanh_c, got.tanh_c, dt, s_t)) << "tanh_c";
  EXPECT_TRUE(close_to(ref.h, got.h, dt, s_h)) << "h";
}

struct BackwardIn {
  Tensor dh, dc, act, c_prev, tanh_c;
};

struct Backward {
  Tensor d_pre, dc;
};

// Runs the backward step on `be`/`dev` in dtype `dt`. alias: d_pre is written over (a copy of)
// act, as the contract allows; else into a poisoned buffer. dc is updated in place.
Backward run_backward(Backend& be, Device dev, DType dt, const BackwardIn& in, bool alias) {
  const int64_t B = in.act.shape()[0], H = in.act.shape()[1] / 4;
  const Tensor dh = in.dh.to(dt).to(dev), cp = in.c_prev.to(dt).to(dev),
               t = in.tanh_c.to(dt).to(dev);
  const Tensor act = in.act.to(dt).to(dev).clone();
  Backward out{alias ? act : poisoned({B, 4 * H}, dt, dev), in.dc.to(dt).to(dev).clone()};
  be.lstm_pointwise_backward(dh.raw_data(), out.dc.raw_data(), act.raw_data(), out.d_pre.raw_data(),
                             cp.raw_data(), t.raw_data(), dt, B, H);
  return out;
}

void check_backward(DType dt, int64_t B, int64_t H, bool alias, Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " H " + std::to_string(H) +
               (alias ? " d_pre aliases act" : ""));
  // Realistic saved values: activations, c_prev and tanh(c) from a float64 forward step.
  const Tensor pre = random_tensor({B, 4 * H}, DType::Float64, gen, -4, 4);
  const Tensor c_prev = random_tensor({B, H}, DType::Float64, gen, -2, 2);
  const Forward f = run_forward(cpu_be(), kCPU, DType::Float64, pre, c_prev);
  // Everything in dt first (float16: halves), so both backends see the same values.
  const BackwardIn in{random_tensor({B, H}, dt, gen, -1, 1), random_tensor({B, H}, dt, gen, -1, 1),
                      f.gates.to(dt), c_prev.to(dt), f.tanh_c.to(dt)};
  const Backward ref = run_backward(cpu_be(), kCPU, ref_dtype(dt), in, alias);
  const Backward got = run_backward(cuda_be(), kCuda, dt, in, alias);

  const std::vector<double> dh = in.dh.to_vector<double>(), dcn = in.dc.to_vector<double>(),
                            a = in.act.to_vector<double>(), cp = in.c_prev.to_vector<double>(),
                            t = in.tanh_c.to_vector<double>();
  std::vector<double> s_pre(a.size()), s_dc(B * H);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const int64_t e = b * H + j, g0 = b * 4 * H + j;
      const double gi = a[g0], gf = a[g0 + H], gg = a[g0 + 2 * H], go = a[g0 + 3 * H];
      const double s = std::fabs(dcn[e]) + std::fabs(dh[e] * go) * (1 + t[e] * t[e]);
      s_pre[g0] = s * std::fabs(gg * gi * (1 - gi));
      s_pre[g0 + H] = s * std::fabs(cp[e] * gf * (1 - gf));
      s_pre[g0 + 2 * H] = s * std::fabs(gi) * (1 + gg * gg);
      s_pre[g0 + 3 * H] = std::fabs(dh[e] * t[e] * go * (1 - go));
      s_dc[e] = s * std::fabs(gf);
    }
  }
  EXPECT_TRUE(close_to(ref.d_pre, got.d_pre, dt, s_pre)) << "d_pre";
  EXPECT_TRUE(close_to(ref.dc, got.dc, dt, s_dc)) << "dc (in place)";
}

TEST(CudaParityLstm, PointwiseForwardEveryShapeAndDType) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes)
    for (const auto& [B, H] : kShapes)
      check_forward(dt, B, H, gen);
}

TEST(CudaParityLstm, PointwiseBackwardEveryShapeAndDTypeSeparateAndInPlace) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes)
    for (const auto& [B, H] : kShapes)
      for (bool alias : {false, true})
        check_backward(dt, B, H, alias, gen);
}

// An empty step is a no-op on both backends (no launch of zero blocks).
TEST(CudaParityLstm, EmptyStepIsANoOp) {
  LOOM_PARITY_BEGIN();
  Tensor dummy = poisoned({4}, DType::Float32, kCuda);
  void* p = dummy.raw_data();
  cuda_be().lstm_pointwise_forward(p, p, p, p, p, DType::Float32, 0, 7);
  cuda_be().lstm_pointwise_backward(p, p, p, p, p, p, DType::Float32, 5, 0);
  EXPECT_TRUE(expect_close(poisoned({4}, DType::Float32, kCPU), dummy));
}

TEST(CudaParityLstm, ForwardRefusesCAliasingCPrev) {
  LOOM_PARITY_BEGIN();
  Tensor g = random_tensor({2, 12}, DType::Float32, gen).to(kCuda);
  Tensor c = random_tensor({2, 3}, DType::Float32, gen).to(kCuda);
  Tensor t = poisoned({2, 3}, DType::Float32, kCuda), h = poisoned({2, 3}, DType::Float32, kCuda);
  const std::string msg = error_of([&] {
    cuda_be().lstm_pointwise_forward(g.raw_data(), c.raw_data(), c.raw_data(), t.raw_data(),
                                     h.raw_data(), DType::Float32, 2, 3);
  });
  EXPECT_NE(msg.find("may not alias"), std::string::npos) << msg;
}

// Checked on the host before any CUDA call, so this runs without a device too.
TEST(CudaParityLstm, IntegerDTypesAreAClearError) {
  if (!has_backend(DeviceType::CUDA)) GTEST_SKIP() << "this build has no CUDA backend";
  for (DType dt : {DType::Int32, DType::Int64, DType::Bool}) {
    const std::string fwd = error_of([&] {
      cuda_be().lstm_pointwise_forward(nullptr, nullptr, nullptr, nullptr, nullptr, dt, 2, 3);
    });
    EXPECT_NE(fwd.find("lstm_pointwise_forward on cuda: supports float32"), std::string::npos)
        << fwd;
    const std::string bwd = error_of([&] {
      cuda_be().lstm_pointwise_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dt, 2,
                                        3);
    });
    EXPECT_NE(bwd.find("lstm_pointwise_backward on cuda: supports float32"), std::string::npos)
        << bwd;
  }
}

}  // namespace
