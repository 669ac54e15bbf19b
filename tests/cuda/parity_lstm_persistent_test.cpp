// tests/cuda/parity_lstm_persistent_test.cpp: the persistent LSTM kernel (cuda/lstm_persistent.cu)
// against its CPU twin (tensor/cpu/cpu_lstm_persistent.cpp) and against the fused layer on the
// GPU (lab 08). Skips without a CUDA device.
//
//   BackendMatchesCpuTwin            Backend::lstm_persistent_forward/backward, CUDA vs CPU, on
//                                    the IMDB shapes (T = B = 100, H = 100 and 64), odd shapes
//                                    (B = 7, H = 37, T = 5; H = 1) and batches above the SM count
//                                    (2 and 4 rows per block, a partial last block); both
//                                    directions, float32 and float64 where they fit, with and
//                                    without the optional buffers and the aliasing the contract
//                                    allows. Every output poisoned (NaN) first.
//   LayerMatchesCpuAndFused          lstm_forward with LstmImpl::Persistent on the GPU against
//                                    the same on the CPU and against LstmImpl::Fused on the GPU:
//                                    output, h_n, c_n and every input's gradient.
//   FallsBackWhereWhhDoesNotFit      float32 H = 200 and float64 H = 100 need more shared memory
//                                    than a block has: lstm_persistent_available is false, the
//                                    layer equals fused, the backend call throws a clear error.
//
// Tolerance: relative error = max |got - ref| / max |ref| per tensor, <= 1e-5 in float32 (as
// issue 6 asks) and 1e-12 in float64. The GPU sums each gate's dot product in another order than
// Eigen and uses libdevice's exp/tanh: rounding differences of ~1e-7 that the recurrence carries
// from step to step but does not amplify (|W_hh| <= 1/sqrt(H), sigmoid' <= 1/4, tanh' <= 1).
// Fresh random inputs every run (the seed is printed; LOOM_PARITY_SEED replays it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/lstm.h"
#include "tests/cuda/parity_util.h"
#include "tests/nn/lstm_test_util.h"

namespace {

using namespace loom;
using namespace loom::test;

double rel_tol(DType dt) {
  return dt == DType::Float64 ? 1e-12 : 1e-5;
}

// max |got - ref| / max |ref| (ref and got on any device; NaN in got fails).
::testing::AssertionResult rel_close(const Tensor& ref, const Tensor& got, double tol,
                                     const std::string& what) {
  const std::vector<double> r = ref.to(kCPU).to_vector<double>();
  const std::vector<double> g = got.to(kCPU).to_vector<double>();
  if (r.size() != g.size()) {
    return ::testing::AssertionFailure()
           << what << ": sizes differ, " << r.size() << " vs " << g.size();
  }
  double diff = 0, scale = 0;
  int64_t worst = -1;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const double d = std::isnan(g[i]) ? INFINITY : std::fabs(g[i] - r[i]);
    if (d > diff || worst < 0) diff = d, worst = static_cast<int64_t>(i);
    scale = std::max(scale, std::fabs(r[i]));
  }
  const double rel = diff / std::max(scale, 1e-30);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": relative error " << rel << " > " << tol << " (worst element " << worst
         << ": ref " << r[worst] << ", got " << g[worst] << "; max |ref| " << scale << ")";
}

struct Shape3 {
  int64_t T, B, H;
};

// The inputs of one forward + backward pair, on the CPU in dtype dt.
struct Inputs {
  Tensor xproj, w, h0, c0, dh, dh_n, dc_n;
};

Inputs random_inputs(const Shape3& s, DType dt, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.H));
  return {random_tensor({s.T, s.B, 4 * s.H}, dt, gen, -2, 2),
          random_tensor({4 * s.H, s.H}, dt, gen, -bound, bound),
          random_tensor({s.B, s.H}, dt, gen, -1, 1),
          random_tensor({s.B, s.H}, dt, gen, -1, 1),
          random_tensor({s.T, s.B, s.H}, dt, gen, -1, 1),
          random_tensor({s.B, s.H}, dt, gen, -1, 1),
          random_tensor({s.B, s.H}, dt, gen, -1, 1)};
}

