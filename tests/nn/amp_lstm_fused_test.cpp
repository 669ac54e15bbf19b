// tests/nn/amp_lstm_fused_test.cpp: the fused LSTM under autocast (nn/lstm_fused.cpp), lab 07.
//
// Compared on the same float32 inputs and weights: the fused layer under autocast (F16), the
// composed layer under autocast (C16: its matmuls go through autograd/ops/matmul_autocast.cpp)
// and the fused layer in float32 (F32); on a CUDA device also F16 on the GPU against the CPU.
// The same comparisons run with bfloat16 autocast (B16 for F16), with bfloat16's unit roundoff.
// The tolerances are bounds, derived rather than tuned: the forward one elementwise (its
// argument is above rho_fused, its computation in reference()), the gradients' norm-wise (above
// expect_grad_close). docs/labs/07-mixed-precision.md, "How close", sums them up.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "autograd/functions.h"
#include "cuda/runtime/device.h"
#include "nn/amp/autocast.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"
#include "tests/nn/lstm_test_util.h"

namespace loom::nn {
namespace {

using testing::LstmCase;

constexpr double kU = 1.0 / 2048;         // 2^-11, float16's unit roundoff
constexpr double kUBf16 = 1.0 / 256;      // 2^-8, bfloat16's (8 significand bits, 7 stored)
constexpr double kF32 = 1.0 / (1 << 24);  // 2^-24, float32's
constexpr double kSecondOrder = 1.25;     // room for the terms the first-order bound drops
constexpr double kFloat32Floor = 1e-5;    // float32 rounding of O(1) values over a few steps
const Device kCuda{DeviceType::CUDA, 0};

// The forward bound. float16 rounds with relative error at most u = 2^-11. One gate
// pre-activation a = x W_ih^T + h W_hh^T + b is, in F16, a sum of products of float16-rounded
// factors accumulated in float32, so it is off from the exact sum (with the same h) by at most
// rho_F (|x| |W_ih|^T + |h| |W_hh|^T), rho_F = 2u + u^2 + k 2^-24 (two rounded factors, a
// k-term float32 sum). C16 also rounds each GEMM's result to float16: rho_C = rho_F + u (1 + u)^2.
// That error then travels: through the gates (sigmoid' = s(1-s), tanh' = 1 - t^2), into
// c_t = f c_{t-1} + i g and h_t = o tanh(c_t), and through h_{t-1}'s error times |W_hh| into the
// next step's pre-activations. reference() runs the LSTM in float64 and this first-order
// propagation beside it, elementwise, giving e(rho) with every error sign taken at its worst (a
// stacked layer's input carries the e of the layer below): |F16 - exact| <= e(rho_F), so
// |F16 - C16| <= e(rho_F + rho_C) (e is linear in rho) and |F16 - F32| <= e(rho_F) + float32's
// own error. Checked with a factor 1.25 for the second-order terms left out (relative size ~u)
// and a floor of 1e-5 for float32 rounding (each test prints how much of the bound it used).
// The argument holds for any 16-bit format that rounds to nearest: u is its unit roundoff.
double rho_fused(int64_t k, double u = kU) {
  return 2 * u + u * u + static_cast<double>(k) * kF32;
}
double rho_composed(int64_t k, double u = kU) {
  return rho_fused(k, u) + u * (1 + u) * (1 + u);
}

// make_inputs' U(-1, 1) everywhere, with the weights and biases scaled by 1/sqrt(H) (PyTorch's
// init bound), so that the gates are not saturated and errors have somewhere to go.
std::vector<Tensor> make_case_inputs(const LstmCase& c, uint64_t seed) {
  std::vector<Tensor> v = testing::make_inputs(c, DType::Float32, seed);
  const std::size_t first_param = c.with_state ? 3 : 1;
  for (std::size_t i = first_param; i < v.size(); ++i)
    v[i] = mul(v[i], 1.0 / std::sqrt(static_cast<double>(c.H)));
  return v;
}

struct Outcome {
  Tensor value;  // run_packed's flat concat(output, h_n, c_n), on the CPU
  std::vector<Tensor> grads;
};

// One forward (under autocast if `autocast`) and one backward of <value, upstream> (outside
// it, as a training step does) on `device`.
Outcome run(const LstmCase& c, LstmImpl impl, bool autocast, const std::vector<Tensor>& inputs,
            const Tensor& upstream, Device device = kCPU, DType low = DType::Float16) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t.to(device).clone(), true);
  Variable y;
  {
    amp::AutocastGuard guard(low, autocast);
    y = testing::run_packed(c, impl, vars);
  }
  y.backward(upstream.to(device));
  Outcome r{y.data().to(kCPU), {}};
  for (const Variable& v : vars)
    r.grads.push_back(v.grad().to(kCPU));
  return r;
}

