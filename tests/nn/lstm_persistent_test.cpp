// tests/nn/lstm_persistent_test.cpp: the persistent LSTM (LstmImpl::Persistent) on the CPU
// (labs 04 and 06).
//
// 1. The backend contract (Backend::lstm_persistent_forward/backward, CPU twin
//    tensor/cpu/cpu_lstm_persistent.cpp) against the plain double reference of
//    tests/nn/lstm_persistent_reference.h. Covers what the layer never exercises: reverse, dh_n,
//    dc_n, null optional outputs, and the aliasing the contract allows (act over xproj, dgates
//    over act).
// 2. The layer through lstm_forward: gradcheck in float64 (1 and 2 layers, one and two
//    directions, batch_first, with and without h0/c0, T = 1), and equality with the fused layer
//    (1e-10 in float64 on random sizes; float rounding in float32 where rows split over threads).
// 3. The module: LSTMOptions::impl(Persistent), set_impl, retain_graph, the float16 fallback.
// The CUDA kernels are run on the CPU against the same reference in
// tests/cuda/lstm_persistent_emulation_test.cpp, and on a GPU against this CPU twin in
// tests/cuda/parity_lstm_persistent_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "autograd/gradcheck.h"
#include "tensor/backend.h"
#include "tests/common/error_of.h"
#include "tests/nn/lstm_persistent_reference.h"
#include "tests/nn/lstm_test_util.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::Variable;
using loom::nn::LstmImpl;
using loom::nn::testing::Buffers;
using loom::nn::testing::LstmCase;
using loom::nn::testing::Sizes;

// ---- 1. the backend contract against a plain reference ------------------------------------

Tensor tensor_of(const std::vector<double>& v, DType dt) {
  return loom::from_vector<double>(v, {static_cast<int64_t>(v.size())}).to(dt);
}

// max |got - want| / max(1, max |want|): the tensors' values are O(1).
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

// Runs the CPU backend's pair on `b`'s inputs in dtype dt and compares every output with the
// reference. alias: act written over xproj, dgates over act (the contract allows both);
// optional: pass h_n, c_n, dh_n, dc_n, dh0, dc0 (else null).
void check_contract(const Sizes& s, bool reverse, bool alias, bool optional, DType dt, double tol) {
  SCOPED_TRACE("T " + std::to_string(s.T) + " B " + std::to_string(s.B) + " H " +
               std::to_string(s.H) + (reverse ? " reverse" : "") + (alias ? " aliased" : "") +
               (optional ? " with optional buffers" : " without optional buffers") + " " +
               loom::dtype_name(dt));
  Buffers b = loom::nn::testing::random_inputs(s, 17);
  if (!optional) {  // null dh_n / dc_n mean zero
    std::fill(b.dh_n.begin(), b.dh_n.end(), 0.0);
    std::fill(b.dc_n.begin(), b.dc_n.end(), 0.0);
  }
  loom::nn::testing::reference(s, reverse, b);
  loom::Backend& be = loom::backend_for(loom::kCPU);
  const int64_t n4 = s.T * s.B * 4 * s.H, n = s.T * s.B * s.H, bh = s.B * s.H;
  const Tensor xproj = tensor_of(b.xproj, dt), w = tensor_of(b.w, dt), h0 = tensor_of(b.h0, dt),
               c0 = tensor_of(b.c0, dt);
  // Outputs start as NaN, so an element nobody writes cannot pass.
  auto nan = [&](int64_t k) { return loom::full({k}, NAN, dt); };
  const Tensor act = alias ? xproj.clone() : nan(n4), c = nan(n), tc = nan(n), h = nan(n),
               hn = nan(bh), cn = nan(bh);
  const void* xin = alias ? act.raw_data() : xproj.raw_data();
  be.lstm_persistent_forward(xin, w.raw_data(), h0.raw_data(), c0.raw_data(), act.raw_data(),
                             c.raw_data(), tc.raw_data(), h.raw_data(),
                             optional ? hn.raw_data() : nullptr, optional ? cn.raw_data() : nullptr,
                             reverse, dt, s.T, s.B, s.H);
  EXPECT_LE(rel_err(act, b.act), tol) << "act";
  EXPECT_LE(rel_err(c, b.c), tol) << "c";
  EXPECT_LE(rel_err(tc, b.tanh_c), tol) << "tanh_c";
  EXPECT_LE(rel_err(h, b.h), tol) << "h";
  if (optional) {
    EXPECT_LE(rel_err(hn, b.hn), tol) << "h_n";
    EXPECT_LE(rel_err(cn, b.cn), tol) << "c_n";
  }

  const Tensor dh = tensor_of(b.dh, dt), dh_n = tensor_of(b.dh_n, dt), dc_n = tensor_of(b.dc_n, dt);
  const Tensor dgates = alias ? act : nan(n4), dh0 = nan(bh), dc0 = nan(bh);
  be.lstm_persistent_backward(dh.raw_data(), optional ? dh_n.raw_data() : nullptr,
                              optional ? dc_n.raw_data() : nullptr, w.raw_data(), act.raw_data(),
                              c.raw_data(), c0.raw_data(), tc.raw_data(), dgates.raw_data(),
                              optional ? dh0.raw_data() : nullptr,
                              optional ? dc0.raw_data() : nullptr, reverse, dt, s.T, s.B, s.H);
  EXPECT_LE(rel_err(dgates, b.dgates), tol) << "dgates";
  if (optional) {
    EXPECT_LE(rel_err(dh0, b.dh0), tol) << "dh0";
    EXPECT_LE(rel_err(dc0, b.dc0), tol) << "dc0";
  } else {
    EXPECT_TRUE(std::isnan(dh0.to_vector<double>()[0])) << "dh0 was null: nothing written";
  }
}

