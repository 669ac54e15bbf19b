// tests/cuda/lstm_kernels_emulation_test.cpp: the fused LSTM cell's kernels of
// cuda/lstm_kernels.cuh (lstm_forward_kernel, lstm_backward_kernel) run on the CPU under
// emulation (tests/cuda/cuda_emulation.h) with their launcher's arguments, against the CPU
// backend's lstm_pointwise_forward / _backward, in every build.
//
// What this checks: the (b, j) -> gate column k * H + j indexing, forward's activations written
// over the pre-activations (its only form), backward with a separate d_pre and with d_pre over
// act (the contract's in-place form), dc read and rewritten in place; float and double; B * H of
// one element, of less than one block, and of more than two blocks; the launcher's grid and one
// block (the grid-stride loop wraps). The threads of a block run at once (a std::thread each),
// so two threads touching the same element would race (and show under TSan). Outputs start
// as 0xFF bytes.
// Tolerance: both sides call tensor/kernels/lstm_pointwise.h's per-element functions in the same
// type, but the host compiler may vectorise and contract the CPU's loop differently from this
// one: 4 ulps of max(1, |value|) (values are O(1)). A wrong gate column or a stale input is off
// by far more.
//
// float16 (in a CUDA build): the __half instantiation against the CPU's float32 step on the
// widened inputs, rounded to half (the CPU has no float16 step), one half-ulp on at most 1 + n/64
// elements; measured: every element identical.
//
// What it cannot check: the GPU's tanhf / expf (libdevice), the device's half conversions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/cuda/cuda_emulation.h"
#include "tests/cuda/kernel_util_host.h"
// the two must come first
#include "cuda/lstm_kernels.cuh"
#include "tensor/backend.h"
#include "tests/cuda/emulation_buffers.h"
#include "tests/cuda/emulation_half.h"

namespace loom::cuda {
namespace {

using emu_test::launcher_grid;
using emu_test::PoisonedBuffer;

template <typename T>
std::vector<T> random_values(int64_t n, double scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& x : v)
    x = static_cast<T>(normal(rng));
  return v;
}

template <typename T>
void expect_close(const T* got, const T* want, int64_t n, const std::string& what) {
  const double ulp = std::numeric_limits<T>::epsilon();
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; ++i) {
    const double x = got[i], y = want[i];
    if (!(std::fabs(x - y) <= 4 * ulp * std::max(1.0, std::fabs(y)))) {  // NaN (poison) fails
      ++bad;
      ADD_FAILURE() << what << " element " << i << ": emulated kernel " << x << ", CPU " << y;
    }
  }
}