struct Outputs {
  Tensor act, c, tanh_c, h, h_n, c_n, dgates, dh0, dc0;
};

// Runs the pair on `dev` with poisoned outputs. alias: act over xproj and dgates over act;
// optional: pass h_n, c_n, dh_n, dc_n, dh0, dc0 (else null).
Outputs run_pair(Device dev, const Inputs& in, const Shape3& s, DType dt, bool reverse, bool alias,
                 bool optional) {
  Backend& be = backend_for(dev);
  const Tensor xproj = in.xproj.to(dev).clone(), w = in.w.to(dev), h0 = in.h0.to(dev),
               c0 = in.c0.to(dev), dh = in.dh.to(dev), dh_n = in.dh_n.to(dev),
               dc_n = in.dc_n.to(dev);
  Outputs o;
  o.act = alias ? xproj : poisoned({s.T, s.B, 4 * s.H}, dt, dev);
  o.c = poisoned({s.T, s.B, s.H}, dt, dev);
  o.tanh_c = poisoned({s.T, s.B, s.H}, dt, dev);
  o.h = poisoned({s.T, s.B, s.H}, dt, dev);
  o.h_n = poisoned({s.B, s.H}, dt, dev);
  o.c_n = poisoned({s.B, s.H}, dt, dev);
  be.lstm_persistent_forward(xproj.raw_data(), w.raw_data(), h0.raw_data(), c0.raw_data(),
                             o.act.raw_data(), o.c.raw_data(), o.tanh_c.raw_data(), o.h.raw_data(),
                             optional ? o.h_n.raw_data() : nullptr,
                             optional ? o.c_n.raw_data() : nullptr, reverse, dt, s.T, s.B, s.H);
  const Tensor act_saved = o.act.clone();  // forward's act, before dgates may overwrite it
  o.dgates = alias ? o.act : poisoned({s.T, s.B, 4 * s.H}, dt, dev);
  o.dh0 = poisoned({s.B, s.H}, dt, dev);
  o.dc0 = poisoned({s.B, s.H}, dt, dev);
  be.lstm_persistent_backward(dh.raw_data(), optional ? dh_n.raw_data() : nullptr,
                              optional ? dc_n.raw_data() : nullptr, w.raw_data(), o.act.raw_data(),
                              o.c.raw_data(), c0.raw_data(), o.tanh_c.raw_data(),
                              o.dgates.raw_data(), optional ? o.dh0.raw_data() : nullptr,
                              optional ? o.dc0.raw_data() : nullptr, reverse, dt, s.T, s.B, s.H);
  o.act = act_saved;
  return o;
}

void check_backend(const Shape3& s, DType dt, bool reverse, bool alias, bool optional,
                   Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " T " + std::to_string(s.T) + " B " +
               std::to_string(s.B) + " H " + std::to_string(s.H) + (reverse ? " reverse" : "") +
               (alias ? " aliased" : "") + (optional ? " optional buffers" : ""));
  const Inputs in = random_inputs(s, dt, gen);
  const Outputs ref = run_pair(kCPU, in, s, dt, reverse, alias, optional);
  const Outputs got = run_pair(kCuda, in, s, dt, reverse, alias, optional);
  const double tol = rel_tol(dt);
  EXPECT_TRUE(rel_close(ref.act, got.act, tol, "act"));
  EXPECT_TRUE(rel_close(ref.c, got.c, tol, "c"));
  EXPECT_TRUE(rel_close(ref.tanh_c, got.tanh_c, tol, "tanh_c"));
  EXPECT_TRUE(rel_close(ref.h, got.h, tol, "h"));
  EXPECT_TRUE(rel_close(ref.dgates, got.dgates, tol, "dgates"));
  if (optional) {
    EXPECT_TRUE(rel_close(ref.h_n, got.h_n, tol, "h_n"));
    EXPECT_TRUE(rel_close(ref.c_n, got.c_n, tol, "c_n"));
    EXPECT_TRUE(rel_close(ref.dh0, got.dh0, tol, "dh0"));
    EXPECT_TRUE(rel_close(ref.dc0, got.dc0, tol, "dc0"));
  } else {  // null outputs: the poison is still there
    EXPECT_TRUE(std::isnan(got.dh0.to(kCPU).to_vector<double>()[0])) << "dh0 written";
    EXPECT_TRUE(std::isnan(got.h_n.to(kCPU).to_vector<double>()[0])) << "h_n written";
  }
}