// The float64 LSTM of one direction and, beside it, the first-order error bound e for rho = 1
// (see rho_fused). x [T, B, in] time-major, ex its own error bound (e of the layer below,
// zeros for the input); h0, c0 [B, H]; all float64.
struct Reference {
  Tensor out, c_n;          // [T, B, H], [B, H]
  Tensor out_err, c_n_err;  // the same shapes: e(1)
};
Reference reference(const Tensor& x, const Tensor& ex, const Tensor& h0, const Tensor& c0,
                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b, bool reverse) {
  const int64_t T = x.size(0);
  const Tensor w_ih_t = w_ih.t(), w_hh_t = w_hh.t();
  const Tensor aw_ih_t = abs(w_ih).t(), aw_hh_t = abs(w_hh).t();
  Tensor h = h0, c = c0, eh = zeros_like(h0), ec = zeros_like(c0);
  std::vector<Tensor> outs(static_cast<std::size_t>(T)), errs(outs.size());
  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = reverse ? T - 1 - step : step;
    const Tensor xt = x.select(0, t);
    const std::vector<Tensor> a = chunk(matmul(xt, w_ih_t) + matmul(h, w_hh_t) + b, 4, 1);
    // This step's rounding (per unit rho) plus x_t's and h_{t-1}'s errors carried through |W|.
    const std::vector<Tensor> ea = chunk(matmul(abs(xt), aw_ih_t) + matmul(abs(h), aw_hh_t) +
                                             matmul(ex.select(0, t), aw_ih_t) + matmul(eh, aw_hh_t),
                                         4, 1);
    const Tensor i = sigmoid(a[0]), f = sigmoid(a[1]), g = tanh(a[2]), o = sigmoid(a[3]);
    const Tensor ei = i * (1.0 - i) * ea[0], ef = f * (1.0 - f) * ea[1];
    const Tensor eg = (1.0 - g * g) * ea[2], eo = o * (1.0 - o) * ea[3];
    ec = f * ec + abs(c) * ef + abs(g) * ei + i * eg;  // c is still c_{t-1} here
    c = f * c + i * g;
    const Tensor tc = tanh(c);
    eh = abs(tc) * eo + o * (1.0 - tc * tc) * ec;
    h = o * tc;
    outs[static_cast<std::size_t>(t)] = h;
    errs[static_cast<std::size_t>(t)] = eh;
  }
  return {stack(outs, 0), c, stack(errs, 0), ec};
}

