// tensor/cpu/cpu_lstm_persistent.cpp: the persistent LSTM's CPU twin — one layer's whole
// recurrence, forward or backward, in one Backend call. CUDA twin: cuda/lstm_persistent.cu.
//
// What it computes (tensor/backend.h has the buffers' shapes): for each step, in step order
// (t = 0..T-1, or T-1..0 when reverse),
//   forward:  a_t = xproj_t + h_{t-1} W_hh^T;  cell update (lstm_pointwise.h) -> act_t, c_t,
//             tanh(c_t), h_t;  h_{-1} = h0, c_{-1} = c0
//   backward: (last step first) dh = dh_t [+ dh_n at the last step] + da_{next} W_hh;
//             cell backward (lstm_pointwise.h) -> da_t, dc <- dL/dc_{t-1};  finally
//             dh0 = da_first W_hh, dc0 = dc.
// The CUDA kernel computes the same thing with one thread block per few batch rows and W_hh in
// shared memory; here each OpenMP thread takes a range of batch rows and runs the whole time loop
// on them (rows never interact), exactly as nn/lstm_fused.cpp's host loop does: per step one
// single-threaded Eigen GEMM on the thread's rows (this backend's matmul) and this backend's
// pointwise step, i.e. the per-element functions of tensor/kernels/lstm_pointwise.h that the CUDA
// kernel calls too. So on the CPU "persistent" and "fused" are the same arithmetic in the same
// order: the persistent layer equals the fused one here, and is as fast; the twin exists so the
// persistent contract (reverse, h_n/c_n, dh_n/dc_n, dh0/dc0, aliasing) is tested without a GPU
// and so every backend offers LstmImpl::Persistent.
//
// Also here: the Backend interface's defaults for the three methods (fits: false; the others
// throw), so a backend without them still builds.
//
// Leaves out: float16 (the CPU LSTM step is float32/float64).
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom {

bool Backend::lstm_persistent_fits(DType, int64_t) {
  return false;
}

void Backend::lstm_persistent_forward(const void*, const void*, const void*, const void*, void*,
                                      void*, void*, void*, void*, void*, bool, DType dtype, int64_t,
                                      int64_t, int64_t) {
  LOOM_FAIL("lstm_persistent_forward: not implemented by backend ", name(), " (dtype ",
            dtype_name(dtype), ")");
}

void Backend::lstm_persistent_backward(const void*, const void*, const void*, const void*,
                                       const void*, const void*, const void*, const void*, void*,
                                       void*, void*, bool, DType dtype, int64_t, int64_t, int64_t) {
  LOOM_FAIL("lstm_persistent_backward: not implemented by backend ", name(), " (dtype ",
            dtype_name(dtype), ")");
}

namespace cpu {
namespace {

void check_args(const char* op, DType dtype, int64_t T, int64_t B, int64_t H) {
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64, op,
             ": the CPU backend supports float32 and float64, got ", dtype_name(dtype));
  LOOM_CHECK(T >= 1 && B >= 0 && H >= 1, op, ": bad sizes T ", T, " B ", B, " H ", H,
             " (need T >= 1, B >= 0, H >= 1)");
}

// Row slices (threads) for B rows and `work` multiply-adds: the rule of nn/lstm_layer_common.cpp's
// slices_for (at least ~1M multiply-adds per thread, or starting the thread costs more).
int row_slices(int64_t B, int64_t work) {
  const int64_t by_work = std::max<int64_t>(1, work / (int64_t(1) << 20));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({get_num_threads(), B, by_work})));
}

// Byte pointers with element offsets: P{p, esize}.at(i) is element i.
struct P {
  const void* base;
  std::size_t esize;
  char* at(int64_t i) const {
    return const_cast<char*>(static_cast<const char*>(base)) + static_cast<std::size_t>(i) * esize;
  }
};

MatmulArgs rows_gemm(int64_t m, int64_t n, int64_t k, bool trans_b, int64_t lda, int64_t ldb,
                     int64_t ldc, double beta) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_b = trans_b;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  g.beta = beta;
  return g;
}

template <typename T>
void add_into(void* dst, const void* src, int64_t n) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i)
    d[i] += s[i];
}

}  // namespace

bool CpuBackend::lstm_persistent_fits(DType dtype, int64_t H) {
  return (dtype == DType::Float32 || dtype == DType::Float64) && H >= 1;
}

