// cuda/kernels/lstm_persistent.cu: the persistent LSTM — one kernel runs a layer's whole forward
// recurrence, one its whole backward. CPU twin: tensor/cpu/cpu_lstm_persistent.cpp; caller:
// nn/lstm_persistent.cpp; contract: tensor/backend.h (lstm_persistent_*). This file: the design
// (below) and the host launchers; the two kernels are in cuda/kernels/lstm_persistent_kernels.cuh, a
// header so that tests/cuda/lstm_persistent_emulation_test.cpp can run them on the CPU.
//
// Why. The IMDB model's LSTM is small (B = 100 rows, H = 100 units, T = 100 steps): a step's
// recurrent GEMM is 4 MFLOP, far too little to fill a GPU, so the fused layer's per-step
// launches (a cuBLAS GEMM and a pointwise kernel, each waiting for the previous one) cost more
// than their arithmetic. Here the time loop runs INSIDE the kernel: no launch per step, and no
// grid-wide barrier either, because batch rows never interact (row b of h_t needs only row b of
// h_{t-1}). So each thread block owns BB whole sequences (rows b0 .. b0+BB-1) and walks all T
// steps on its own, synchronising only its own threads (__syncthreads) twice per step.
//
// Layout of one block (dynamic shared memory, elements of T):
//   forward:  Wt  [H][4H]  W_hh transposed, loaded once per launch and kept for all T steps
//             hs  [BB][H]  h_{t-1} of the block's rows
//             gs  [BB][4H] this step's pre-activations
//   backward: W   [4H][H]  W_hh as stored (dh_{t-1} = da_t W_hh needs its columns)
//             das [BB][4H] this step's dL/d(pre-activations)
//             part[4][BB][H] partial sums of da_t W_hh, one per gate block (see below)
//   both get 4H*H + 8*BB*H elements (the backward's need; the forward uses 4H*H + 5*BB*H).
//   H = 100, float32, BB = 1: 163,200 bytes. That is over the
//   48 KB a block gets by default, so the launcher opts in (cudaFuncSetAttribute
//   MaxDynamicSharedMemorySize) up to the device's per-block limit: 227 KB on H100/H200 (sm_90),
//   163 KB on A100 (sm_80). So float32 fits up to H = 119 on sm_90 (101 on sm_80), float64 up
//   to H = 84 (71); beyond that Backend::lstm_persistent_fits says no and nn/lstm_persistent.cpp
//   runs the fused layer.
//
// Threads: round_up(4H, 32) per block (416 for H = 100). Forward, per step:
//   1. matvec: thread r < 4H owns gate row r: for each of its BB rows, pre = xproj[t][b][r] +
//      sum_k hs[b][k] * Wt[k][r]. Consecutive threads read consecutive Wt words (no bank
//      conflicts; that is why W is stored transposed) and all read the same hs word (a
//      broadcast). xproj for step t+1 is loaded into registers during step t, so its global
//      latency is hidden behind the matvec.
//   2. __syncthreads; pointwise: thread e < BB*H owns (row e / H, unit e % H) and calls
//      tensor/kernels/lstm_pointwise.h's lstm_pointwise_forward — the very math the CPU runs —
//      keeping c in a register; it writes act, c, tanh(c), h to global memory and h to hs.
//   3. __syncthreads (hs complete before the next matvec reads it).
// Backward, per step (last first), mirrored:
//   1. pointwise: thread e: dh = dh_t + the 4 partial sums of da_{t+1} W_hh from the previous
//      step (+ dh_n at the last step); lstm_pointwise_backward with dc in a register; writes
//      da_t to global (dgates) and to das; prefetches the next step's saved values.
//   2. __syncthreads; matvec: thread (q, j) = (tid / H, tid % H), q the gate block: part[q][b][j]
//      = sum_{r in block q} das[b][r] * W[r][j] — all 4H threads busy (one per column would use
//      only H of them, each 4x longer), and consecutive threads read consecutive W words.
//   3. __syncthreads. After the loop the partial sums are da_first W_hh = dh0.
//
// Occupancy and the choice of BB (rows per block). One block of H = 100 float32 uses ~160 KB,
// so one block per SM: the grid is ceil(B / BB) blocks, and only that many SMs work. With
// B = 100 and BB = 1, 100 of an H100's 132 SMs run (A100: 100 of 108); each block has 13 warps
// — little latency hiding, but every step's work is a 100-deep FMA chain over shared memory
// with nothing global in the critical path. BB = 2 would halve the busy SMs and nearly double
// each block's per-step FMAs (each W word loaded from shared memory serves 2 rows), so a step
// takes longer; it pays only when B exceeds the SM count. Hence the launcher's rule: the
// smallest BB in {1, 2, 4} with ceil(B / BB) <= SMs (else 4, and blocks run in several waves,
// which is correct because blocks never wait for each other). BB <= 4 also means BB*H <= 4H
// threads, so every pointwise element has its own thread (c and dc live in registers).
// Estimate, never measured: reading W from shared memory costs ~4H*H*4 bytes / 128 bytes per
// clock ~ 1,250 cycles per step for H = 100, under a microsecond; the next step up keeps W in
// registers (100 weights per thread), which needs H fixed at compile time.
//
// Races: every shared word is written in one phase and read in the next, with a __syncthreads
// between (racecheck should report nothing; the CPU emulation of the kernels, built with
// -fsanitize=thread, reported no race either). act may alias xproj (forward) and dgates may alias
// act (backward): a step reads the slices of t (and prefetches t+-1) and writes only t's, each
// element by the thread that read it or after a barrier — hence no __restrict__ on them.
//
// Left out: float16 (float32/float64 only), several layers or both directions in one launch,
// W_hh in registers, and splitting one sequence over several blocks (that needs a barrier
// between blocks every step: cooperative groups' grid sync, or clusters on sm_90).
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <utility>