// The exact value and e(1), both laid out as run_packed's flat output: layer by layer, each
// layer's input error being the error of the layer below's output.
struct PackedReference {
  Tensor value, err;
};
PackedReference packed_reference(const LstmCase& c, const std::vector<Tensor>& inputs) {
  auto f64 = [](const Tensor& t) { return t.to(DType::Float64); };
  Tensor x = c.batch_first ? f64(inputs[0]).transpose(0, 1).contiguous() : f64(inputs[0]);
  Tensor ex = zeros_like(x);
  const std::size_t p0 = c.with_state ? 3 : 1;
  std::vector<Tensor> h_n, h_err, c_n, c_err;  // [B, H] each, row layer*D + direction
  for (int64_t l = 0; l < c.layers; ++l) {
    std::vector<Tensor> out, out_err;
    for (int64_t d = 0; d < c.D(); ++d) {
      const int64_t row = l * c.D() + d;
      const Tensor h0 =
          c.with_state ? f64(inputs[1]).select(0, row) : zeros({c.B, c.H}, DType::Float64);
      const Tensor c0 =
          c.with_state ? f64(inputs[2]).select(0, row) : zeros({c.B, c.H}, DType::Float64);
      const std::size_t k = p0 + 4 * static_cast<std::size_t>(row);
      const Reference r = reference(x, ex, h0, c0, f64(inputs[k]), f64(inputs[k + 1]),
                                    f64(inputs[k + 2]) + f64(inputs[k + 3]), d == 1);
      const int64_t last = d == 1 ? 0 : c.T - 1;
      out.push_back(r.out);
      out_err.push_back(r.out_err);
      h_n.push_back(r.out.select(0, last));
      h_err.push_back(r.out_err.select(0, last));
      c_n.push_back(r.c_n);
      c_err.push_back(r.c_n_err);
    }
    x = concat(out, 2);  // [T, B, D*H]: the next layer's input, forward half first
    ex = concat(out_err, 2);
  }
  auto pack = [&](Tensor seq, const std::vector<Tensor>& h, const std::vector<Tensor>& cn) {
    if (c.batch_first) seq = seq.transpose(0, 1);
    return concat({seq.reshape({-1}), stack(h, 0).reshape({-1}), stack(cn, 0).reshape({-1})}, 0);
  };
  return {pack(x, h_n, c_n), pack(ex, h_err, c_err)};
}

// |got - want| <= kSecondOrder * rho * err + kFloat32Floor everywhere; prints the largest
// fraction of that bound any element used.
void expect_within_bound(const Tensor& got, const Tensor& want, const Tensor& err, double rho,
                         const char* what) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>(), e = err.to_vector<double>();
  ASSERT_EQ(g.size(), w.size());
  ASSERT_EQ(g.size(), e.size());
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double bound = kSecondOrder * rho * e[i] + kFloat32Floor;
    ASSERT_LE(std::fabs(g[i] - w[i]), bound)
        << what << ": element " << i << " is " << g[i] << ", expected " << w[i];
    worst = std::max(worst, std::fabs(g[i] - w[i]) / bound);
  }
  std::printf("  %-34s used %5.1f%% of its bound\n", what, 100 * worst);
}

// max|got - want| <= tau * max|want|: the gradients' norm-wise bound, stated rather than derived
// element by element. Each product in a backward GEMM has rounded factors (dA, W, and x or h: 3u
// in F16; C16 also rounds the result: 4u), and a gradient sums terms that crossed up to T steps
// of the recurrence, each adding its rounding (the recurrence of these stable weights does not
// amplify), plus the forward's error: max|g - g'| <= T * (rho terms + 1) u * max|g'|, i.e. T 8u
// for F16 vs C16 and T 4u for F16 vs F32. This is a worst case (every rounding the same sign;
// random signs grow like sqrt(T)): measured errors are 1e-4..6e-4, 20-100x inside, while a
// dropped term (e.g. dW_hh's h0 product) or a misplaced thread slice is off by O(0.1) and fails.
void expect_grad_close(const Tensor& got, const Tensor& want, double tau, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(got.dtype(), want.dtype()) << what;
  const double scale = max(abs(want.to(DType::Float64))).item<double>();
  const double diff = max(abs(sub(got.to(DType::Float64), want.to(DType::Float64)))).item<double>();
  EXPECT_LE(diff, tau * scale) << what << ": max |diff| " << diff << ", max |g| " << scale;
  std::printf("  %-34s rel. error %.2e (bound %.2e)\n", what.c_str(), diff / scale, tau);
}

