// tests/tensor/lstm_test.cpp: the LSTM layer's Tensor ops (tensor/lstm.h) and the CPU backend's
// recurrence under them (tensor/cpu/lstm.cpp), lab 4.
//
// 1. The recurrence's contract (tensor/fused_kernels.h) against the plain double reference of
//    tests/nn/lstm_persistent_reference.h: float64, float32 with the rows split over threads,
//    reverse, every optional buffer (c_n, dc_n, dh0, dc0) present or null, and mixed precision
//    (float16 or bfloat16 GEMM operands, float32 state; bfloat16 on the packed GEMM). Outputs start
//    as NaN so an unwritten element fails.
// 2. The vectorised cell (built with -ffast-math) against the scalar double math, element by
//    element (a one-step recurrence with W_hh = 0 is exactly the cell).
// 3. The Tensor ops: a batch-first x gives the same numbers as a time-major copy and gets its
//    gradient back with its own strides; bad arguments are refused naming them.
// The layer against the composed LSTM and finite differences: tests/nn/lstm_*_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "tensor/cpu/backend.h"
#include "tensor/lstm.h"
#include "tensor/ops.h"
#include "tests/common/error_of.h"
#include "tests/nn/lstm_persistent_reference.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::nn::testing::Buffers;
using loom::nn::testing::Sizes;

Tensor tensor_of(const std::vector<double>& v, DType dt) {
  return loom::from_vector<double>(v, {static_cast<int64_t>(v.size())}).to(dt);
}

