// cuda/kernels/lstm_persistent.cu: the persistent launch strategy of the LSTM recurrence: one
// kernel runs a layer's whole forward recurrence, one its whole backward (lstm.cu calls it when
// the caller asks for `persistent` and it fits). This file: the launchers, the device query and
// the shared-memory opt-in; the kernels are in lstm_persistent_kernels.cuh.
//
// Each block owns BB whole sequences (rows never interact, so no grid barrier) and keeps W_hh in
// dynamic shared memory for all T steps; two __syncthreads per step. H = 100 float32 needs
// 163,200 bytes, above the 48 KB default, so the launcher opts in up to the device's limit
// (227 KB on sm_90: float32 up to H = 119). BB is the smallest of {1, 2, 4} with
// ceil(B / BB) <= SMs. The design, its numbers and its estimated cost (never measured):
// docs/labs/08-cuda.md, section 5b.
//
// Leaves out: float16 (float32/float64 only), several layers or both directions in one launch,
// W_hh in registers, one sequence split over several blocks (a grid barrier every step).
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <utility>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/lstm_persistent.h"
#include "cuda/kernels/lstm_persistent_kernels.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"

namespace loom::cuda {
namespace {

using lstm_persistent_kernels::smem_elems;

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
  return supported_dtype(dtype) && lstm_persistent_kernels::fits_block(
                                       H, static_cast<int64_t>(dtype_size(dtype)), l.smem_optin);
}

// The launch for B rows of H units (lstm_persistent_kernels::plan_launch). Throws a loom::Error
// naming the op when the shapes or the dtype do not fit.
lstm_persistent_kernels::Plan plan_for(const char* op, DType dtype, int64_t T, int64_t B, int64_t H,
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
  return lstm_persistent_kernels::plan_launch(B, H, es, l.sms, l.smem_optin);
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
        return f(tag, std::integral_constant<int, lstm_persistent_kernels::kMaxRowsPerBlock>{});
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
  const lstm_persistent_kernels::Plan p = plan_for(op, r.state, r.T, r.B, r.H, device);
  if (r.B == 0) return;
  const cudaStream_t stream = op_stream();
  const dim3 grid(static_cast<unsigned>(p.blocks)), block(static_cast<unsigned>(p.threads));
  const int steps = static_cast<int>(r.T), rows = static_cast<int>(r.B),
            hid = static_cast<int>(r.H);
  auto run = [&](auto tag, auto bb_tag) {
    using E = typename decltype(tag)::type;
    constexpr int BB = decltype(bb_tag)::value;
    const auto kernel = &lstm_persistent_kernels::lstm_persistent_forward_kernel<E, BB>;
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
  const lstm_persistent_kernels::Plan p = plan_for(op, r.state, r.T, r.B, r.H, device);
  if (r.B == 0) return;
  const cudaStream_t stream = op_stream();
  const dim3 grid(static_cast<unsigned>(p.blocks)), block(static_cast<unsigned>(p.threads));
  const int steps = static_cast<int>(r.T), rows = static_cast<int>(r.B),
            hid = static_cast<int>(r.H);
  auto run = [&](auto tag, auto bb_tag) {
    using E = typename decltype(tag)::type;
    constexpr int BB = decltype(bb_tag)::value;
    const auto kernel = &lstm_persistent_kernels::lstm_persistent_backward_kernel<E, BB>;
    ensure_smem(reinterpret_cast<const void*>(kernel), device, static_cast<int>(p.smem_bytes));
    kernel<<<grid, block, static_cast<size_t>(p.smem_bytes), stream>>>(
        static_cast<const E*>(b.dh), static_cast<const E*>(nullptr), static_cast<const E*>(b.dc_n),
        static_cast<const E*>(b.w_hh), static_cast<const E*>(b.act), static_cast<const E*>(b.c),
        static_cast<const E*>(b.c0), static_cast<const E*>(b.tanh_c), static_cast<E*>(b.dgates),
        static_cast<E*>(b.dh0), static_cast<E*>(b.dc0), r.reverse, steps, rows, hid);
    LOOM_CUDA_CHECK_LAUNCH();
  };
  dispatch_plan(r.state, p.bb, run);
}

}  // namespace loom::cuda