const std::vector<LstmCase>& cases() {
  static const std::vector<LstmCase> all = [] {
    LstmCase plain;  // T8 B3 in5 H16
    plain.T = 8, plain.B = 3, plain.in = 5, plain.H = 16;
    LstmCase bidir = plain;  // the reverse direction too, from a given state
    bidir.T = 7, bidir.B = 2, bidir.in = 4, bidir.H = 8, bidir.bidirectional = true;
    bidir.with_state = true;
    LstmCase batch_first = plain;  // the batch-major copy in, dx written batch-major
    batch_first.T = 6, batch_first.B = 4, batch_first.in = 6, batch_first.H = 8;
    batch_first.batch_first = true, batch_first.with_state = true;
    LstmCase stacked = plain;  // layer 2 reads layer 1's float32 output (and its error)
    stacked.T = 5, stacked.B = 2, stacked.in = 4, stacked.H = 8, stacked.layers = 2;
    stacked.bidirectional = true, stacked.with_state = true;
    return std::vector<LstmCase>{plain, bidir, batch_first, stacked};
  }();
  return all;
}

// (a) and (b) for one case: F16 against C16 and against F32, forward and every gradient; with
// `low` = bfloat16 the same for B16, u = 2^-8 in every bound.
void compare_case(const LstmCase& c, uint64_t seed, DType low = DType::Float16) {
  const double u = low == DType::BFloat16 ? kUBf16 : kU;
  SCOPED_TRACE(c.name());
  std::printf("%s\n", c.name().c_str());
  const std::vector<Tensor> inputs = make_case_inputs(c, seed);
  const PackedReference ref = packed_reference(c, inputs);
  Generator gen(seed + 1);
  const Tensor upstream = uniform({ref.value.numel()}, -1, 1, gen);
  const Outcome f16 = run(c, LstmImpl::Fused, true, inputs, upstream, kCPU, low);
  const Outcome c16 = run(c, LstmImpl::Composed, true, inputs, upstream, kCPU, low);
  const Outcome f32 = run(c, LstmImpl::Fused, false, inputs, upstream);
  const int64_t k = c.in + c.D() * c.H + c.H;  // the longest GEMM sum, generously

  EXPECT_EQ(f16.value.dtype(), DType::Float32);  // float32 out, h_n, c_n (tensor/lstm.h)
  expect_within_bound(f16.value, ref.value, ref.err, rho_fused(k, u), "forward: F16 vs exact");
  expect_within_bound(f16.value, c16.value, ref.err, rho_fused(k, u) + rho_composed(k, u),
                      "forward: F16 vs C16");
  expect_within_bound(f16.value, f32.value, ref.err, rho_fused(k, u), "forward: F16 vs F32");
  // ... and float16 did run: F16 is not the float32 result.
  EXPECT_GT(max(abs(sub(f16.value, f32.value))).item<double>(), kFloat32Floor);

  const double T = static_cast<double>(c.T);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "grad of input " + std::to_string(i);
    EXPECT_EQ(f16.grads[i].dtype(), DType::Float32) << name;
    expect_grad_close(f16.grads[i], c16.grads[i], T * 8 * u, name + ": F16 vs C16");
    expect_grad_close(f16.grads[i], f32.grads[i], T * 4 * u, name + ": F16 vs F32");
  }
}

TEST(AmpLstmFused, MatchesComposedAutocastAndFloat32WithinTheDerivedBounds) {
  for (std::size_t i = 0; i < cases().size(); ++i)
    compare_case(cases()[i], 100 + i);
}

// The CPU row split (tensor/cpu/lstm.cpp, tensor/cpu/matmul.cpp): at this size both the recurrence
// and the backward GEMMs run as two slices, whose float16 A and float32 C offsets must line up.
TEST(AmpLstmFused, SplitAcrossThreadsMatchesTheSameBounds) {
  const int saved = get_num_threads();
  set_num_threads(2);
  LstmCase big;
  big.T = 8, big.B = 16, big.in = 32, big.H = 64;  // T B 4H H = 2^21: two slices
  compare_case(big, 7);
  set_num_threads(saved);
}

