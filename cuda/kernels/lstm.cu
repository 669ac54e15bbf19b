// cuda/kernels/lstm.cu: the LSTM recurrence on the GPU (FusedKernels::lstm_recurrence_*;
// contract: tensor/fused_kernels.h; caller: tensor/lstm.cpp; CPU twin: tensor/cpu/lstm.cpp).
//
// Two launch strategies of the one recurrence:
//   per step (the default): every step a cuBLAS GEMM (h_{t-1} W_hh^T into the step's gates;
//     float16 x float16 -> float32 when the GEMM dtype is float16) and one cell kernel
//     (lstm_kernels.cuh), plus, when mixed or masked, h_t (times the recurrent-dropout mask) cast
//     to the GEMM dtype; backward mirrors it;
//   persistent: the whole recurrence in one kernel each way (lstm_persistent.cu), when the caller
//     asks and W_hh fits one block's shared memory (state dtype == GEMM dtype, no mask).
// docs/labs/08-cuda.md, sections 5 and 5b, walk through both.
//
// Leaves out: a vectorized (__half2 / float4) cell kernel (at B = H = 100 a step is 10k threads,
// launch-latency bound), fusing the cell into the GEMM's epilogue.
#include <cuda_runtime_api.h>

#include <type_traits>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/lstm_kernels.cuh"
#include "cuda/kernels/lstm_persistent.h"
#include "cuda/kernels/scratch.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"

namespace loom::cuda {
namespace {

using namespace lstm_kernels;  // the kernels of lstm_kernels.cuh

// One step's cell for B rows (state dtype).
void cell_forward(DType dtype, void* gates, const void* c_prev, void* c, void* tanh_c, void* h,
                  int64_t B, int64_t H) {
  const LaunchConfig cfg = launch_for(B * H, kDefaultBlockSize, "lstm cell forward");
  const cudaStream_t stream = op_stream();
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    lstm_forward_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<T*>(gates), static_cast<const T*>(c_prev), static_cast<T*>(c),
        static_cast<T*>(tanh_c), static_cast<T*>(h), B, H);
    LOOM_CUDA_CHECK_LAUNCH();
  };
  dtype == DType::Float32 ? run(static_cast<float*>(nullptr)) : run(static_cast<double*>(nullptr));
}

void cell_backward(DType dtype, const void* dh, void* dc, const void* act, void* d_pre,
                   const void* c_prev, const void* tanh_c, int64_t B, int64_t H) {
  const LaunchConfig cfg = launch_for(B * H, kDefaultBlockSize, "lstm cell backward");
  const cudaStream_t stream = op_stream();
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    lstm_backward_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<const T*>(dh), static_cast<T*>(dc), static_cast<const T*>(act),
        static_cast<T*>(d_pre), static_cast<const T*>(c_prev), static_cast<const T*>(tanh_c), B, H);
    LOOM_CUDA_CHECK_LAUNCH();
  };
  dtype == DType::Float32 ? run(static_cast<float*>(nullptr)) : run(static_cast<double*>(nullptr));
}

// C [m, n] (+)= A [m, k] op(B), A and B in r.gemm, C in r.state.
void gemm(CudaBackend& be, const LstmRecurrence& r, const void* a, const void* b, bool trans_b,
          void* c, int64_t m, int64_t n, int64_t k, double beta) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_b = trans_b;
  g.lda = k, g.ldb = trans_b ? k : n, g.ldc = n;
  g.beta = beta;
  if (r.gemm == r.state)
    be.matmul(a, b, c, r.state, g);
  else
    be.matmul_mixed(a, b, r.gemm, c, r.state, g);
}

void check(const char* op, const LstmRecurrence& r) {
  LOOM_CHECK(r.state == DType::Float32 || r.state == DType::Float64, op,
             " on cuda: the state dtype is float32 or float64, got ", dtype_name(r.state));
  const bool mixed = r.gemm == DType::Float16 || r.gemm == DType::BFloat16;
  LOOM_CHECK(r.gemm == r.state || (mixed && r.state == DType::Float32), op,
             " on cuda: the GEMMs run in the state dtype, or in float16 or bfloat16 with a float32 "
             "state, got ",
             dtype_name(r.gemm), " with ", dtype_name(r.state));
}

// The persistent kernels have no recurrent-dropout mask: a masked recurrence runs per step.
bool runs_persistent(const LstmRecurrence& r, const void* h_mask) {
  return r.persistent && h_mask == nullptr && r.gemm == r.state &&
         persistent_lstm_fits(r.state, r.H);
}

}  // namespace

bool CudaBackend::lstm_persistent_fits(const LstmRecurrence& r) {
  return r.gemm == r.state && persistent_lstm_fits(r.state, r.H);
}