TEST(LstmPersistentParity, BackendMatchesCpuTwin) {
  LOOM_PARITY_BEGIN();
  const Shape3 imdb100{100, 100, 100}, imdb64{100, 100, 64}, odd{5, 7, 37}, unit{3, 2, 1};
  for (const DType dt : {DType::Float32, DType::Float64}) {
    for (const Shape3& s : {imdb100, imdb64}) {
      if (!cuda_be().lstm_persistent_fits(dt, s.H)) continue;  // float64 H = 100: see fallback
      check_backend(s, dt, false, true, true, gen);
      check_backend(s, dt, true, false, false, gen);
    }
    for (const Shape3& s : {odd, unit})
      for (bool reverse : {false, true})
        for (bool alias : {false, true})
          check_backend(s, dt, reverse, alias, !alias, gen);
  }
  // More rows than SMs, so blocks own several rows, the last one only some: on an A100 (108
  // SMs) or H100/H200 (132) B = 201 runs 2 rows per block and B = 601 runs 4.
  for (const int64_t B : {int64_t(201), int64_t(601)})
    check_backend({4, B, 24}, DType::Float32, true, true, true, gen);
}

// ---- the layer ---------------------------------------------------------------------------

struct LayerRun {
  Tensor value;               // concat(output, h_n, c_n), flattened
  std::vector<Tensor> grads;  // of every input, on the CPU
};

LayerRun run_layer(const nn::testing::LstmCase& c, nn::LstmImpl impl, Device dev,
                   const std::vector<Tensor>& inputs, const Tensor& upstream) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t.to(dev).clone(), true);
  const Variable y = nn::testing::run_packed(c, impl, vars);
  y.backward(upstream.to(dev));
  LayerRun r{y.data().to(kCPU), {}};
  for (const Variable& v : vars)
    r.grads.push_back(v.grad().to(kCPU));
  return r;
}

void check_layer(const nn::testing::LstmCase& c, DType dt, Generator& gen) {
  SCOPED_TRACE(c.name() + " " + dtype_name(dt));
  std::vector<Tensor> inputs = nn::testing::make_inputs(c, dt, gen.seed() + c.T + c.H);
  // make_inputs draws weights in U(-1, 1); scale them to PyTorch's init range 1/sqrt(H), the
  // regime the model trains in (with U(-1, 1) and H = 100 every gate saturates).
  const double bound = 1.0 / std::sqrt(static_cast<double>(c.H));
  const std::size_t first_param = c.with_state ? 3 : 1;
  for (std::size_t i = first_param; i < inputs.size(); ++i)
    inputs[i] = mul(inputs[i], bound);
  const int64_t n = c.T * c.B * c.D() * c.H + 2 * c.layers * c.D() * c.B * c.H;
  const Tensor u = random_tensor({n}, dt, gen, -1, 1);
  // Poison the allocator's blocks of the layer's buffer sizes: what the layer allocates itself
  // starts as NaN, so an element the kernel leaves unwritten shows.
  const std::size_t es = dtype_size(dt);
  for (const int64_t elems : {c.T * c.B * 4 * c.H, (c.T + 1) * c.B * c.H, c.T * c.B * c.H})
    poison_cuda_cache(static_cast<std::size_t>(elems) * es);
  const LayerRun cpu = run_layer(c, nn::LstmImpl::Persistent, kCPU, inputs, u);
  const LayerRun persistent = run_layer(c, nn::LstmImpl::Persistent, kCuda, inputs, u);
  const LayerRun fused = run_layer(c, nn::LstmImpl::Fused, kCuda, inputs, u);
  const double tol = rel_tol(dt);
  EXPECT_TRUE(rel_close(cpu.value, persistent.value, tol, "forward, persistent cuda vs cpu"));
  EXPECT_TRUE(rel_close(fused.value, persistent.value, tol, "forward, persistent vs fused (cuda)"));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string g = "gradient of input " + std::to_string(i);
    EXPECT_TRUE(rel_close(cpu.grads[i], persistent.grads[i], tol, g + ", persistent cuda vs cpu"));
    EXPECT_TRUE(rel_close(fused.grads[i], persistent.grads[i], tol, g + ", persistent vs fused"));
  }
}

