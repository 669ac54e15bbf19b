// tests/cuda/parity_lstm_persistent_test.cpp: the persistent LSTM kernel
// (cuda/kernels/lstm_persistent.cu, reached through FusedKernels::lstm_recurrence_* with
// `persistent` set) against the CPU's recurrence, and the layer that asks for it (lab 08). Skips
// without a CUDA device.
//   RecurrenceMatchesTheCpu: the recurrence's contract (tensor/fused_kernels.h) on the IMDB
//     shapes (T = B = 100, H = 100 and 64), odd shapes (B = 7, H = 37; H = 1) and more rows than
//     SMs (2 and 4 rows per block, a partial last block); both directions, float32 and float64
//     where they fit, with and without c_n, dc_n, dh0, dc0. Outputs poisoned (NaN) first.
//   LayerMatchesCpuAndPerStep: nn::LSTM with persistent(true) on the GPU against the CPU and
//     against the per-step recurrence on the GPU: output, h_n, c_n, every input's gradient.
//   FallsBackWhereItDoesNotFit: float32 H = 200, float64 H = 100 (W_hh needs more shared memory
//     than a block has) and mixed precision: not available, and asking for it computes exactly
//     what the per-step recurrence does.
// Tolerance: max |got - ref| / max |ref| per tensor: 1e-5 float32, 1e-12 float64 (other
// summation orders and libdevice's exp/tanh, carried through the steps but not amplified).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/lstm.h"
#include "tensor/fused_kernels.h"
#include "tensor/lstm.h"
#include "tests/cuda/parity_util.h"
#include "tests/nn/lstm_persistent_reference.h"
#include "tests/nn/lstm_test_util.h"

namespace {

using namespace loom;
using namespace loom::test;
using nn::testing::Buffers;
using nn::testing::Sizes;

double rel_tol(DType dt) {
  return dt == DType::Float64 ? 1e-12 : 1e-5;
}

Tensor tensor_of(const std::vector<double>& v, DType dt, Device dev) {
  return from_vector<double>(v, {static_cast<int64_t>(v.size())}).to(dt).to(dev);
}

// What one forward + backward pair of the recurrence writes.
struct Outputs {
  Tensor act, c, tanh_c, h, c_n, dgates, dh0, dc0;
};

// The recurrence on `dev` from `in`, every output poisoned first; optional: pass c_n, dc_n, dh0
// and dc0 (else null: the poison must stay in dh0).
Outputs run_recurrence(Device dev, const Buffers& in, const Sizes& s, DType dt, bool reverse,
                       bool optional, bool persistent) {
  FusedKernels& fk = fused_kernels_for(dev, "persistent LSTM test");
  const LstmRecurrence r{s.T, s.B, s.H, reverse, dt, dt, persistent};
  const Tensor w = tensor_of(in.w, dt, dev), h0 = tensor_of(in.h0, dt, dev),
               c0 = tensor_of(in.c0, dt, dev), dh = tensor_of(in.dh, dt, dev),
               dc_n = tensor_of(in.dc_n, dt, dev);
  const int64_t n = s.T * s.B * s.H, bh = s.B * s.H;
  Outputs o{tensor_of(in.xproj, dt, dev).clone(),
            poisoned({n}, dt, dev),
            poisoned({n}, dt, dev),
            poisoned({n}, dt, dev),
            poisoned({bh}, dt, dev),
            poisoned({4 * n}, dt, dev),
            poisoned({bh}, dt, dev),
            poisoned({bh}, dt, dev)};
  auto opt = [&](const Tensor& t) { return optional ? t.raw_data() : nullptr; };
  fk.lstm_recurrence_forward(
      r, {o.act.raw_data(), w.raw_data(), h0.raw_data(), c0.raw_data(), o.c.raw_data(),
          o.tanh_c.raw_data(), o.h.raw_data(), nullptr, opt(o.c_n)});
  fk.lstm_recurrence_backward(
      r, {dh.raw_data(), optional ? dc_n.raw_data() : nullptr, w.raw_data(), c0.raw_data(),
          o.act.raw_data(), o.c.raw_data(), o.tanh_c.raw_data(), o.dgates.raw_data(), nullptr,
          opt(o.dh0), opt(o.dc0)});
  return o;
}

void check_recurrence(const Sizes& s, DType dt, bool reverse, bool optional, Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " T " + std::to_string(s.T) + " B " +
               std::to_string(s.B) + " H " + std::to_string(s.H) + (reverse ? " reverse" : "") +
               (optional ? " optional buffers" : ""));
  const LstmRecurrence r{s.T, s.B, s.H, reverse, dt, dt, true};
  ASSERT_TRUE(fused_kernels_for(kCuda, "test").lstm_persistent_fits(r)) << "would fall back";
  const Buffers in = nn::testing::random_inputs(s, static_cast<uint32_t>(gen.seed() + s.H));
  const Outputs ref = run_recurrence(kCPU, in, s, dt, reverse, optional, true);
  const Outputs got = run_recurrence(kCuda, in, s, dt, reverse, optional, true);
  const double tol = rel_tol(dt);
  EXPECT_TRUE(expect_rel_close(ref.act, got.act, tol, "act"));
  EXPECT_TRUE(expect_rel_close(ref.c, got.c, tol, "c"));
  EXPECT_TRUE(expect_rel_close(ref.tanh_c, got.tanh_c, tol, "tanh_c"));
  EXPECT_TRUE(expect_rel_close(ref.h, got.h, tol, "h"));
  EXPECT_TRUE(expect_rel_close(ref.dgates, got.dgates, tol, "dgates"));
  if (optional) {
    EXPECT_TRUE(expect_rel_close(ref.c_n, got.c_n, tol, "c_n"));
    EXPECT_TRUE(expect_rel_close(ref.dh0, got.dh0, tol, "dh0"));
    EXPECT_TRUE(expect_rel_close(ref.dc0, got.dc0, tol, "dc0"));
  } else {  // null outputs: the poison is still there
    EXPECT_TRUE(std::isnan(got.dh0.to(kCPU).to_vector<double>()[0])) << "dh0 written";
    EXPECT_TRUE(std::isnan(got.c_n.to(kCPU).to_vector<double>()[0])) << "c_n written";
  }
}