void CudaBackend::lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& f) {
  check("lstm_recurrence_forward", r);
  LOOM_CHECK(f.h_mask == nullptr || f.h_gemm != nullptr,
             "lstm_recurrence_forward: recurrent dropout needs the h_gemm buffer");
  if (r.B == 0) return;
  if (runs_persistent(r, f.h_mask)) return persistent_lstm_forward(r, f);
  const int64_t T = r.T, B = r.B, H = r.H;
  const Device dev(DeviceType::CUDA, current_device());
  // h_t * mask before its rounding (recurrent dropout), when there is a mask.
  Scratch masked(*this, f.h_mask ? static_cast<std::size_t>(B * H) * dtype_size(r.state) : 0, dev);
  const void* h_prev = f.h0;  // gemm dtype
  const void* c_prev = f.c0;
  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = r.reverse ? T - 1 - step : step;
    void* gates = step_of(f.gates, r.state, t, B, 4 * H);
    gemm(*this, r, h_prev, f.w_hh, true, gates, B, 4 * H, H, 1.0);  // gates += h W_hh^T
    void* c = step_of(f.c, r.state, t, B, H);
    void* h = step_of(f.h, r.state, t, B, H);
    cell_forward(r.state, gates, c_prev, c, step_of(f.tanh_c, r.state, t, B, H), h, B, H);
    h_prev = h;
    if (f.h_gemm != nullptr) {  // the next step's operand: h_t (* mask) in the gemm dtype
      const void* operand = h;
      if (f.h_mask != nullptr) {
        binary(BinaryOp::Mul, h, f.h_mask, masked.ptr, r.state, B * H);
        operand = masked.ptr;
      }
      void* hg = step_of(f.h_gemm, r.gemm, t, B, H);
      cast(operand, r.state, hg, r.gemm, B * H);
      h_prev = hg;
    }
    c_prev = c;
  }
  if (f.c_n != nullptr)
    copy_device_to_device(f.c_n, c_prev, static_cast<std::size_t>(B * H) * dtype_size(r.state),
                          dev);
}

void CudaBackend::lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) {
  check("lstm_recurrence_backward", r);
  if (r.B == 0) return;
  if (runs_persistent(r, b.h_mask)) return persistent_lstm_backward(r, b);
  const int64_t T = r.T, B = r.B, H = r.H;
  const Device dev(DeviceType::CUDA, current_device());
  const std::size_t bh_bytes = static_cast<std::size_t>(B * H) * dtype_size(r.state);
  // dL/dh_t through every path (one step), and dL/dc carried between steps (dc_n first).
  Scratch dh(*this, bh_bytes, dev), dc(*this, bh_bytes, dev);
  Scratch rec(*this, b.h_mask ? bh_bytes : 0, dev);  // da W_hh before its mask
  if (b.dc_n != nullptr)
    copy_device_to_device(dc.ptr, b.dc_n, bh_bytes, dev);
  else
    fill(dc.ptr, r.state, B * H, 0.0);
  const void* da_gemm = b.dgates_gemm != nullptr ? b.dgates_gemm : b.dgates;
  int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
  for (int64_t step = T - 1; step >= 0; --step) {
    const int64_t t = r.reverse ? T - 1 - step : step;
    copy_device_to_device(dh.ptr, step_of(b.dh, r.state, t, B, H), bh_bytes, dev);
    if (t_next >= 0 && b.h_mask == nullptr)  // dh_t += da_{t_next} W_hh
      gemm(*this, r, step_of(da_gemm, r.gemm, t_next, B, 4 * H), b.w_hh, false, dh.ptr, B, H, 4 * H,
           1.0);
    if (t_next >= 0 && b.h_mask != nullptr) {  // dh_t += (da_{t_next} W_hh) * mask
      gemm(*this, r, step_of(da_gemm, r.gemm, t_next, B, 4 * H), b.w_hh, false, rec.ptr, B, H,
           4 * H, 0.0);
      binary(BinaryOp::Mul, rec.ptr, b.h_mask, rec.ptr, r.state, B * H);
      binary(BinaryOp::Add, dh.ptr, rec.ptr, dh.ptr, r.state, B * H);
    }
    const int64_t t_prev = r.reverse ? t + 1 : t - 1;
    const void* c_prev = step == 0 ? b.c0 : step_of(b.c, r.state, t_prev, B, H);
    void* da = step_of(b.dgates, r.state, t, B, 4 * H);
    cell_backward(r.state, dh.ptr, dc.ptr, step_of(b.act, r.state, t, B, 4 * H), da, c_prev,
                  step_of(b.tanh_c, r.state, t, B, H), B, H);
    if (b.dgates_gemm != nullptr)
      cast(da, r.state, step_of(b.dgates_gemm, r.gemm, t, B, 4 * H), r.gemm, B * 4 * H);
    t_next = t;
  }
  if (b.dh0 != nullptr) {  // dh0 = (da_first W_hh) (* mask)
    gemm(*this, r, step_of(da_gemm, r.gemm, t_next, B, 4 * H), b.w_hh, false, b.dh0, B, H, 4 * H,
         0.0);
    if (b.h_mask != nullptr) binary(BinaryOp::Mul, b.dh0, b.h_mask, b.dh0, r.state, B * H);
  }
  if (b.dc0 != nullptr) copy_device_to_device(b.dc0, dc.ptr, bh_bytes, dev);
}

}  // namespace loom::cuda
