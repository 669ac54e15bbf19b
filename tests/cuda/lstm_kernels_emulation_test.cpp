// tests/cuda/lstm_kernels_emulation_test.cpp: the cell kernels of cuda/kernels/lstm_kernels.cuh
// (one step of cuda/kernels/lstm.cu's per-step recurrence) run on the CPU under emulation
// (tests/cuda/cuda_emulation.h) with their launcher's arguments, in every build, against the CPU
// backend's recurrence (tensor/cpu/lstm.cpp) for one step with W_hh = 0 and h0 = 0: exactly one
// cell step, through the backend's public fused kernels.
//
// Checks: the (b, j) -> gate column k * H + j indexing; the activations written over the
// pre-activations; backward with d_pre separate and over act; dc rewritten in place; float and
// double; one block and several; the launcher's grid and a single looping block. Every thread of
// a block is a std::thread, so two touching one element would race (TSan shows it). Outputs
// start as 0xFF bytes. Tolerance: the same per-element functions (lstm_pointwise.h), but the
// CPU's loop is vectorised with -ffast-math (libmvec's expf/tanhf): 4 ulps of max(1, |value|)
// for values of O(1); a wrong gate column or a stale input is off by far more.
//
// Cannot check: the GPU's tanhf/expf (libdevice); the per-step loop around the kernels.
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
#include "cuda/kernels/lstm_kernels.cuh"
#include "tensor/cpu/backend.h"
#include "tests/cuda/emulation_buffers.h"

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

// The CPU backend's one-step recurrence for B rows of H units (T = 1, W_hh = 0, h0 = 0, so the
// step's GEMM adds nothing and the cell sees exactly the given pre-activations).
template <typename T>
struct CpuStep {
  int64_t B, H;
  std::vector<T> zero_w = std::vector<T>(static_cast<std::size_t>(4 * H * H), T(0));
  std::vector<T> zero_h = std::vector<T>(static_cast<std::size_t>(B * H), T(0));
  LstmRecurrence r() const {
    const DType dt = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
    return LstmRecurrence{1, B, H, false, dt, dt, false};
  }
  // gates [B, 4H]: pre-activations in, activations out.
  void forward(T* gates, const T* c_prev, T* c, T* tanh_c, T* h) {
    cpu::cpu_backend().lstm_recurrence_forward(
        r(), {gates, zero_w.data(), zero_h.data(), c_prev, c, tanh_c, h, nullptr, nullptr});
  }
  // dc_next in, dc_prev out (dL/dc through c_prev); c is forward's c_t (not read: step 0 reads
  // c_prev from c0).
  void backward(const T* dh, const T* dc_next, const T* act, const T* c_prev, const T* c,
                const T* tanh_c, T* d_pre, T* dc_prev) {
    cpu::cpu_backend().lstm_recurrence_backward(r(), {dh, dc_next, zero_w.data(), c_prev, act, c,
                                                      tanh_c, d_pre, nullptr, nullptr, dc_prev});
  }
};

template <typename T>
void check_cell(int64_t B, int64_t H, unsigned grid, bool d_pre_over_act) {
  const DType dt = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " H " + std::to_string(H) +
               " grid " + std::to_string(grid) + (d_pre_over_act ? " d_pre over act" : ""));
  const int64_t n = B * H, blocks = grid > 0 ? grid : launcher_grid(n);
  CpuStep<T> cpu{B, H};
  // ---- forward: gates in place; c, tanh_c, h out.
  const std::vector<T> pre = random_values<T>(4 * n, 1.5, 1), c_prev_v = random_values<T>(n, 1, 2);
  PoisonedBuffer<T> gates(4 * n), c_prev(n), c(n), tanh_c(n), h(n);
  PoisonedBuffer<T> gates_cpu(4 * n), c_cpu(n), tanh_c_cpu(n), h_cpu(n);
  gates.assign(pre);
  gates_cpu.assign(pre);
  c_prev.assign(c_prev_v);
  cpu.forward(gates_cpu.data(), c_prev.data(), c_cpu.data(), tanh_c_cpu.data(), h_cpu.data());
  emu::emulate_launch(
      {static_cast<unsigned>(blocks)}, {kDefaultBlockSize}, lstm_kernels::lstm_forward_kernel<T>,
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
  PoisonedBuffer<T> dh(n), dc(n), act(4 * n), d_pre_own(4 * n), dc_next_cpu(n), dc_prev_cpu(n),
      d_pre_cpu(4 * n);
  dh.assign(dh_v);
  dc.assign(dc_v);
  dc_next_cpu.assign(dc_v);
  act.assign(act_v);
  T* d_pre = d_pre_over_act ? act.data() : d_pre_own.data();
  cpu.backward(dh.data(), dc_next_cpu.data(), gates_cpu.data(), c_prev.data(), c_cpu.data(),
               tanh_c_cpu.data(), d_pre_cpu.data(), dc_prev_cpu.data());
  emu::emulate_launch(
      {static_cast<unsigned>(blocks)}, {kDefaultBlockSize}, lstm_kernels::lstm_backward_kernel<T>,
      static_cast<const T*>(dh.data()), dc.data(), static_cast<const T*>(act.data()), d_pre,
      static_cast<const T*>(c_prev.data()), static_cast<const T*>(tanh_c_cpu.data()), B, H);
  expect_close(d_pre, d_pre_cpu.data(), 4 * n, "backward d_pre");
  expect_close(dc.data(), dc_prev_cpu.data(), n, "backward dc (in place)");
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

}  // namespace
}  // namespace loom::cuda