// max |got - want| / max(1, max |want|): the values are O(1).
double rel_err(const Tensor& got, const std::vector<double>& want) {
  const std::vector<double> g = got.to_vector<double>();
  EXPECT_EQ(g.size(), want.size());
  double diff = 0, scale = 1;
  for (std::size_t i = 0; i < g.size() && i < want.size(); ++i) {
    diff = std::max(diff, std::isnan(g[i]) ? INFINITY : std::fabs(g[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return diff / scale;
}

struct ContractCase {
  Sizes s;
  bool reverse = false, optional = true;
  DType state = DType::Float64, gemm = DType::Float64;
  double tol = 1e-12;
};

// Runs the CPU recurrence on random inputs and compares every output with the reference.
void check_contract(const ContractCase& k) {
  const Sizes& s = k.s;
  SCOPED_TRACE("T " + std::to_string(s.T) + " B " + std::to_string(s.B) + " H " +
               std::to_string(s.H) + (k.reverse ? " reverse" : "") +
               (k.optional ? " with optional buffers" : " without") + " state " +
               loom::dtype_name(k.state) + " gemm " + loom::dtype_name(k.gemm));
  Buffers b = loom::nn::testing::random_inputs(s, 17);
  std::fill(b.dh_n.begin(), b.dh_n.end(), 0.0);                   // not part of this contract
  if (!k.optional) std::fill(b.dc_n.begin(), b.dc_n.end(), 0.0);  // null dc_n means zero
  loom::nn::testing::reference(s, k.reverse, b);
  const int64_t n4 = s.T * s.B * 4 * s.H, n = s.T * s.B * s.H, bh = s.B * s.H;
  auto nan = [](int64_t count, DType dt) { return loom::full({count}, NAN, dt); };
  const Tensor gates = tensor_of(b.xproj, k.state), w = tensor_of(b.w, k.gemm),
               h0 = tensor_of(b.h0, k.gemm), c0 = tensor_of(b.c0, k.state);
  const Tensor c = nan(n, k.state), tc = nan(n, k.state), h = nan(n, k.state),
               cn = nan(bh, k.state);
  const bool mixed = k.gemm != k.state;
  const Tensor hg = nan(n, k.gemm);
  const loom::LstmRecurrence r{s.T, s.B, s.H, k.reverse, k.state, k.gemm, false};
  loom::FusedKernels& fk = loom::cpu::cpu_backend();
  fk.lstm_recurrence_forward(
      r, {gates.raw_data(), w.raw_data(), h0.raw_data(), c0.raw_data(), c.raw_data(), tc.raw_data(),
          h.raw_data(), mixed ? hg.raw_data() : nullptr, k.optional ? cn.raw_data() : nullptr});
  EXPECT_LE(rel_err(gates, b.act), k.tol) << "act";
  EXPECT_LE(rel_err(c, b.c), k.tol) << "c";
  EXPECT_LE(rel_err(tc, b.tanh_c), k.tol) << "tanh_c";
  EXPECT_LE(rel_err(h, b.h), k.tol) << "h";
  if (k.optional) {
    EXPECT_LE(rel_err(cn, b.cn), k.tol) << "c_n";
  }
  if (mixed) {
    EXPECT_EQ(hg.to_vector<double>(), h.to(k.gemm).to_vector<double>()) << "h_gemm";
  }

  const Tensor dh = tensor_of(b.dh, k.state), dc_n = tensor_of(b.dc_n, k.state);
  const Tensor dg = nan(n4, k.state), dgg = nan(n4, k.gemm), dh0 = nan(bh, k.state),
               dc0 = nan(bh, k.state);
  fk.lstm_recurrence_backward(
      r, {dh.raw_data(), k.optional ? dc_n.raw_data() : nullptr, w.raw_data(), c0.raw_data(),
          gates.raw_data(), c.raw_data(), tc.raw_data(), dg.raw_data(),
          mixed ? dgg.raw_data() : nullptr, k.optional ? dh0.raw_data() : nullptr,
          k.optional ? dc0.raw_data() : nullptr});
  EXPECT_LE(rel_err(dg, b.dgates), k.tol) << "dgates";
  if (mixed) {
    EXPECT_EQ(dgg.to_vector<double>(), dg.to(k.gemm).to_vector<double>()) << "dgates_gemm";
  }
  if (k.optional) {
    EXPECT_LE(rel_err(dh0, b.dh0), k.tol) << "dh0";
    EXPECT_LE(rel_err(dc0, b.dc0), k.tol) << "dc0";
  } else {
    EXPECT_TRUE(std::isnan(dh0.to_vector<double>()[0])) << "dh0 was null: nothing written";
  }
}

TEST(LstmRecurrence, MatchesThePlainReferenceInFloat64) {
  for (const Sizes& s : {Sizes{1, 1, 1}, Sizes{4, 3, 5}, Sizes{6, 2, 7}})
    for (bool reverse : {false, true})
      for (bool optional : {false, true})
        check_contract({s, reverse, optional, DType::Float64, DType::Float64, 1e-12});
}

TEST(LstmRecurrence, MatchesThePlainReferenceInFloat32WithRowsSplitOverThreads) {
  // T*B*4H*H ~ 2.9M >= 2 x 2^20 multiply-adds: the rows are split into 2 slices (2+ threads).
  check_contract({{8, 40, 48}, false, true, DType::Float32, DType::Float32, 1e-5});
  check_contract({{8, 40, 48}, true, false, DType::Float32, DType::Float32, 1e-5});
}

TEST(LstmRecurrence, MixedPrecisionStaysWithinTheGemmDtypesRoundingOfTheReference) {
  // W_hh, h0 and every h_{t-1} (and, backward, every dL/dgates) are rounded to the gemm dtype
  // before float32 GEMMs of H = 12 terms: float16 keeps 11 significand bits (relative error
  // 2^-11 each), bfloat16 8 (2^-8, 8x more). Allowed: 10 units for float16, 2.5 for bfloat16
  // (1e-2; at these sizes the bfloat16 error stays under 1 unit, 3.9e-3).
  for (bool reverse : {false, true}) {
    check_contract({{5, 3, 12}, reverse, true, DType::Float32, DType::Float16, 5e-3});
    check_contract({{5, 3, 12}, reverse, true, DType::Float32, DType::BFloat16, 1e-2});
  }
}

// The vectorised cell against the scalar double math: a one-step recurrence with W_hh = 0 reads
// exactly the given pre-activations (and, backward, adds nothing recurrent to dh).
TEST(LstmRecurrence, TheVectorisedCellMatchesTheScalarMath) {
  const int64_t B = 70, H = 67;  // H not a multiple of the SIMD width
  loom::Generator g(11);
  const Tensor pre = loom::uniform({B, 4 * H}, -4, 4, g, DType::Float64);
  const Tensor c_prev = loom::uniform({B, H}, -2, 2, g, DType::Float64);
  const Tensor dh = loom::uniform({B, H}, -1, 1, g, DType::Float64);
  const Tensor dc_next = loom::uniform({B, H}, -1, 1, g, DType::Float64);
  const Tensor w = loom::zeros({4 * H, H}, DType::Float64),
               h0 = loom::zeros({B, H}, DType::Float64);
  const Tensor act = pre.clone(), c = loom::empty({B, H}, DType::Float64),
               tc = loom::empty({B, H}, DType::Float64), h = loom::empty({B, H}, DType::Float64);
  const loom::LstmRecurrence r{1, B, H, false, DType::Float64, DType::Float64, false};
  loom::FusedKernels& fk = loom::cpu::cpu_backend();
  fk.lstm_recurrence_forward(r, {act.raw_data(), w.raw_data(), h0.raw_data(), c_prev.raw_data(),
                                 c.raw_data(), tc.raw_data(), h.raw_data(), nullptr, nullptr});
  const Tensor dpre = loom::empty({B, 4 * H}, DType::Float64),
               dc = loom::empty({B, H}, DType::Float64);
  fk.lstm_recurrence_backward(
      r, {dh.raw_data(), dc_next.raw_data(), w.raw_data(), c_prev.raw_data(), act.raw_data(),
          c.raw_data(), tc.raw_data(), dpre.raw_data(), nullptr, nullptr, dc.raw_data()});
  const double *P = pre.data_ptr<double>(), *A = act.data_ptr<double>(),
               *DP = dpre.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const int64_t e = b * H + j;
      const double* p = P + b * 4 * H + j;
      const auto f = loom::kernels::lstm_pointwise_forward<double>({p[0], p[H], p[2 * H], p[3 * H]},
                                                                   c_prev.data_ptr<double>()[e]);
      const double* a = A + b * 4 * H + j;
      ASSERT_NEAR(a[0], f.act.i, 1e-13);
      ASSERT_NEAR(a[H], f.act.f, 1e-13);
      ASSERT_NEAR(a[2 * H], f.act.g, 1e-13);
      ASSERT_NEAR(a[3 * H], f.act.o, 1e-13);
      ASSERT_NEAR(c.data_ptr<double>()[e], f.c, 1e-13);
      ASSERT_NEAR(h.data_ptr<double>()[e], f.h, 1e-13);
      const auto d = loom::kernels::lstm_pointwise_backward<double>(
          dh.data_ptr<double>()[e], dc_next.data_ptr<double>()[e], f.act,
          c_prev.data_ptr<double>()[e], f.tanh_c);
      const double* dp = DP + b * 4 * H + j;
      ASSERT_NEAR(dp[0], d.d_pre.i, 1e-13);
      ASSERT_NEAR(dp[H], d.d_pre.f, 1e-13);
      ASSERT_NEAR(dp[2 * H], d.d_pre.g, 1e-13);
      ASSERT_NEAR(dp[3 * H], d.d_pre.o, 1e-13);
      ASSERT_NEAR(dc.data_ptr<double>()[e], d.dc_prev, 1e-13);
    }
  }
}

// ---- 3. the Tensor ops ----------------------------------------------------------------------

struct LayerInputs {
  Tensor x, h0, c0, w_ih, w_hh, b_ih, b_hh;
};

LayerInputs layer_inputs(int64_t T, int64_t B, int64_t in, int64_t H, DType dt, uint64_t seed) {
  loom::Generator g(seed);
  auto u = [&](const loom::Shape& s) { return loom::uniform(s, -0.5, 0.5, g, dt); };
  return {u({T, B, in}), u({B, H}),  u({B, H}), u({4 * H, in}),
          u({4 * H, H}), u({4 * H}), u({4 * H})};
}

double max_diff(const Tensor& a, const Tensor& b) {
  return loom::max(loom::abs(loom::sub(a, b))).item<double>();
}

// Given x, w_ih and bias, the CPU recurrence projects each step's input itself (what
// tensor/lstm.cpp asks of a backend whose lstm_projects_input() is true): the gates, c and h of
// projecting every step first in one GEMM (what a GPU is given). Bit for bit on the packed
// bfloat16 GEMM, whose tiles round alike whatever rows a product has; float32 GEMMs (Eigen) may
// sum in another order for 40 rows than for 320.
TEST(LstmRecurrence, ProjectingTheInputStepByStepGivesWhatOneProjectionGives) {
  const int64_t T = 8, B = 40, H = 48, in = 24;  // ~4.4M multiply-adds: rows split over threads
  const DType st = DType::Float32;
  for (DType gdt : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(loom::dtype_name(gdt));
    loom::Generator g(5);
    auto u = [&](const loom::Shape& shape, DType dt) {
      return loom::uniform(shape, -0.5, 0.5, g, st).to(dt);
    };
    const Tensor x = u({T, B, in}, gdt), w_ih = u({4 * H, in}, gdt), w_hh = u({4 * H, H}, gdt),
                 bias = u({4 * H}, st), h0 = u({B, H}, gdt), c0 = u({B, H}, st);
    loom::cpu::CpuBackend& be = loom::cpu::cpu_backend();
    const loom::LstmRecurrence r{T, B, H, false, st, gdt, false};
    auto run = [&](bool project) {
      Tensor gates = loom::empty({T, B, 4 * H}, st);
      if (!project) {  // bias in every row, then += x W_ih^T for all steps
        gates = bias.expand({T, B, 4 * H}).contiguous();
        loom::MatmulArgs a;
        a.m = T * B, a.n = 4 * H, a.k = in, a.trans_b = true, a.lda = in, a.ldb = in;
        a.ldc = 4 * H, a.beta = 1.0;
        if (gdt == st)
          be.matmul(x.raw_data(), w_ih.raw_data(), gates.raw_data(), st, a);
        else
          be.matmul_mixed(x.raw_data(), w_ih.raw_data(), gdt, gates.raw_data(), st, a);
      }
      const Tensor c = loom::empty({T, B, H}, st), tc = loom::empty({T, B, H}, st),
                   h = loom::empty({T, B, H}, st), hg = loom::empty({T, B, H}, gdt);
      loom::LstmForwardBuffers f{
          gates.raw_data(), w_hh.raw_data(), h0.raw_data(), c0.raw_data(),
          c.raw_data(),     tc.raw_data(),   h.raw_data(),  gdt != st ? hg.raw_data() : nullptr};
      if (project) {
        f.x = x.raw_data(), f.w_ih = w_ih.raw_data(), f.bias = bias.raw_data(), f.in = in;
      }
      be.lstm_recurrence_forward(r, f);
      return std::vector<Tensor>{gates, c, h};
    };
    const std::vector<Tensor> once = run(false), stepwise = run(true);
    for (std::size_t i = 0; i < once.size(); ++i) {
      const std::vector<float> a = once[i].to_vector<float>(), b = stepwise[i].to_vector<float>();
      if (gdt == DType::BFloat16) {
        EXPECT_EQ(a, b) << "output " << i;
      } else {
        EXPECT_LE(max_diff(once[i], stepwise[i]), 1e-5) << "output " << i;
      }
    }
  }
}

double max_abs(const Tensor& a) {
  return loom::max(loom::abs(a)).item<double>();
}

TEST(LstmLayerOp, ABatchFirstInputGivesTheTimeMajorNumbersAndItsOwnStridesBack) {
  const int64_t T = 5, B = 3, in = 4, H = 6;
  const LayerInputs p = layer_inputs(T, B, in, H, DType::Float64, 3);
  const Tensor x_bf =
      p.x.transpose(0, 1).contiguous().transpose(0, 1);  // [T, B, in] view of [B, T, in]
  loom::LstmLayerArgs args;
  args.gemm_dtype = DType::Float64;
  for (bool reverse : {false, true}) {
    args.reverse = reverse;
    const loom::LstmLayerForward a =
        loom::lstm_layer_forward(p.x, p.h0, p.c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh, args);
    const loom::LstmLayerForward b =
        loom::lstm_layer_forward(x_bf, p.h0, p.c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh, args);
    EXPECT_EQ(max_diff(a.y, b.y), 0.0);
    loom::Generator g(9);
    const Tensor dy = loom::uniform({T + 1, B, H}, -1, 1, g, DType::Float64);
    const loom::LstmLayerGrads ga = loom::lstm_layer_backward(dy, a.saved);
    const loom::LstmLayerGrads gb = loom::lstm_layer_backward(dy, b.saved);
    EXPECT_EQ(gb.x.strides(), x_bf.strides());
    EXPECT_LE(max_diff(ga.x, gb.x), 1e-15);
    EXPECT_LE(max_diff(ga.w_ih, gb.w_ih), 1e-15);
  }
}

TEST(LstmLayerOp, MixedPrecisionKeepsAFloat32StateAndOutput) {
  const LayerInputs p = layer_inputs(4, 2, 3, 5, DType::Float32, 4);
  loom::LstmLayerArgs args;
  const loom::LstmLayerForward ref =
      loom::lstm_layer_forward(p.x, p.h0, p.c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh, args);
  const loom::LstmLayerGrads ref_g = loom::lstm_layer_backward(loom::ones({5, 2, 5}), ref.saved);
  // 16-bit operands, float32 accumulation: within 10 roundings of float16 (2^-11) or 2.5 of
  // bfloat16 (2^-8) of the float32 layer, as in the recurrence's test above.
  for (const auto& [dt, tol] :
       {std::pair{DType::Float16, 5e-3}, std::pair{DType::BFloat16, 1e-2}}) {
    SCOPED_TRACE(loom::dtype_name(dt));
    args.gemm_dtype = dt;
    const loom::LstmLayerForward f = loom::lstm_layer_forward(p.x, p.h0, p.c0, p.w_ih.to(dt),
                                                              p.w_hh.to(dt), p.b_ih, p.b_hh, args);
    EXPECT_EQ(f.y.dtype(), DType::Float32);
    EXPECT_EQ(f.saved.x.dtype(), dt);
    EXPECT_EQ(f.saved.h.dtype(), dt);
    EXPECT_LE(max_diff(f.y, ref.y), tol);
    const loom::LstmLayerGrads g = loom::lstm_layer_backward(loom::ones({5, 2, 5}), f.saved);
    EXPECT_EQ(g.w_hh.dtype(), DType::Float32);
    EXPECT_LE(max_diff(g.w_hh, ref_g.w_hh), tol * std::max(1.0, max_abs(ref_g.w_hh)));
    EXPECT_LE(max_diff(g.x, ref_g.x), tol * std::max(1.0, max_abs(ref_g.x)));
  }
}

TEST(LstmLayerOp, RefusesBadArgumentsNamingThem) {
  const LayerInputs p = layer_inputs(3, 2, 4, 5, DType::Float32, 5);
  loom::LstmLayerArgs args;
  auto run = [&](const Tensor& x, const Tensor& w_ih, const Tensor& b_ih, const Tensor& h0) {
    loom::lstm_layer_forward(x, h0, p.c0, w_ih, p.w_hh, b_ih, p.b_hh, args);
  };
  EXPECT_NE(loom::test::error_of([&] {
              run(p.x, p.w_ih.narrow(1, 0, 3), p.b_ih, p.h0);
            }).find("weight_ih"),
            std::string::npos);
  EXPECT_NE(
      loom::test::error_of([&] { run(p.x.narrow(0, 0, 0), p.w_ih, p.b_ih, p.h0); }).find("empty"),
      std::string::npos);
  EXPECT_NE(
      loom::test::error_of([&] { run(p.x, p.w_ih, p.b_ih, p.h0.narrow(0, 0, 1)); }).find("h0"),
      std::string::npos);
  EXPECT_NE(loom::test::error_of([&] {
              run(p.x, p.w_ih, p.b_ih.to(DType::Float16), p.h0);
            }).find("float32 or float64"),
            std::string::npos);
  args.gemm_dtype = DType::Float16;  // float16 GEMMs need a float32 state
  EXPECT_NE(loom::test::error_of([&] {
              loom::lstm_layer_forward(p.x.to(DType::Float64), p.h0, p.c0, p.w_ih, p.w_hh,
                                       p.b_ih.to(DType::Float64), p.b_hh.to(DType::Float64), args);
            }).find("float16 with a float32 state"),
            std::string::npos);
}

TEST(LstmLayerOp, ThePersistentRecurrenceIsAvailableOnTheCpu) {
  EXPECT_TRUE(loom::lstm_persistent_available(DType::Float32, 100, loom::kCPU));
  EXPECT_TRUE(loom::lstm_persistent_available(DType::Float64, 1000, loom::kCPU));
}

}  // namespace