void CpuBackend::lstm_persistent_forward(const void* xproj, const void* w_hh, const void* h0,
                                         const void* c0, void* act, void* c, void* tanh_c, void* h,
                                         void* h_n, void* c_n, bool reverse, DType dtype, int64_t T,
                                         int64_t B, int64_t H) {
  check_args("lstm_persistent_forward", dtype, T, B, H);
  if (B == 0) return;
  const std::size_t es = dtype_size(dtype);
  const P x{xproj, es}, a{act, es}, cc{c, es}, tc{tanh_c, es}, hh{h, es}, ph0{h0, es}, pc0{c0, es};
  const int64_t BH = B * H, B4H = B * 4 * H;
  const int slices = row_slices(B, T * B * 4 * H * H);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const void* h_prev = ph0.at(r);
    const void* c_prev = pc0.at(r);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = reverse ? T - 1 - step : step;
      char* gates = a.at(t * B4H + r4);  // [nb, 4H]: xproj in, += h W_hh^T, activations out
      if (act != xproj)
        std::memcpy(gates, x.at(t * B4H + r4), static_cast<std::size_t>(nb) * 4 * H * es);
      matmul(h_prev, w_hh, gates, dtype, rows_gemm(nb, 4 * H, H, true, H, H, 4 * H, 1.0));
      lstm_pointwise_forward(gates, c_prev, cc.at(t * BH + r), tc.at(t * BH + r), hh.at(t * BH + r),
                             dtype, nb, H);
      h_prev = hh.at(t * BH + r);
      c_prev = cc.at(t * BH + r);
    }
    const std::size_t row_bytes = static_cast<std::size_t>(nb * H) * es;
    if (h_n) std::memcpy(P{h_n, es}.at(r), h_prev, row_bytes);
    if (c_n) std::memcpy(P{c_n, es}.at(r), c_prev, row_bytes);
  }
}

void CpuBackend::lstm_persistent_backward(const void* dh, const void* dh_n, const void* dc_n,
                                          const void* w_hh, const void* act, const void* c,
                                          const void* c0, const void* tanh_c, void* dgates,
                                          void* dh0, void* dc0, bool reverse, DType dtype,
                                          int64_t T, int64_t B, int64_t H) {
  check_args("lstm_persistent_backward", dtype, T, B, H);
  if (B == 0) return;
  const std::size_t es = dtype_size(dtype);
  const P pdh{dh, es}, a{act, es}, cc{c, es}, tc{tanh_c, es}, da{dgates, es}, pc0{c0, es};
  const int64_t BH = B * H, B4H = B * 4 * H;
  const int slices = row_slices(B, T * B * 4 * H * H);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;
    const std::size_t row_bytes = static_cast<std::size_t>(nb * H) * es;
    // This thread's scratch rows: dh_t through every path, and dL/dc carried between steps
    // (starts as dL/dc_n, ends as dL/dc_0).
    std::vector<char> dh_rows(row_bytes), dc_rows(row_bytes, 0);  // all-zero bytes: 0.0
    if (dc_n) std::memcpy(dc_rows.data(), P{dc_n, es}.at(r), row_bytes);
    int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t t_prev = reverse ? t + 1 : t - 1;  // where c_{t-1} is (step 0: c0)
      std::memcpy(dh_rows.data(), pdh.at(t * BH + r), row_bytes);
      if (dh_n && step == T - 1) {
        if (dtype == DType::Float32)
          add_into<float>(dh_rows.data(), P{dh_n, es}.at(r), nb * H);
        else
          add_into<double>(dh_rows.data(), P{dh_n, es}.at(r), nb * H);
      }
      if (t_next >= 0) {  // dh_t += da_{t_next} W_hh: [nb, 4H] x [4H, H]
        matmul(da.at(t_next * B4H + r4), w_hh, dh_rows.data(), dtype,
               rows_gemm(nb, H, 4 * H, false, 4 * H, H, H, 1.0));
      }
      const void* c_prev = step == 0 ? pc0.at(r) : cc.at(t_prev * BH + r);
      lstm_pointwise_backward(dh_rows.data(), dc_rows.data(), a.at(t * B4H + r4),
                              da.at(t * B4H + r4), c_prev, tc.at(t * BH + r), dtype, nb, H);
      t_next = t;
    }
    if (dh0) {  // dh0 = da_first W_hh (t_next is now the first step)
      matmul(da.at(t_next * B4H + r4), w_hh, P{dh0, es}.at(r), dtype,
             rows_gemm(nb, H, 4 * H, false, 4 * H, H, H, 0.0));
    }
    if (dc0) std::memcpy(P{dc0, es}.at(r), dc_rows.data(), row_bytes);
  }
}

}  // namespace cpu
}  // namespace loom