TEST(LstmPersistentBackend, MatchesThePlainReferenceInFloat64) {
  for (const Sizes& s : {Sizes{1, 1, 1}, Sizes{4, 3, 5}, Sizes{6, 2, 7}})
    for (bool reverse : {false, true})
      for (bool alias : {false, true})
        for (bool optional : {false, true})
          check_contract(s, reverse, alias, optional, DType::Float64, 1e-12);
}

TEST(LstmPersistentBackend, MatchesThePlainReferenceInFloat32WithRowsSplitOverThreads) {
  // T*B*4H*H ~ 2.9M >= 2 x 2^20 multiply-adds: the CPU twin splits the 40 rows into 2 slices
  // (with 2 or more threads).
  check_contract({8, 40, 48}, false, true, true, DType::Float32, 1e-5);
  check_contract({8, 40, 48}, true, false, true, DType::Float32, 1e-5);
}

TEST(LstmPersistentBackend, RejectsBadDtypesAndSizes) {
  loom::Backend& be = loom::backend_for(loom::kCPU);
  EXPECT_TRUE(be.lstm_persistent_fits(DType::Float32, 100));
  EXPECT_TRUE(be.lstm_persistent_fits(DType::Float64, 1000));
  EXPECT_FALSE(be.lstm_persistent_fits(DType::Float16, 100));
  const Tensor g = loom::zeros({4}, DType::Int32), s = loom::zeros({1}, DType::Int32);
  const std::string e1 = loom::test::error_of([&] {
    be.lstm_persistent_forward(g.raw_data(), g.raw_data(), s.raw_data(), s.raw_data(), g.raw_data(),
                               s.raw_data(), s.raw_data(), s.raw_data(), nullptr, nullptr, false,
                               DType::Int32, 1, 1, 1);
  });
  EXPECT_NE(e1.find("lstm_persistent_forward"), std::string::npos) << e1;
  EXPECT_NE(e1.find("int32"), std::string::npos) << e1;
  const Tensor f = loom::zeros({4}, DType::Float32);
  const std::string e2 = loom::test::error_of([&] {
    be.lstm_persistent_backward(f.raw_data(), nullptr, nullptr, f.raw_data(), f.raw_data(),
                                f.raw_data(), f.raw_data(), f.raw_data(), f.raw_data(), nullptr,
                                nullptr, false, DType::Float32, 0, 1, 1);
  });
  EXPECT_NE(e2.find("bad sizes T 0"), std::string::npos) << e2;
}

// ---- 2. the layer: gradcheck, and equality with the fused layer ---------------------------

std::vector<LstmCase> gradcheck_cases() {
  std::vector<LstmCase> v;
  for (int layers : {1, 2})
    for (bool bidir : {false, true})
      for (bool state : {false, true}) {
        LstmCase c;
        c.layers = layers;
        c.bidirectional = bidir;
        c.with_state = state;
        c.batch_first = layers == 2 && state;  // one batch_first case per layer count
        v.push_back(c);
      }
  LstmCase one_step;  // T = 1: the backward's recurrent matvec never runs; dh0 is da_0 W_hh
  one_step.T = 1;
  one_step.with_state = true;
  one_step.bidirectional = true;
  v.push_back(one_step);
  return v;
}

class LstmPersistentGradcheck : public ::testing::TestWithParam<LstmCase> {};

TEST_P(LstmPersistentGradcheck, MatchesFiniteDifferences) {
  const LstmCase c = GetParam();
  const std::vector<Tensor> inputs = loom::nn::testing::make_inputs(c, DType::Float64, 7);
  loom::GradcheckOptions opt;
  opt.seed = 5;
  EXPECT_GRADCHECK(
      [c](const std::vector<Variable>& in) {
        return loom::nn::testing::run_packed(c, LstmImpl::Persistent, in);
      },
      inputs, opt);
}

