// tensor/cpu/lstm.cpp: the CPU backend's LSTM recurrence, forward and backward: the one time loop
// of each. Contract: tensor/fused_kernels.h; caller: tensor/lstm.cpp; CUDA twin:
// cuda/kernels/lstm.cu.
//
// Batch rows never interact (row b of h_t needs only row b of h_{t-1}), so the batch is split into
// one row range per thread (tensor/cpu/threads.h's rules) and each thread runs the whole time loop
// on its rows with no synchronisation between steps: per step single-threaded GEMMs (the forward
// projects the step's input too, lstm_projects_input) and the cell (tensor/cpu/lstm_cell.h, the
// math of tensor/kernels/lstm_pointwise.h). Splitting each small GEMM over threads instead costs
// two thread handoffs per step; on a loaded machine that was 10x slower
// (docs/results/lstm-step-cpu.md). Mixed precision is the same loop: the GEMM reads the gemm-dtype
// copies of h (or of dL/dgates) that each step writes after its pointwise update.
//
// Compiled with -ffast-math (tensor/CMakeLists.txt) so GCC vectorises the cell's expf/tanhf with
// libmvec (5x the scalar loop); safe: lstm_sigmoid never overflows exp, and finite inputs give no
// infinities or NaNs to preserve.
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/gemm/gemm.h"
#include "tensor/cpu/lstm_cell.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"
#include "tensor/kernels/lstm_pointwise.h"

namespace loom::cpu {
namespace {

// dc is read (as dc_next) before it is written (as dc_prev): in place is fine.
template <typename T>
void cell_backward(const T* dh, T* dc, const T* act, T* d_pre, const T* c_prev, const T* tanh_c,
                   int64_t rows, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* a = act + b * 4 * H;
    T* d = d_pre + b * 4 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      kernels::lstm_pointwise_backward_at<T, T>(dh + o + j, dc + o + j, a + j, H, c_prev + o + j,
                                                tanh_c + o + j, d + j, dc + o + j);
    }
  }
}

// A [T, B, width] buffer of `dtype`: at(t, b) is the first element of row b of step t.
struct StepRows {
  const void* base;
  std::size_t esize;
  int64_t B, width;
  char* at(int64_t t, int64_t b) const {
    const auto i = static_cast<std::size_t>((t * B + b) * width);
    return const_cast<char*>(static_cast<const char*>(base)) + i * esize;
  }
};

// A weight every step multiplies by, as the B operand op(W) (k x n) of a product: W_hh (transposed
// in the forward, h W_hh^T; as it is in the backward, da W_hh) and, when the forward projects the
// input here, W_ih (transposed). The bfloat16 GEMM packs its B operand into panels at every call,
// all k x n values of it for a product of only nb x k x n multiply-adds; the weight is the same
// at every step, so here it is packed once per recurrence, before the threads start, and shared
// by them (read only).
struct StepWeight {
  const void* w;
  int64_t k, n;
  bool transposed;           // stored [n, k] (op(W) = W^T), else [k, n]
  gemm::PackedBf16B packed;  // its panels, when the GEMMs run in bfloat16

  StepWeight(const LstmRecurrence& r, const void* weight, int64_t k_, int64_t n_, bool trans)
      : w(weight), k(k_), n(n_), transposed(trans) {
    if (r.gemm == DType::BFloat16 && r.B > 0 && w != nullptr)
      gemm::pack_b_bf16(static_cast<const uint16_t*>(w), args(), packed);
  }
  // op(W) as the B of a product (m, A and C left for the caller).
  MatmulArgs args() const {
    MatmulArgs g;
    g.k = k;
    g.n = n;
    g.trans_b = transposed;
    g.ldb = std::max<int64_t>(1, transposed ? k : n);
    return g;
  }
};

// C [m, n] (+)= A [m, k] op(W) with A in r.gemm and C in r.state: a plain, a mixed or a
// prepacked bfloat16 GEMM.
void gemm(CpuBackend& be, const LstmRecurrence& r, const void* a, int64_t lda, const StepWeight& w,
          void* c, int64_t ldc, int64_t m, int64_t n, int64_t k, double beta) {
  MatmulArgs g = w.args();
  LOOM_CHECK(g.n == n && g.k == k, "LSTM recurrence: a ", m, " x ", k, " x ", n,
             " product with a weight that is ", g.k, " x ", g.n, " here");
  g.m = m;
  g.lda = std::max<int64_t>(1, lda), g.ldc = ldc;
  g.beta = beta;
  if (r.gemm == DType::BFloat16)
    gemm::gemm_bf16_packed(static_cast<const uint16_t*>(a), w.packed, static_cast<float*>(c), g);
  else if (r.gemm == r.state)
    be.matmul(a, w.w, c, r.state, g);
  else
    be.matmul_mixed(a, w.w, r.gemm, c, r.state, g);
}

// out[i] = a[i] * b[i] (recurrent dropout's mask, applied to h or to a gradient).
template <typename T>
void multiply(const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = a[i] * b[i];
}