TEST(LstmPersistentParity, RecurrenceMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  const Sizes imdb100{100, 100, 100}, imdb64{100, 100, 64}, odd{5, 7, 37}, unit{3, 2, 1};
  for (const DType dt : {DType::Float32, DType::Float64}) {
    for (const Sizes& s : {imdb100, imdb64}) {
      if (!lstm_persistent_available(dt, s.H, kCuda)) continue;  // float64 H = 100: see below
      check_recurrence(s, dt, false, true, gen);
      check_recurrence(s, dt, true, false, gen);
    }
    for (const Sizes& s : {odd, unit})
      for (bool reverse : {false, true})
        for (bool optional : {false, true})
          check_recurrence(s, dt, reverse, optional, gen);
  }
  // More rows than SMs, so blocks own several rows, the last one only some: on an A100 (108
  // SMs) or H100/H200 (132) B = 201 runs 2 rows per block and B = 601 runs 4.
  for (const int64_t B : {int64_t(201), int64_t(601)})
    check_recurrence({4, B, 24}, DType::Float32, true, true, gen);
}

// ---- the layer ---------------------------------------------------------------------------

struct LayerRun {
  Tensor value;               // concat(output, h_n, c_n), flattened
  std::vector<Tensor> grads;  // of every input, on the CPU
};