INSTANTIATE_TEST_SUITE_P(Lab08, LstmPersistentGradcheck, ::testing::ValuesIn(gradcheck_cases()),
                         [](const auto& info) { return info.param.name(); });

using loom::nn::testing::max_abs_diff;

// Persistent against fused (tests/nn/lstm_test_util.h: output, h_n, c_n, every input's gradient).
void expect_same_as_fused(const LstmCase& c, DType dtype, double tol, uint64_t seed) {
  loom::nn::testing::expect_impls_agree(c, LstmImpl::Fused, LstmImpl::Persistent, dtype, tol, seed);
}

TEST(LstmPersistentLayer, EqualsFusedInFloat64OnRandomSizes) {
  std::mt19937 rng(606);
  for (int k = 0; k < 10; ++k) {
    expect_same_as_fused(loom::nn::testing::random_case(rng, 7, 6, 6, 7, 2), DType::Float64, 1e-10,
                         300 + k);
  }
}

TEST(LstmPersistentLayer, EqualsFusedInFloat32WhereRowsSplitOverThreads) {
  LstmCase c;
  c.T = 6, c.B = 48, c.in = 20, c.H = 48;  // T*B*4H*H ~ 2.7M: 2 row slices
  c.bidirectional = true;
  c.with_state = true;
  c.batch_first = true;
  expect_same_as_fused(c, DType::Float32, 1e-5, 31);
}

// ---- 3. the module -----------------------------------------------------------------------

TEST(LstmPersistentModule, ImplOptionAndSetImplComputeTheSameFunction) {
  loom::Generator gen(12);
  loom::nn::LSTM lstm(
      loom::nn::LSTMOptions(5, 6).num_layers(2).bidirectional(true).impl(LstmImpl::Persistent),
      gen);
  EXPECT_EQ(lstm.options().impl(), LstmImpl::Persistent);
  const Variable x(loom::uniform({4, 3, 5}, -1, 1, gen, DType::Float32));
  const loom::nn::LstmOutput p = lstm.forward_full(x);
  lstm.set_impl(LstmImpl::Fused);
  const loom::nn::LstmOutput f = lstm.forward_full(x);
  EXPECT_EQ(p.output.shape(), loom::Shape({4, 3, 12}));
  EXPECT_LE(max_abs_diff(p.output.data(), f.output.data()), 1e-6);
  EXPECT_LE(max_abs_diff(p.h_n.data(), f.h_n.data()), 1e-6);
  EXPECT_LE(max_abs_diff(p.c_n.data(), f.c_n.data()), 1e-6);
}

TEST(LstmPersistentModule, BackwardTwiceWithRetainGraphDoublesTheGradients) {
  LstmCase c;
  c.T = 4;
  c.with_state = true;
  const std::vector<Tensor> inputs = loom::nn::testing::make_inputs(c, DType::Float64, 5);
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t, true);
  const Variable y = loom::nn::testing::run_packed(c, LstmImpl::Persistent, vars);
  const Tensor u = loom::ones(y.shape(), DType::Float64);
  y.backward(u, /*retain_graph=*/true);
  std::vector<std::vector<double>> once;
  for (const Variable& v : vars)
    once.push_back(v.grad().to_vector<double>());
  y.backward(u);
  for (size_t k = 0; k < vars.size(); ++k) {
    const std::vector<double> twice = vars[k].grad().to_vector<double>();
    for (size_t i = 0; i < once[k].size(); ++i)
      ASSERT_NEAR(twice[i], 2 * once[k][i], 1e-12) << "input " << k << " element " << i;
  }
}

TEST(LstmPersistentModule, AvailabilityAndTheFloat16Fallback) {
  EXPECT_TRUE(loom::nn::lstm_persistent_available(DType::Float32, 100, loom::kCPU));
  EXPECT_TRUE(loom::nn::lstm_persistent_available(DType::Float64, 64, loom::kCPU));
  EXPECT_FALSE(loom::nn::lstm_persistent_available(DType::Float16, 64, loom::kCPU));
  // float16 is not available, so Persistent runs the fused layer: whatever fused does with it
  // (refuse it, today), Persistent does the same.
  loom::Generator gen(3);
  loom::nn::LSTM lstm(loom::nn::LSTMOptions(3, 2).impl(LstmImpl::Persistent), gen);
  lstm.to(DType::Float16);
  const Variable x(loom::uniform({2, 1, 3}, -1, 1, gen, DType::Float16));
  auto outcome = [&](LstmImpl impl) -> std::string {
    lstm.set_impl(impl);
    try {
      const std::vector<double> y = lstm.forward(x).data().to_vector<double>();
      std::string s;
      for (double v : y)
        s += std::to_string(v) + " ";
      return s;
    } catch (const loom::Error& e) {
      return std::string("error: ") + e.what();
    }
  };
  EXPECT_EQ(outcome(LstmImpl::Persistent), outcome(LstmImpl::Fused));
}

}  // namespace
