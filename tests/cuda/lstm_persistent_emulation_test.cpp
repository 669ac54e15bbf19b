// tests/cuda/lstm_persistent_emulation_test.cpp: the persistent LSTM's CUDA kernels
// (cuda/kernels/lstm_persistent_kernels.cuh), run on the CPU in every build, against the plain
// double reference of tests/nn/lstm_persistent_reference.h.
//
// The kernels use nothing of CUDA but threadIdx, blockIdx, blockDim, __syncthreads() and dynamic
// shared memory, which tests/cuda/cuda_emulation.h defines for the host: each CUDA thread of a
// block is a std::thread, __syncthreads() a barrier, shared memory a static array filled with
// NaN before each block (a read of a word no phase wrote shows; bytes past the launch's size are
// checked after, so writes beyond it show), blocks one after another. Checks: the indexing (gate
// layouts, reverse, the rows a block owns, a partial last block, 1, 2 and 4 rows per block), the
// phases (who writes which shared word before which barrier), the prefetches, the optional
// buffers and output forms (the launcher's included). Under -fsanitize=thread a missing
// __syncthreads() shows as a data race (tried by deleting one).
//
// Cannot check the hardware: shared-memory opt-in, launch limits, the launcher's rows per block,
// coalescing, libdevice's exp/tanh. Those need a GPU: tests/cuda/parity_lstm_persistent_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tests/nn/lstm_persistent_reference.h"

// ---- the emulated CUDA execution model (tests/cuda/cuda_emulation.h) -----------------------

#include "tests/cuda/cuda_emulation.h"

// The dynamic shared memory the kernels declare as `extern __shared__ unsigned char smem_raw[]`.
namespace loom::cuda::lstm_persistent_kernels {
alignas(16) unsigned char smem_raw[1 << 20];
}

// These kernels have only dynamic shared memory: `extern __shared__` must become plain `extern`
// (binding to the array above), not the emulation's `static`.
#undef __shared__
#define __shared__
#include "cuda/kernels/lstm_persistent_kernels.cuh"