#include "cuda/runtime/check.cuh"
#include "cuda/kernels/backend.h"
#include "cuda/kernels/lstm_persistent.h"
#include "cuda/runtime/device.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/lstm_persistent_kernels.cuh"

namespace loom::cuda {
namespace {

using persistent::smem_elems;

// ---- host launchers ----------------------------------------------------------------------

// What the current device offers (queried once per device).
struct DeviceLimits {
  int sms = 0;
  int smem_optin = 0;  // bytes of dynamic shared memory one block may opt in to
};

DeviceLimits limits_of(int device) {
  static std::mutex mutex;
  static std::map<int, DeviceLimits> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto it = cache.find(device);
  if (it != cache.end()) return it->second;
  DeviceLimits l;
  LOOM_CUDA_CHECK(cudaDeviceGetAttribute(&l.sms, cudaDevAttrMultiProcessorCount, device));
  LOOM_CUDA_CHECK(
      cudaDeviceGetAttribute(&l.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cache[device] = l;
  return l;
}

// Raises a kernel's dynamic shared memory limit to `bytes` on `device` if it is not that high
// yet. Cached, so a warm step (or one being captured into a CUDA Graph) makes no such call.
void ensure_smem(const void* kernel, int device, int bytes) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, int> set;
  const std::lock_guard<std::mutex> lock(mutex);
  int& have = set[{kernel, device}];
  if (have >= bytes) return;
  LOOM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  have = bytes;
}

bool supported_dtype(DType dtype) {
  return dtype == DType::Float32 || dtype == DType::Float64;
}

bool fits(const DeviceLimits& l, DType dtype, int64_t H) {
  return supported_dtype(dtype) &&
         persistent::fits_block(H, static_cast<int64_t>(dtype_size(dtype)), l.smem_optin);
}

// The launch for B rows of H units (persistent::plan_launch). Throws a loom::Error naming the op
// when the shapes or the dtype do not fit.
persistent::Plan plan_for(const char* op, DType dtype, int64_t T, int64_t B, int64_t H,
                          int device) {
  LOOM_CHECK(supported_dtype(dtype), op, " on cuda: supports float32 and float64, got ",
             dtype_name(dtype));
  LOOM_CHECK(T >= 1 && B >= 0 && H >= 1 && T <= INT32_MAX && B <= INT32_MAX, op, ": bad sizes T ",
             T, " B ", B, " H ", H, " (need T >= 1, B >= 0, H >= 1)");
  const DeviceLimits l = limits_of(device);
  const int64_t es = static_cast<int64_t>(dtype_size(dtype));
  LOOM_CHECK(fits(l, dtype, H), op, ": hidden size ", H, " in ", dtype_name(dtype),
             " does not fit one thread block of cuda:", device, ": W_hh [", 4 * H, ", ", H,
             "] and the state need ", smem_elems(H, 1) * es, " bytes of shared memory (limit ",
             l.smem_optin, ") and ", 4 * H, " threads (limit ", kMaxBlockSize,
             "); check lstm_persistent_available first");
  return persistent::plan_launch(B, H, es, l.sms, l.smem_optin);
}

// Calls f(TypeTag<E>{}, std::integral_constant<int, BB>{}) with the element type of `dtype`
// (float32 or float64, checked by plan_for) and the plan's BB: the kernels are templates on BB
// so that each thread's per-row accumulators are a fixed-size register array.
template <typename F>
void dispatch_plan(DType dtype, int bb, F&& f) {
  auto by_bb = [&](auto tag) {
    switch (bb) {
      case 1:
        return f(tag, std::integral_constant<int, 1>{});
      case 2:
        return f(tag, std::integral_constant<int, 2>{});
      default:
        return f(tag, std::integral_constant<int, persistent::kMaxRowsPerBlock>{});
    }
  };
  if (dtype == DType::Float32) {
    by_bb(TypeTag<float>{});
  } else {
    by_bb(TypeTag<double>{});
  }
}

}  // namespace

bool persistent_lstm_fits(DType dtype, int64_t H) {
  return fits(limits_of(current_device()), dtype, H);
}

void persistent_lstm_forward(const LstmRecurrence& r, const LstmForwardBuffers& b) {
  const char* op = "lstm_recurrence_forward (persistent)";
  const int device = current_device();
  const persistent::Plan p = plan_for(op, r.state, r.T, r.B, r.H, device);
  if (r.B == 0) return;
  const cudaStream_t stream = op_stream();
  const dim3 grid(static_cast<unsigned>(p.blocks)), block(static_cast<unsigned>(p.threads));
  const int steps = static_cast<int>(r.T), rows = static_cast<int>(r.B), hid = static_cast<int>(r.H);
  auto run = [&](auto tag, auto bb_tag) {
    using E = typename decltype(tag)::type;
    constexpr int BB = decltype(bb_tag)::value;
    const auto kernel = &persistent::lstm_persistent_forward_kernel<E, BB>;
    ensure_smem(reinterpret_cast<const void*>(kernel), device, static_cast<int>(p.smem_bytes));
    // The gates are the input projection in and the activations out (xproj == act), h_n is not
    // needed (the caller's h holds every h_t).
    kernel<<<grid, block, static_cast<size_t>(p.smem_bytes), stream>>>(
        static_cast<const E*>(b.gates), static_cast<const E*>(b.w_hh), static_cast<const E*>(b.h0),
        static_cast<const E*>(b.c0), static_cast<E*>(b.gates), static_cast<E*>(b.c),
        static_cast<E*>(b.tanh_c), static_cast<E*>(b.h), static_cast<E*>(nullptr),
        static_cast<E*>(b.c_n), r.reverse, steps, rows, hid);
    LOOM_CUDA_CHECK_LAUNCH();
  };
  dispatch_plan(r.state, p.bb, run);
}

void persistent_lstm_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) {
  const char* op = "lstm_recurrence_backward (persistent)";
  const int device = current_device();
  const persistent::Plan p = plan_for(op, r.state, r.T, r.B, r.H, device);
  if (r.B == 0) return;
  const cudaStream_t stream = op_stream();
  const dim3 grid(static_cast<unsigned>(p.blocks)), block(static_cast<unsigned>(p.threads));
  const int steps = static_cast<int>(r.T), rows = static_cast<int>(r.B), hid = static_cast<int>(r.H);
  auto run = [&](auto tag, auto bb_tag) {
    using E = typename decltype(tag)::type;
    constexpr int BB = decltype(bb_tag)::value;
    const auto kernel = &persistent::lstm_persistent_backward_kernel<E, BB>;
    ensure_smem(reinterpret_cast<const void*>(kernel), device, static_cast<int>(p.smem_bytes));
    kernel<<<grid, block, static_cast<size_t>(p.smem_bytes), stream>>>(
        static_cast<const E*>(b.dh), static_cast<const E*>(nullptr),
        static_cast<const E*>(b.dc_n), static_cast<const E*>(b.w_hh),
        static_cast<const E*>(b.act), static_cast<const E*>(b.c), static_cast<const E*>(b.c0),
        static_cast<const E*>(b.tanh_c), static_cast<E*>(b.dgates), static_cast<E*>(b.dh0),
        static_cast<E*>(b.dc0), r.reverse, steps, rows, hid);
    LOOM_CUDA_CHECK_LAUNCH();
  };
  dispatch_plan(r.state, p.bb, run);
}

}  // namespace loom::cuda