// The forward time loop over rows [b0, b0 + nb).
template <typename T>
void forward_rows(CpuBackend& be, const LstmRecurrence& r, const LstmForwardBuffers& f,
                  const StepWeight& w_ih, const StepWeight& w_hh, int64_t b0, int64_t nb) {
  const int64_t T_ = r.T, B = r.B, H = r.H;
  const std::size_t es = sizeof(T), eg = dtype_size(r.gemm);
  const StepRows gates{f.gates, es, B, 4 * H}, c{f.c, es, B, H}, tc{f.tanh_c, es, B, H},
      h{f.h, es, B, H}, hg{f.h_gemm, eg, B, H}, x{f.x, eg, B, f.in};
  const T* mask = f.h_mask != nullptr ? static_cast<const T*>(f.h_mask) + b0 * H : nullptr;
  std::vector<T> masked(mask != nullptr ? nb * H : 0);  // h_t * mask, before its rounding
  const void* h_prev = static_cast<const char*>(f.h0) + b0 * H * eg;  // [nb, H] gemm dtype
  const T* c_prev = static_cast<const T*>(f.c0) + b0 * H;
  for (int64_t step = 0; step < T_; ++step) {
    const int64_t t = r.reverse ? T_ - 1 - step : step;
    T* g = reinterpret_cast<T*>(gates.at(t, b0));
    if (f.x != nullptr) {  // g = bias + x_t W_ih^T, for this step's rows only
      for (int64_t b = 0; b < nb; ++b)
        std::copy_n(static_cast<const T*>(f.bias), 4 * H, g + b * 4 * H);
      gemm(be, r, x.at(t, b0), f.in, w_ih, g, 4 * H, nb, 4 * H, f.in, 1.0);
    }
    gemm(be, r, h_prev, H, w_hh, g, 4 * H, nb, 4 * H, H, 1.0);  // g += h W_hh^T
    T* c_t = reinterpret_cast<T*>(c.at(t, b0));
    T* h_t = reinterpret_cast<T*>(h.at(t, b0));
    lstm_cell_rows<T>(g, nb, H, c_prev, c_t, reinterpret_cast<T*>(tc.at(t, b0)), h_t);
    // The next step's GEMM operand: h_t, masked (recurrent dropout), in the gemm dtype.
    const T* operand = h_t;
    if (mask != nullptr) {
      multiply(h_t, mask, masked.data(), nb * H);
      operand = masked.data();
    }
    if (f.h_gemm != nullptr) be.cast(operand, r.state, hg.at(t, b0), r.gemm, nb * H);
    h_prev = f.h_gemm != nullptr ? static_cast<const void*>(hg.at(t, b0)) : h_t;
    c_prev = c_t;
  }
  if (f.c_n != nullptr) std::memcpy(static_cast<T*>(f.c_n) + b0 * H, c_prev, nb * H * es);
}

// The backward time loop (last step first) over rows [b0, b0 + nb).
template <typename T>
void backward_rows(CpuBackend& be, const LstmRecurrence& r, const LstmBackwardBuffers& bw,
                   const StepWeight& w_hh, int64_t b0, int64_t nb) {
  // BEGIN LAB 04 TASK 2 uses(be, r, bw, w_hh, b0, nb)
  const int64_t T_ = r.T, B = r.B, H = r.H;
  const std::size_t es = sizeof(T), eg = dtype_size(r.gemm);
  const StepRows dh{bw.dh, es, B, H}, act{bw.act, es, B, 4 * H}, c{bw.c, es, B, H},
      tc{bw.tanh_c, es, B, H}, da{bw.dgates, es, B, 4 * H},
      da_gemm{bw.dgates_gemm != nullptr ? bw.dgates_gemm : bw.dgates, eg, B, 4 * H};
  // This thread's dL/dh_t (all paths) and dL/dc carried between steps (dc_n first, dc_0 last);
  // with recurrent dropout also da W_hh before its mask.
  const T* mask = bw.h_mask != nullptr ? static_cast<const T*>(bw.h_mask) + b0 * H : nullptr;
  std::vector<T> dh_rows(nb * H), dc_rows(nb * H, T(0)), rec(mask != nullptr ? nb * H : 0);
  if (bw.dc_n != nullptr)
    std::memcpy(dc_rows.data(), static_cast<const T*>(bw.dc_n) + b0 * H, nb * H * es);
  int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
  for (int64_t step = T_ - 1; step >= 0; --step) {
    const int64_t t = r.reverse ? T_ - 1 - step : step;
    std::memcpy(dh_rows.data(), dh.at(t, b0), nb * H * es);
    if (t_next >= 0 && mask == nullptr)  // dh_t += da_{t_next} W_hh: [nb, 4H] x [4H, H]
      gemm(be, r, da_gemm.at(t_next, b0), 4 * H, w_hh, dh_rows.data(), H, nb, H, 4 * H, 1.0);
    if (t_next >= 0 && mask != nullptr) {  // dh_t += (da_{t_next} W_hh) * mask
      gemm(be, r, da_gemm.at(t_next, b0), 4 * H, w_hh, rec.data(), H, nb, H, 4 * H, 0.0);
      for (int64_t i = 0; i < nb * H; ++i)
        dh_rows[i] += rec[i] * mask[i];
    }
    const int64_t t_prev = r.reverse ? t + 1 : t - 1;  // where c_{t-1} is (the first step: c0)
    const T* c_prev = step == 0 ? static_cast<const T*>(bw.c0) + b0 * H
                                : reinterpret_cast<const T*>(c.at(t_prev, b0));
    T* da_t = reinterpret_cast<T*>(da.at(t, b0));
    cell_backward<T>(dh_rows.data(), dc_rows.data(), reinterpret_cast<const T*>(act.at(t, b0)),
                     da_t, c_prev, reinterpret_cast<const T*>(tc.at(t, b0)), nb, H);
    if (bw.dgates_gemm != nullptr) be.cast(da_t, r.state, da_gemm.at(t, b0), r.gemm, nb * 4 * H);
    t_next = t;
  }
  if (bw.dh0 != nullptr) {  // dh0 = (da_first W_hh) (* mask); t_next is now the first step
    T* dh0 = static_cast<T*>(bw.dh0) + b0 * H;
    gemm(be, r, da_gemm.at(t_next, b0), 4 * H, w_hh, dh0, H, nb, H, 4 * H, 0.0);
    if (mask != nullptr) multiply(dh0, mask, dh0, nb * H);
  }
  if (bw.dc0 != nullptr) std::memcpy(static_cast<T*>(bw.dc0) + b0 * H, dc_rows.data(), nb * H * es);
  // END LAB 04 TASK 2
}