// bfloat16 autocast: the fused layer's GEMMs on the packed bf16 GEMM (VDPBF16PS where the CPU has
// it), the composed layer's through the autocast matmul, both against F32 and the exact LSTM with
// u = 2^-8. The forward's elementwise bound is the sharp check (and "bf16 did run", as for
// float16); the gradients' norm-wise bounds, 8x float16's (T 4u = 1/8 of max|g| at T = 8), catch
// only gross errors such as a lost thread slice.
TEST(AmpLstmFused, Bfloat16MatchesComposedAutocastAndFloat32WithinTheDerivedBounds) {
  for (std::size_t i = 0; i < cases().size(); ++i)
    compare_case(cases()[i], 400 + i, DType::BFloat16);
  const int saved = get_num_threads();
  set_num_threads(2);
  LstmCase big;
  big.T = 8, big.B = 16, big.in = 32, big.H = 64;  // two slices, as in the float16 test
  compare_case(big, 8, DType::BFloat16);
  set_num_threads(saved);
}

// (c) The float16 copies of W_ih and W_hh are made once per autocast region, however many
// steps and calls use them, and they are what the GEMMs multiply by: zeroing the cached W_hh
// copy in place makes the next forward in the region compute an LSTM without recurrence.
TEST(AmpLstmFused, WeightsAreCastOncePerRegionAndTheGemmsUseTheCachedCopies) {
  Generator gen(11);
  LSTM lstm(LSTMOptions(5, 8).impl(LstmImpl::Fused), gen);
  const Variable x(uniform({6, 3, 5}, -1, 1, gen));
  const LstmParams& p = lstm.params()[0];
  Tensor out1, out_no_recurrence;
  {
    amp::AutocastGuard autocast;
    out1 = lstm.forward(x).data();
    EXPECT_EQ(amp::cast_cache_size(), 2u);  // W_ih and W_hh: one copy each for all 6 steps
    const Tensor w_hh16 = amp::cast_once(p.w_hh);
    const Tensor out2 = lstm.forward(x).data();
    EXPECT_EQ(amp::cast_cache_size(), 2u);  // the second call reused them
    EXPECT_EQ(amp::cast_once(p.w_hh).raw_data(), w_hh16.raw_data());
    EXPECT_EQ(max(abs(sub(out1, out2))).item<double>(), 0.0);
    w_hh16.fill_(0.0);  // poison the cached copy (never do this outside a test)
    out_no_recurrence = lstm.forward(x).data();
  }
  EXPECT_EQ(amp::cast_cache_size(), 0u);  // the region closed: the copies are gone
  // The same model with the master W_hh zeroed, in a fresh region: exactly the poisoned run.
  const Tensor saved_w_hh = p.w_hh.data().clone();
  p.w_hh.data().fill_(0.0);
  Tensor want;
  {
    amp::AutocastGuard autocast;
    want = lstm.forward(x).data();
  }
  EXPECT_EQ(max(abs(sub(out_no_recurrence, want))).item<double>(), 0.0);
  EXPECT_GT(max(abs(sub(out1, want))).item<double>(), 1e-3);  // W_hh did matter before
  // An optimizer-like update between regions is seen by the next region (a fresh cast).
  p.w_hh.data().copy_(saved_w_hh);
  amp::AutocastGuard autocast;
  EXPECT_EQ(max(abs(sub(lstm.forward(x).data(), out1))).item<double>(), 0.0);
}