template <typename T>
void check_cell(int64_t B, int64_t H, unsigned grid, bool d_pre_over_act) {
  const DType dt = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " H " + std::to_string(H) +
               " grid " + std::to_string(grid) + (d_pre_over_act ? " d_pre over act" : ""));
  const int64_t n = B * H, blocks = grid > 0 ? grid : launcher_grid(n);
  // ---- forward: gates in place; c, tanh_c, h out.
  const std::vector<T> pre = random_values<T>(4 * n, 1.5, 1), c_prev_v = random_values<T>(n, 1, 2);
  PoisonedBuffer<T> gates(4 * n), c_prev(n), c(n), tanh_c(n), h(n);
  PoisonedBuffer<T> gates_cpu(4 * n), c_cpu(n), tanh_c_cpu(n), h_cpu(n);
  gates.assign(pre);
  gates_cpu.assign(pre);
  c_prev.assign(c_prev_v);
  backend_for(kCPU).lstm_pointwise_forward(gates_cpu.data(), c_prev.data(), c_cpu.data(),
                                           tanh_c_cpu.data(), h_cpu.data(), dt, B, H);
  emu::emulate_launch(
      {static_cast<unsigned>(blocks)}, {kDefaultBlockSize}, lstm_cell::lstm_forward_kernel<T>,
      gates.data(), static_cast<const T*>(c_prev.data()), c.data(), tanh_c.data(), h.data(), B, H);
  expect_close(gates.data(), gates_cpu.data(), 4 * n, "forward act");
  expect_close(c.data(), c_cpu.data(), n, "forward c");
  expect_close(tanh_c.data(), tanh_c_cpu.data(), n, "forward tanh_c");
  expect_close(h.data(), h_cpu.data(), n, "forward h");
  for (PoisonedBuffer<T>* b : {&gates, &c, &tanh_c, &h})
    EXPECT_TRUE(b->guard_intact());

  // ---- backward, from the CPU's saved activations: dc in place; d_pre separate or over act.
  const std::vector<T> dh_v = random_values<T>(n, 1, 3), dc_v = random_values<T>(n, 1, 4);
  std::vector<T> act_v(gates_cpu.data(), gates_cpu.data() + 4 * n);
  PoisonedBuffer<T> dh(n), dc(n), act(4 * n), d_pre_own(4 * n), dc_cpu(n), act_cpu(4 * n),
      d_pre_cpu(4 * n);
  dh.assign(dh_v);
  dc.assign(dc_v);
  dc_cpu.assign(dc_v);
  act.assign(act_v);
  act_cpu.assign(act_v);
  T* d_pre = d_pre_over_act ? act.data() : d_pre_own.data();
  backend_for(kCPU).lstm_pointwise_backward(dh.data(), dc_cpu.data(), act_cpu.data(),
                                            d_pre_cpu.data(), c_prev.data(), tanh_c_cpu.data(), dt,
                                            B, H);
  emu::emulate_launch(
      {static_cast<unsigned>(blocks)}, {kDefaultBlockSize}, lstm_cell::lstm_backward_kernel<T>,
      static_cast<const T*>(dh.data()), dc.data(), static_cast<const T*>(act.data()), d_pre,
      static_cast<const T*>(c_prev.data()), static_cast<const T*>(tanh_c_cpu.data()), B, H);
  expect_close(d_pre, d_pre_cpu.data(), 4 * n, "backward d_pre");
  expect_close(dc.data(), dc_cpu.data(), n, "backward dc");
  EXPECT_TRUE(dc.guard_intact());
  EXPECT_TRUE(act.guard_intact());
  EXPECT_TRUE(d_pre_own.guard_intact());
}

TEST(LstmKernelsEmulation, CellForwardAndBackwardEqualTheCpu) {
  for (bool over : {false, true}) {
    for (unsigned grid : {0u, 1u}) {
      check_cell<float>(1, 1, grid, over);
      check_cell<float>(3, 7, grid, over);
      check_cell<double>(4, 130, grid, over);  // 520 threads: 3 blocks, or 1 looping
      check_cell<double>(2, 5, grid, over);
    }
  }
}

// ---- float16 ------------------------------------------------------------------------------
// lstm.cu's __half instantiation: loads as float, computes in float, stores each output rounded
// to half. The CPU backend has no float16 LSTM step, so the reference is what that contract
// says: the CPU's float32 step on the widened inputs, each output rounded to half by the CPU's
// cast (Eigen::half: round to nearest even). Tolerance: one half-ulp, on few elements — the
// float results differ by a few float ulps (the CPU's libmvec expf/tanhf against the host libm
// here), which can move a rounding to the neighbouring half.
#if LOOM_EMU_HALF

std::vector<float> widen(const __half* h, int64_t n) {
  std::vector<float> f(static_cast<std::size_t>(n));
  backend_for(kCPU).cast(h, DType::Float16, f.data(), DType::Float32, n);
  return f;
}
void round_into(const std::vector<float>& f, __half* h) {
  backend_for(kCPU).cast(f.data(), DType::Float32, h, DType::Float16,
                         static_cast<int64_t>(f.size()));
}

// Off-by-one-half-ulp elements allowed in n (measured: none): 1 + n / 64 (a flip needs the float
// result within a few float ulps of a tie between two halves, about 1 in 2^11 per float ulp).
int64_t half_off_limit(int64_t n) {
  return 1 + n / 64;
}