namespace {

using loom::nn::testing::Buffers;
using loom::nn::testing::Sizes;
namespace kp = loom::cuda::lstm_persistent_kernels;

// Runs `kernel` as a grid of `blocks` blocks of `threads` threads with `smem_bytes` of dynamic
// shared memory, one block after another (tests/cuda/cuda_emulation.h).
void launch(int64_t blocks, int threads, int64_t smem_bytes, const std::function<void()>& kernel) {
  emu::emulate_grid(
      emu::Dim3{static_cast<unsigned>(blocks)}, emu::Dim3{static_cast<unsigned>(threads)},
      emu::DynamicShared{kp::smem_raw, sizeof kp::smem_raw, static_cast<std::size_t>(smem_bytes)},
      kernel);
}

template <typename T>
std::vector<T> cast_vec(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// max |got - want| / max(1, max |want|); NaN (an unwritten element) fails.
template <typename T>
double rel_err(const std::vector<T>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double diff = 0, scale = 1;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    diff = std::max(diff, std::isnan(g) ? INFINITY : std::fabs(g - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return diff / scale;
}

// How the call places its outputs. The kernels allow act over xproj and dgates over act, and take
// h_n and dh_n; cuda/kernels/lstm_persistent.cu's launchers use one form of that (kLauncher).
enum class Form {
  kSeparate,  // every output in its own buffer
  kAliased,   // act over xproj, dgates over act
  kLauncher,  // act over xproj (the gates in, the activations out), h_n and dh_n null
};

const char* form_name(Form f) {
  return f == Form::kSeparate ? "separate" : f == Form::kAliased ? "aliased" : "launcher's form";
}

// One forward + backward through the emulated kernels with BB rows per block, compared with the
// reference. The launch configuration is the launcher's: round_up(4H, 32) threads, ceil(B / BB)
// blocks, smem_elems(H, BB) elements of shared memory. optional: pass c_n, dc_n, dh0, dc0 (and
// h_n, dh_n unless the launcher's form).
template <typename T, int BB>
void check(const Sizes& s, bool reverse, Form form, bool optional, double tol) {
  SCOPED_TRACE(std::string(sizeof(T) == 8 ? "double" : "float") + " BB " + std::to_string(BB) +
               " T " + std::to_string(s.T) + " B " + std::to_string(s.B) + " H " +
               std::to_string(s.H) + (reverse ? " reverse " : " ") + form_name(form) +
               (optional ? ", optional buffers" : ""));
  const bool h_n_passed = optional && form != Form::kLauncher;
  Buffers ref = loom::nn::testing::random_inputs(s, static_cast<uint32_t>(s.T * 100 + s.B + s.H));
  if (!h_n_passed) std::fill(ref.dh_n.begin(), ref.dh_n.end(), 0.0);
  if (!optional) std::fill(ref.dc_n.begin(), ref.dc_n.end(), 0.0);
  loom::nn::testing::reference(s, reverse, ref);

  const int T_ = static_cast<int>(s.T), B = static_cast<int>(s.B), H = static_cast<int>(s.H);
  const int threads = (4 * H + 31) / 32 * 32;
  const int64_t blocks = (s.B + BB - 1) / BB;
  const int64_t smem = kp::smem_elems(s.H, BB) * static_cast<int64_t>(sizeof(T));
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> xproj = cast_vec<T>(ref.xproj), w = cast_vec<T>(ref.w), h0 = cast_vec<T>(ref.h0),
                 c0 = cast_vec<T>(ref.c0), dh = cast_vec<T>(ref.dh), dh_n = cast_vec<T>(ref.dh_n),
                 dc_n = cast_vec<T>(ref.dc_n);
  std::vector<T> act(xproj.size(), nan), c(dh.size(), nan), tanh_c(dh.size(), nan),
      h(dh.size(), nan), h_n(h0.size(), nan), c_n(h0.size(), nan), dgates(xproj.size(), nan),
      dh0(h0.size(), nan), dc0(h0.size(), nan);
  auto opt = [](bool pass, std::vector<T>& v) { return pass ? v.data() : nullptr; };
  T* act_p = form == Form::kSeparate ? act.data() : xproj.data();
  launch(blocks, threads, smem, [&] {
    kp::lstm_persistent_forward_kernel<T, BB>(
        xproj.data(), w.data(), h0.data(), c0.data(), act_p, c.data(), tanh_c.data(), h.data(),
        opt(h_n_passed, h_n), opt(optional, c_n), reverse, T_, B, H);
  });
  EXPECT_LE(rel_err(std::vector<T>(act_p, act_p + xproj.size()), ref.act), tol) << "act";
  EXPECT_LE(rel_err(c, ref.c), tol) << "c";
  EXPECT_LE(rel_err(tanh_c, ref.tanh_c), tol) << "tanh_c";
  EXPECT_LE(rel_err(h, ref.h), tol) << "h";
  T* dg_p = form == Form::kAliased ? act_p : dgates.data();
  launch(blocks, threads, smem, [&] {
    kp::lstm_persistent_backward_kernel<T, BB>(
        dh.data(), opt(h_n_passed, dh_n), opt(optional, dc_n), w.data(), act_p, c.data(), c0.data(),
        tanh_c.data(), dg_p, opt(optional, dh0), opt(optional, dc0), reverse, T_, B, H);
  });
  EXPECT_LE(rel_err(std::vector<T>(dg_p, dg_p + xproj.size()), ref.dgates), tol) << "dgates";
  if (h_n_passed) {
    EXPECT_LE(rel_err(h_n, ref.hn), tol) << "h_n";
  } else {
    EXPECT_TRUE(std::isnan(static_cast<double>(h_n[0]))) << "h_n was null but got written";
  }
  if (optional) {
    EXPECT_LE(rel_err(c_n, ref.cn), tol) << "c_n";
    EXPECT_LE(rel_err(dh0, ref.dh0), tol) << "dh0";
    EXPECT_LE(rel_err(dc0, ref.dc0), tol) << "dc0";
  } else {
    EXPECT_TRUE(std::isnan(static_cast<double>(dh0[0]))) << "dh0 was null but got written";
  }
}

// Every combination of direction, output form and optional buffers for one size.
template <typename T, int BB>
void check_all(const Sizes& s, double tol) {
  for (bool reverse : {false, true})
    for (Form form : {Form::kSeparate, Form::kAliased, Form::kLauncher})
      for (bool optional : {false, true})
        check<T, BB>(s, reverse, form, optional, tol);
}

TEST(LstmPersistentEmulation, OneRowPerBlock) {
  check_all<double, 1>({1, 1, 1}, 1e-12);  // one step, one unit: one warp, 31 idle threads
  check_all<double, 1>({4, 3, 5}, 1e-12);
  check<double, 1>({5, 7, 37}, false, Form::kLauncher, true,
                   1e-12);  // 148 gate rows over 160 threads
}

TEST(LstmPersistentEmulation, SeveralRowsPerBlockAndAPartialLastBlock) {
  check_all<double, 2>({3, 5, 4}, 1e-12);  // blocks of 2, 2, 1 rows
  check_all<double, 4>({3, 6, 3}, 1e-12);  // blocks of 4 and 2 rows
  check<double, 4>({2, 4, 8}, true, Form::kSeparate, true,
                   1e-12);  // BB*H == 4H: every thread a cell
}

TEST(LstmPersistentEmulation, Float32AgainstTheDoubleReference) {
  check_all<float, 1>({6, 2, 9}, 1e-5);
  check<float, 4>({6, 9, 7}, true, Form::kLauncher, true, 1e-5);
}

// ---- the launch plan (plain C++; the launcher adds only the device query) ------------------

constexpr int64_t kH100Smem = 232448;  // cudaDevAttrMaxSharedMemoryPerBlockOptin, sm_90: 227 KB
constexpr int64_t kA100Smem = 166912;  // sm_80: 163 KB

TEST(LstmPersistentPlan, WhatFitsOneBlock) {
  // The table of docs/labs/08-cuda.md section 5b: the largest H per dtype and device.
  EXPECT_TRUE(kp::fits_block(119, 4, kH100Smem));
  EXPECT_FALSE(kp::fits_block(120, 4, kH100Smem));
  EXPECT_TRUE(kp::fits_block(84, 8, kH100Smem));
  EXPECT_FALSE(kp::fits_block(85, 8, kH100Smem));
  EXPECT_TRUE(kp::fits_block(101, 4, kA100Smem));
  EXPECT_FALSE(kp::fits_block(102, 4, kA100Smem));
  EXPECT_TRUE(kp::fits_block(71, 8, kA100Smem));
  EXPECT_FALSE(kp::fits_block(72, 8, kA100Smem));
  EXPECT_FALSE(kp::fits_block(100, 8, kH100Smem));         // float64 at the IMDB size: fused
  EXPECT_FALSE(kp::fits_block(257, 4, int64_t(1) << 30));  // 4H > 1024 threads, whatever memory
  EXPECT_EQ(kp::smem_elems(100, 1) * 4, 163200);
}

TEST(LstmPersistentPlan, RowsPerBlockFollowTheSmCount) {
  const kp::Plan imdb = kp::plan_launch(100, 100, 4, 132, kH100Smem);  // B = 100 on an H100
  EXPECT_EQ(imdb.bb, 1);
  EXPECT_EQ(imdb.blocks, 100);
  EXPECT_EQ(imdb.threads, 416);  // 4H = 400 rounded up to whole warps
  EXPECT_EQ(imdb.smem_bytes, 163200);
  EXPECT_EQ(kp::plan_launch(201, 24, 4, 132, kH100Smem).bb, 2);  // 101 blocks, the last 1 row
  EXPECT_EQ(kp::plan_launch(201, 24, 4, 108, kA100Smem).bb, 2);
  const kp::Plan big = kp::plan_launch(601, 24, 4, 132, kH100Smem);
  EXPECT_EQ(big.bb, 4);
  EXPECT_EQ(big.blocks, 151);  // more than one wave: fine, blocks never wait for each other
  EXPECT_EQ(kp::plan_launch(100000, 64, 4, 132, kH100Smem).bb, 4);
  // Shared memory caps the rows: at H = 118 two rows still fit in 227 KB, four do not; at
  // H = 119 only one does.
  EXPECT_EQ(kp::plan_launch(1000, 118, 4, 132, kH100Smem).bb, 2);
  EXPECT_EQ(kp::plan_launch(1000, 119, 4, 132, kH100Smem).bb, 1);
}

}  // namespace