// float16 inputs under autocast: nothing to round, so the run equals the float32 run on the
// same (float16-representable) values, and dx comes back float16, the float32 one rounded.
TEST(AmpLstmFused, TakesFloat16InputsAndReturnsFloat16InputGradients) {
  Generator gen(12);
  LSTM lstm(LSTMOptions(4, 8).batch_first(true).impl(LstmImpl::Fused), gen);
  const Tensor x16 = uniform({3, 5, 4}, -1, 1, gen).to(DType::Float16);
  const Variable vx16(x16.clone(), true), vx32(x16.to(DType::Float32), true);
  Variable y16, y32;
  {
    amp::AutocastGuard autocast;
    y16 = lstm.forward(vx16);  // h0, c0: float16 zeros (lstm_forward makes them in x's dtype)
    y32 = lstm.forward(vx32);
  }
  EXPECT_EQ(y16.dtype(), DType::Float32);
  EXPECT_EQ(max(abs(sub(y16.data(), y32.data()))).item<double>(), 0.0);
  sum(y16).backward();
  sum(y32).backward();
  ASSERT_EQ(vx16.grad().dtype(), DType::Float16);
  EXPECT_EQ(max(abs(sub(vx16.grad().to(DType::Float32),
                        vx32.grad().to(DType::Float16).to(DType::Float32))))
                .item<double>(),
            0.0);
}

// Which path runs when: float64 never autocasts (gradchecks keep working under a guard);
// float16 outside autocast and float16 weights under it are refused with a message.
TEST(AmpLstmFused, DispatchFollowsTheAutocastPolicy) {
  LstmCase c;
  c.T = 3, c.B = 2, c.in = 3, c.H = 4;
  std::vector<Variable> in64;
  for (const Tensor& t : testing::make_inputs(c, DType::Float64, 13))
    in64.emplace_back(t, false);
  const Tensor plain = testing::run_packed(c, LstmImpl::Fused, in64).data();
  {
    amp::AutocastGuard autocast;
    const Tensor under = testing::run_packed(c, LstmImpl::Fused, in64).data();
    EXPECT_EQ(under.dtype(), DType::Float64);
    EXPECT_EQ(max(abs(sub(plain, under))).item<double>(), 0.0);
  }
  std::vector<Variable> in16;
  for (const Tensor& t : testing::make_inputs(c, DType::Float16, 13))
    in16.emplace_back(t, false);
  EXPECT_THROW(testing::run_packed(c, LstmImpl::Fused, in16), Error);  // no autocast
  amp::AutocastGuard autocast;
  try {
    testing::run_packed(c, LstmImpl::Fused, in16);  // float16 weights: not master weights
    FAIL() << "expected loom::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LstmImpl::Composed"), std::string::npos) << e.what();
  }
}

// (e) The GPU against the CPU reference, both under autocast: two F16 runs that differ only in
// summation order (cuBLAS vs Eigen) and exp/tanh, each within e(rho_F) of the exact LSTM.
TEST(AmpLstmFused, CudaMatchesTheCpuUnderAutocast) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::device_report();
  for (std::size_t i = 0; i < cases().size(); ++i) {
    const LstmCase& c = cases()[i];
    SCOPED_TRACE(c.name());
    const std::vector<Tensor> inputs = make_case_inputs(c, 200 + i);
    const PackedReference ref = packed_reference(c, inputs);
    Generator gen(300 + i);
    const Tensor upstream = uniform({ref.value.numel()}, -1, 1, gen);
    const Outcome cpu = run(c, LstmImpl::Fused, true, inputs, upstream);
    const Outcome gpu = run(c, LstmImpl::Fused, true, inputs, upstream, kCuda);
    const int64_t k = c.in + c.D() * c.H + c.H;
    expect_within_bound(gpu.value, ref.value, ref.err, rho_fused(k), "CUDA forward vs exact");
    expect_within_bound(gpu.value, cpu.value, ref.err, 2 * rho_fused(k), "CUDA vs CPU forward");
    for (std::size_t j = 0; j < inputs.size(); ++j)
      expect_grad_close(gpu.grads[j], cpu.grads[j], static_cast<double>(c.T) * 6 * kU,
                        "CUDA vs CPU grad of input " + std::to_string(j));
  }
}

}  // namespace
}  // namespace loom::nn