void check_cell_half(int64_t B, int64_t H, unsigned grid, bool d_pre_over_act) {
  SCOPED_TRACE("float16 B " + std::to_string(B) + " H " + std::to_string(H) + " grid " +
               std::to_string(grid) + (d_pre_over_act ? " d_pre over act" : ""));
  const int64_t n = B * H, blocks = grid > 0 ? grid : launcher_grid(n);
  auto halves = [](const std::vector<double>& v) { return emu_test::to_halves(v); };
  // ---- forward
  const std::vector<__half> pre = halves(random_values<double>(4 * n, 1.5, 1));
  const std::vector<__half> c_prev_v = halves(random_values<double>(n, 1, 2));
  PoisonedBuffer<__half> gates(4 * n), c_prev(n), c(n), tanh_c(n), h(n);
  PoisonedBuffer<__half> gates_ref(4 * n), c_ref(n), tanh_c_ref(n), h_ref(n);
  gates.assign(pre);
  c_prev.assign(c_prev_v);
  {
    std::vector<float> g = widen(pre.data(), 4 * n), cp = widen(c_prev_v.data(), n), cf(n), tf(n),
                       hf(n);
    backend_for(kCPU).lstm_pointwise_forward(g.data(), cp.data(), cf.data(), tf.data(), hf.data(),
                                             DType::Float32, B, H);
    round_into(g, gates_ref.data());
    round_into(cf, c_ref.data());
    round_into(tf, tanh_c_ref.data());
    round_into(hf, h_ref.data());
  }
  emu::emulate_launch({static_cast<unsigned>(blocks)}, {kDefaultBlockSize},
                      lstm_cell::lstm_forward_kernel<__half>, gates.data(),
                      static_cast<const __half*>(c_prev.data()), c.data(), tanh_c.data(), h.data(),
                      B, H);
  using emu_test::expect_half_close;
  expect_half_close(gates.data(), gates_ref.data(), 4 * n, 1, half_off_limit(4 * n), "forward act");
  expect_half_close(c.data(), c_ref.data(), n, 1, half_off_limit(n), "forward c");
  expect_half_close(tanh_c.data(), tanh_c_ref.data(), n, 1, half_off_limit(n), "forward tanh_c");
  expect_half_close(h.data(), h_ref.data(), n, 1, half_off_limit(n), "forward h");
  for (PoisonedBuffer<__half>* b : {&gates, &c, &tanh_c, &h})
    EXPECT_TRUE(b->guard_intact());

  // ---- backward, from the reference's saved (rounded) activations and tanh_c.
  const std::vector<__half> dh_v = halves(random_values<double>(n, 1, 3));
  const std::vector<__half> dc_v = halves(random_values<double>(n, 1, 4));
  PoisonedBuffer<__half> dh(n), dc(n), act(4 * n), d_pre_own(4 * n), dc_ref(n), d_pre_ref(4 * n);
  dh.assign(dh_v);
  dc.assign(dc_v);
  for (int64_t i = 0; i < 4 * n; ++i)
    act[i] = gates_ref[i];
  {
    std::vector<float> dhf = widen(dh.data(), n), dcf = widen(dc.data(), n),
                       af = widen(act.data(), 4 * n), cpf = widen(c_prev.data(), n),
                       tf = widen(tanh_c_ref.data(), n), dpf(4 * n);
    backend_for(kCPU).lstm_pointwise_backward(dhf.data(), dcf.data(), af.data(), dpf.data(),
                                              cpf.data(), tf.data(), DType::Float32, B, H);
    round_into(dpf, d_pre_ref.data());
    round_into(dcf, dc_ref.data());
  }
  __half* d_pre = d_pre_over_act ? act.data() : d_pre_own.data();
  emu::emulate_launch(
      {static_cast<unsigned>(blocks)}, {kDefaultBlockSize}, lstm_cell::lstm_backward_kernel<__half>,
      static_cast<const __half*>(dh.data()), dc.data(), static_cast<const __half*>(act.data()),
      d_pre, static_cast<const __half*>(c_prev.data()),
      static_cast<const __half*>(tanh_c_ref.data()), B, H);
  expect_half_close(d_pre, d_pre_ref.data(), 4 * n, 1, half_off_limit(4 * n), "backward d_pre");
  expect_half_close(dc.data(), dc_ref.data(), n, 1, half_off_limit(n), "backward dc");
  EXPECT_TRUE(dc.guard_intact());
  EXPECT_TRUE(act.guard_intact());
  EXPECT_TRUE(d_pre_own.guard_intact());
}

#endif  // LOOM_EMU_HALF

TEST(LstmKernelsEmulation, Float16CellForwardAndBackward) {
#if LOOM_EMU_HALF
  for (bool over : {false, true}) {
    for (unsigned grid : {0u, 1u}) {
      check_cell_half(1, 1, grid, over);
      check_cell_half(3, 7, grid, over);
      check_cell_half(4, 130, grid, over);  // 520 threads: 3 blocks, or 1 looping
    }
  }
#else
  GTEST_SKIP() << emu_test::kNoHalf;
#endif
}

}  // namespace
}  // namespace loom::cuda