TEST(LstmPersistentParity, LayerMatchesCpuAndFused) {
  LOOM_PARITY_BEGIN();
  for (const int64_t H : {int64_t(100), int64_t(64)}) {  // the IMDB model: one layer, batch 100
    nn::testing::LstmCase c;
    c.T = 100, c.B = 100, c.in = 100, c.H = H;
    c.batch_first = true;
    check_layer(c, DType::Float32, gen);
  }
  nn::testing::LstmCase odd;  // odd sizes, two layers, both directions, given states
  odd.T = 5, odd.B = 7, odd.in = 11, odd.H = 37, odd.layers = 2;
  odd.bidirectional = true;
  odd.with_state = true;
  check_layer(odd, DType::Float32, gen);
  check_layer(odd, DType::Float64, gen);
}

TEST(LstmPersistentParity, FallsBackWhereWhhDoesNotFit) {
  LOOM_PARITY_BEGIN();
  struct Case {
    DType dt;
    int64_t H;
  };
  for (const Case k : {Case{DType::Float32, 200}, Case{DType::Float64, 100}}) {
    SCOPED_TRACE(std::string(dtype_name(k.dt)) + " H " + std::to_string(k.H));
    EXPECT_FALSE(nn::lstm_persistent_available(k.dt, k.H, kCuda));
    // The backend refuses with a message that says why and what to do.
    const Tensor buf = poisoned({4 * k.H * k.H}, k.dt, kCuda);
    const std::string e = error_of([&] {
      cuda_be().lstm_persistent_forward(
          buf.raw_data(), buf.raw_data(), buf.raw_data(), buf.raw_data(), buf.raw_data(),
          buf.raw_data(), buf.raw_data(), buf.raw_data(), nullptr, nullptr, false, k.dt, 1, 1, k.H);
    });
    EXPECT_NE(e.find("does not fit"), std::string::npos) << e;
    EXPECT_NE(e.find("shared memory"), std::string::npos) << e;
    // The layer runs the fused one instead (it cannot have run the kernel, which refuses these
    // sizes), so it computes fused's numbers.
    nn::testing::LstmCase c;
    c.T = 3, c.B = 5, c.in = 4, c.H = k.H;
    const std::vector<Tensor> inputs = nn::testing::make_inputs(c, k.dt, gen.seed());
    const Tensor u = random_tensor({c.T * c.B * c.H + 2 * c.B * c.H}, k.dt, gen, -1, 1);
    const LayerRun p = run_layer(c, nn::LstmImpl::Persistent, kCuda, inputs, u);
    const LayerRun f = run_layer(c, nn::LstmImpl::Fused, kCuda, inputs, u);
    EXPECT_TRUE(rel_close(f.value, p.value, rel_tol(k.dt), "forward"));
    for (std::size_t i = 0; i < inputs.size(); ++i)
      EXPECT_TRUE(
          rel_close(f.grads[i], p.grads[i], rel_tol(k.dt), "gradient " + std::to_string(i)));
  }
}

}  // namespace