// Where the batch is cut between threads. Eigen (float32, float64) computes rows in groups whose
// rounding depends on where a group ends: kSliceAlign (threads.h). loom's bfloat16 GEMM computes
// a row the same in any tile, and a tile of mr rows costs the same however few of them are
// filled: cut at multiples of mr. At batch 100 on 2 threads that is 50 + 50 rows, 5 tiles each;
// cut at 16, 48 + 52 gave one thread a sixth tile of 2 rows at every step and the other thread
// waited for it (docs/results/lstm-step-bf16-cpu.md).
int64_t slice_alignment(const LstmRecurrence& r) {
  return r.gemm == DType::BFloat16 ? gemm::bf16_tile_rows() : kSliceAlign;
}

void check_dtypes(const char* op, const LstmRecurrence& r, const void* h_mask = nullptr,
                  const void* h_gemm = nullptr) {
  LOOM_CHECK(h_mask == nullptr || h_gemm != nullptr, op,
             ": recurrent dropout (h_mask) needs the h_gemm buffer for the masked operands");
  LOOM_CHECK(r.state == DType::Float32 || r.state == DType::Float64, op,
             ": the CPU state dtype is float32 or float64, got ", dtype_name(r.state));
  const bool mixed = r.gemm == DType::Float16 || r.gemm == DType::BFloat16;
  LOOM_CHECK(r.gemm == r.state || (mixed && r.state == DType::Float32), op,
             ": the CPU runs the recurrent GEMM in the state dtype or in float16 or bfloat16 with "
             "a float32 state, got ",
             dtype_name(r.gemm), " with ", dtype_name(r.state));
}

}  // namespace

void CpuBackend::lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& f) {
  check_dtypes("lstm_recurrence_forward", r, f.h_mask, f.h_gemm);
  LOOM_CHECK(f.x == nullptr || (f.w_ih != nullptr && f.bias != nullptr && f.in >= 0),
             "lstm_recurrence_forward: an input x needs w_ih, bias and its size `in`");
  if (r.B == 0) return;
  const StepWeight w_hh(r, f.w_hh, r.H, 4 * r.H, /*trans=*/true);
  const StepWeight w_ih(r, f.x != nullptr ? f.w_ih : nullptr, f.in, 4 * r.H, /*trans=*/true);
  const int64_t work = r.T * r.B * 4 * r.H * (r.H + (f.x != nullptr ? f.in : 0));
  const auto run_rows = [&](int64_t b0, int64_t nb) {
    if (r.state == DType::Float32)
      forward_rows<float>(*this, r, f, w_ih, w_hh, b0, nb);
    else
      forward_rows<double>(*this, r, f, w_ih, w_hh, b0, nb);
  };
  for_each_row_slice(r.B, work, run_rows, slice_alignment(r));
}

void CpuBackend::lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) {
  check_dtypes("lstm_recurrence_backward", r);
  if (r.B == 0) return;
  const StepWeight w_hh(r, b.w_hh, 4 * r.H, r.H, /*trans=*/false);
  const auto run_rows = [&](int64_t b0, int64_t nb) {
    if (r.state == DType::Float32)
      backward_rows<float>(*this, r, b, w_hh, b0, nb);
    else
      backward_rows<double>(*this, r, b, w_hh, b0, nb);
  };
  for_each_row_slice(r.B, r.T * r.B * 4 * r.H * r.H, run_rows, slice_alignment(r));
}

// The CPU has one loop; "persistent" (the whole recurrence in one call) is what it always does.
bool CpuBackend::lstm_persistent_fits(const LstmRecurrence&) {
  return true;
}

}  // namespace loom::cpu