// nn::testing::run_packed with LSTMOptions::persistent set as asked.
LayerRun run_layer(const nn::testing::LstmCase& c, bool persistent, Device dev,
                   const std::vector<Tensor>& inputs, const Tensor& upstream) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t.to(dev).clone(), true);
  std::size_t k = 0;
  const Variable x = vars[k++];
  Variable h0, c0;
  if (c.with_state) {
    h0 = vars[k++];
    c0 = vars[k++];
  }
  std::vector<nn::LstmParams> params;
  for (; k < vars.size(); k += 4)
    params.push_back({vars[k], vars[k + 1], vars[k + 2], vars[k + 3]});
  nn::LSTMOptions opts = c.options(nn::LstmImpl::Fused);
  opts.persistent(persistent);
  const nn::LstmOutput y = nn::lstm_forward(x, h0, c0, params, opts);
  const Variable packed =
      concat({nn::testing::flat(y.output), nn::testing::flat(y.h_n), nn::testing::flat(y.c_n)}, 0);
  packed.backward(upstream.to(dev));
  LayerRun r{packed.data().to(kCPU), {}};
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
  const LayerRun cpu = run_layer(c, true, kCPU, inputs, u);
  const LayerRun persistent = run_layer(c, true, kCuda, inputs, u);
  const LayerRun per_step = run_layer(c, false, kCuda, inputs, u);
  const double tol = rel_tol(dt);
  EXPECT_TRUE(expect_rel_close(cpu.value, persistent.value, tol, "forward, cuda vs cpu"));
  EXPECT_TRUE(expect_rel_close(per_step.value, persistent.value, tol, "forward, vs per step"));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string g = "gradient of input " + std::to_string(i);
    EXPECT_TRUE(expect_rel_close(cpu.grads[i], persistent.grads[i], tol, g + ", cuda vs cpu"));
    EXPECT_TRUE(expect_rel_close(per_step.grads[i], persistent.grads[i], tol, g + ", vs per step"));
  }
}

TEST(LstmPersistentParity, LayerMatchesCpuAndPerStep) {
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

// Where the kernel cannot run, asking for it runs the per-step recurrence: the very same
// numbers, bit for bit (cuBLAS is deterministic on one device and stream).
TEST(LstmPersistentParity, FallsBackWhereItDoesNotFit) {
  LOOM_PARITY_BEGIN();
  struct Case {
    DType state, gemm;
    int64_t H;
  };
  for (const Case k :
       {Case{DType::Float32, DType::Float32, 200}, Case{DType::Float64, DType::Float64, 100},
        Case{DType::Float32, DType::Float16, 64}}) {
    SCOPED_TRACE(std::string(dtype_name(k.state)) + " state, " + dtype_name(k.gemm) + " GEMMs, H " +
                 std::to_string(k.H));
    if (k.gemm == k.state) {  // (mixed precision has its own answer: fits, below)
      EXPECT_FALSE(lstm_persistent_available(k.state, k.H, kCuda));
    }
    const LstmRecurrence r{3, 5, k.H, false, k.state, k.gemm, true};
    EXPECT_FALSE(fused_kernels_for(kCuda, "test").lstm_persistent_fits(r));
    const int64_t T = 3, B = 5, in = 4, H = k.H;
    const Tensor x = random_tensor({T, B, in}, k.gemm, gen).to(kCuda);
    const Tensor h0 = random_tensor({B, H}, k.gemm, gen).to(kCuda);
    const Tensor c0 = random_tensor({B, H}, k.state, gen).to(kCuda);
    const Tensor w_ih = random_tensor({4 * H, in}, k.gemm, gen, -0.1, 0.1).to(kCuda);
    const Tensor w_hh = random_tensor({4 * H, H}, k.gemm, gen, -0.1, 0.1).to(kCuda);
    const Tensor b = random_tensor({4 * H}, k.state, gen, -0.1, 0.1).to(kCuda);
    const Tensor dy = random_tensor({T + 1, B, H}, k.state, gen).to(kCuda);
    std::vector<Tensor> results[2];
    for (bool persistent : {false, true}) {
      LstmLayerArgs args;
      args.gemm_dtype = k.gemm;
      args.persistent = persistent;
      const LstmLayerForward f = lstm_layer_forward(x, h0, c0, w_ih, w_hh, b, b, args);
      const LstmLayerGrads g = lstm_layer_backward(dy, f.saved);
      results[persistent] = {f.y, g.x, g.h0, g.c0, g.w_ih, g.w_hh, g.bias};
    }
    for (std::size_t i = 0; i < results[0].size(); ++i)
      EXPECT_TRUE(expect_close(results[0][i], results[1][i])) << "result " << i;
  }
}

}  // namespace
