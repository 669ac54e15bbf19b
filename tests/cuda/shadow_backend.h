// tests/cuda/shadow_backend.h: a stand-in "cuda" backend for tests without a GPU: the core table
// and the fused kernels (tensor/fused_kernels.h) on host memory, forwarding to the CPU backend,
// except the GEMMs, which it records and (optionally) runs as cuda/kernels/matmul.cu does: mapped
// by cuda/kernels/gemm_mapping.h, executed by tests/cuda/cublas_reference.h.
//
//   ShadowCuda shadow(ShadowBackend::Matmul::Mapped);   // registered for cuda:0 while it lives
//   model.to(kShadowDevice); ... forward, backward ...
//   shadow.backend().calls()                             // every GEMM a GPU would have run
//
// The LSTM's per-step GEMMs happen inside each backend's recurrence, so the recurrence here is
// cuda/kernels/lstm.cu's per-step loop, call for call (ShadowRecurrence). Every tensor made on
// kShadowDevice must die while the ShadowCuda lives (its storage is freed through the backend
// registered for cuda:0 then).
// Leaves out: the persistent kernel (lstm_persistent_fits is false: every recurrence runs per
// step), float16 GEMMs through the mapping (recorded, run by the CPU), streams, graphs.
#pragma once

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/backend.h"
#include "tensor/cpu/matmul_span.h"
#include "tensor/error.h"
#include "tensor/fused_kernels.h"
#include "tensor/kernels/lstm_pointwise.h"
#include "tests/cuda/cublas_reference.h"

namespace loom::test {

inline const Device kShadowDevice{DeviceType::CUDA, 0};

// cuda/kernels/lstm.cu's per-step recurrence, mirrored statement for statement: the same GEMM
// arguments (its local gemm()), in the same order, with the same casts and copies; the pointwise
// kernels of cuda/kernels/lstm_kernels.cuh become host loops over the same per-element functions.
// Each GEMM goes through the backend's matmul / matmul_mixed, so the shadow records and maps it. A
// copy, so it must follow cuda/kernels/lstm.cu by hand (only the argument patterns matter to the
// mapping test).
template <typename Be>
class ShadowRecurrence {
 public:
  explicit ShadowRecurrence(Be& be) : be_(be) {}

  void forward(const LstmRecurrence& r, const LstmForwardBuffers& f) {
    const int64_t T = r.T, B = r.B, H = r.H;
    const void* h_prev = f.h0;  // gemm dtype
    const void* c_prev = f.c0;
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = r.reverse ? T - 1 - step : step;
      void* gates = step_of(f.gates, r.state, t, B, 4 * H);
      gemm(r, h_prev, f.w_hh, true, gates, B, 4 * H, H, 1.0);  // gates += h W_hh^T
      void* c = step_of(f.c, r.state, t, B, H);
      void* h = step_of(f.h, r.state, t, B, H);
      cell_forward(r.state, gates, c_prev, c, step_of(f.tanh_c, r.state, t, B, H), h, B, H);
      h_prev = h;
      if (f.h_gemm != nullptr) {
        void* hg = step_of(f.h_gemm, r.gemm, t, B, H);
        be_.cast(h, r.state, hg, r.gemm, B * H);
        h_prev = hg;
      }
      c_prev = c;
    }
    if (f.c_n != nullptr) std::memcpy(f.c_n, c_prev, bytes(B * H, r.state));
  }

  void backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) {
    const int64_t T = r.T, B = r.B, H = r.H;
    std::vector<char> dh(bytes(B * H, r.state)), dc(bytes(B * H, r.state));
    if (b.dc_n != nullptr)
      std::memcpy(dc.data(), b.dc_n, dc.size());
    else
      be_.fill(dc.data(), r.state, B * H, 0.0);
    const void* da_gemm = b.dgates_gemm != nullptr ? b.dgates_gemm : b.dgates;
    int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = r.reverse ? T - 1 - step : step;
      std::memcpy(dh.data(), step_of(b.dh, r.state, t, B, H), dh.size());
      if (t_next >= 0)  // dh_t += da_{t_next} W_hh
        gemm(r, step_of(da_gemm, r.gemm, t_next, B, 4 * H), b.w_hh, false, dh.data(), B, H, 4 * H,
             1.0);
      const int64_t t_prev = r.reverse ? t + 1 : t - 1;
      const void* c_prev = step == 0 ? b.c0 : step_of(b.c, r.state, t_prev, B, H);
      void* da = step_of(b.dgates, r.state, t, B, 4 * H);
      cell_backward(r.state, dh.data(), dc.data(), step_of(b.act, r.state, t, B, 4 * H), da, c_prev,
                    step_of(b.tanh_c, r.state, t, B, H), B, H);
      if (b.dgates_gemm != nullptr)
        be_.cast(da, r.state, step_of(b.dgates_gemm, r.gemm, t, B, 4 * H), r.gemm, B * 4 * H);
      t_next = t;
    }
    if (b.dh0 != nullptr)  // dh0 = da_first W_hh
      gemm(r, step_of(da_gemm, r.gemm, t_next, B, 4 * H), b.w_hh, false, b.dh0, B, H, 4 * H, 0.0);
    if (b.dc0 != nullptr) std::memcpy(b.dc0, dc.data(), dc.size());
  }

 private:
  static std::size_t bytes(int64_t n, DType dt) {
    return static_cast<std::size_t>(n) * dtype_size(dt);
  }
  static void* step_of(const void* base, DType dtype, int64_t t, int64_t B, int64_t width) {
    return const_cast<char*>(static_cast<const char*>(base)) + bytes(t * B * width, dtype);
  }

  // cuda/kernels/lstm.cu's gemm(): C [m, n] (+)= A [m, k] op(B), A and B in r.gemm, C in r.state.
  void gemm(const LstmRecurrence& r, const void* a, const void* b, bool trans_b, void* c, int64_t m,
            int64_t n, int64_t k, double beta) {
    MatmulArgs g;
    g.m = m, g.n = n, g.k = k;
    g.trans_b = trans_b;
    g.lda = k, g.ldb = trans_b ? k : n, g.ldc = n;
    g.beta = beta;
    if (r.gemm == r.state)
      be_.matmul(a, b, c, r.state, g);
    else
      be_.matmul_mixed(a, b, r.gemm, c, r.state, g);
  }

  // The bodies of lstm_forward_kernel / lstm_backward_kernel, one (b, j) per iteration.
  template <typename T>
  static void cell_forward_as(T* gates, const T* c_prev, T* c, T* tanh_c, T* h, int64_t B,
                              int64_t H) {
    for (int64_t i = 0; i < B * H; ++i) {
      T* row = gates + (i / H) * 4 * H + i % H;
      kernels::lstm_pointwise_forward_at<T, T>(row, H, c_prev + i, row, c + i, tanh_c + i, h + i);
    }
  }
  template <typename T>
  static void cell_backward_as(const T* dh, T* dc, const T* act, T* d_pre, const T* c_prev,
                               const T* tanh_c, int64_t B, int64_t H) {
    for (int64_t i = 0; i < B * H; ++i) {
      const int64_t g = (i / H) * 4 * H + i % H;
      kernels::lstm_pointwise_backward_at<T, T>(dh + i, dc + i, act + g, H, c_prev + i, tanh_c + i,
                                                d_pre + g, dc + i);
    }
  }
  static void cell_forward(DType dt, void* gates, const void* c_prev, void* c, void* tanh_c,
                           void* h, int64_t B, int64_t H) {
    if (dt == DType::Float32)
      cell_forward_as(static_cast<float*>(gates), static_cast<const float*>(c_prev),
                      static_cast<float*>(c), static_cast<float*>(tanh_c), static_cast<float*>(h),
                      B, H);
    else
      cell_forward_as(static_cast<double*>(gates), static_cast<const double*>(c_prev),
                      static_cast<double*>(c), static_cast<double*>(tanh_c),
                      static_cast<double*>(h), B, H);
  }
  static void cell_backward(DType dt, const void* dh, void* dc, const void* act, void* d_pre,
                            const void* c_prev, const void* tanh_c, int64_t B, int64_t H) {
    if (dt == DType::Float32)
      cell_backward_as(static_cast<const float*>(dh), static_cast<float*>(dc),
                       static_cast<const float*>(act), static_cast<float*>(d_pre),
                       static_cast<const float*>(c_prev), static_cast<const float*>(tanh_c), B, H);
    else
      cell_backward_as(static_cast<const double*>(dh), static_cast<double*>(dc),
                       static_cast<const double*>(act), static_cast<double*>(d_pre),
                       static_cast<const double*>(c_prev), static_cast<const double*>(tanh_c), B,
                       H);
  }

  Be& be_;
};

class ShadowBackend final : public Backend, public FusedKernels {
 public:
  enum class Matmul { Cpu, Mapped };
  explicit ShadowBackend(Matmul mode) : mode_(mode) {}

  struct Call {
    MatmulArgs args;
    DType dtype;
    bool mixed;       // matmul_mixed (float16 x float16 -> float32)
    bool recurrence;  // issued by the LSTM recurrence's per-step loop (ShadowRecurrence)
  };
  const std::vector<Call>& calls() const { return calls_; }

  // ---- the core table ------------------------------------------------------------------------
  const char* name() const override { return "shadow-cuda"; }
  void* allocate(std::size_t bytes, Device) override { return cpu().allocate(bytes, kCPU); }
  void deallocate(void* p, std::size_t bytes, Device) override { cpu().deallocate(p, bytes, kCPU); }
  void copy_host_to_device(void* dst, const void* src, std::size_t bytes, Device) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_device_to_host(void* dst, const void* src, std::size_t bytes, Device) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_device_to_device(void* dst, const void* src, std::size_t bytes, Device) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill(void* dst, DType dt, int64_t n, double v) override { cpu().fill(dst, dt, n, v); }
  void compact(const void* src, const StridedLayout& l, void* dst, DType dt) override {
    cpu().compact(src, l, dst, dt);
  }
  void strided_write(const void* src, void* dst, const StridedLayout& l, DType dt) override {
    cpu().strided_write(src, dst, l, dt);
  }
  void cast(const void* src, DType sd, void* dst, DType dd, int64_t n) override {
    cpu().cast(src, sd, dst, dd, n);
  }
  void unary(UnaryOp op, const void* x, void* y, DType dt, int64_t n) override {
    cpu().unary(op, x, y, dt, n);
  }
  void unary_scalar(ScalarOp op, const void* x, double s, void* y, DType dt, int64_t n) override {
    cpu().unary_scalar(op, x, s, y, dt, n);
  }
  void binary(BinaryOp op, const void* a, const void* b, void* out, DType dt, int64_t n) override {
    cpu().binary(op, a, b, out, dt, n);
  }
  void where(const void* c, const void* a, const void* b, void* out, DType dt, int64_t n) override {
    cpu().where(c, a, b, out, dt, n);
  }
  void reduce(ReduceOp op, const void* x, void* out, DType dt, int64_t outer, int64_t n,
              int64_t inner) override {
    cpu().reduce(op, x, out, dt, outer, n, inner);
  }
  void index_select(const void* src, const int64_t* index, void* out, DType dt, int64_t outer,
                    int64_t rows, int64_t inner, int64_t K) override {
    cpu().index_select(src, index, out, dt, outer, rows, inner, K);
  }
  void index_add(void* dst, const int64_t* index, const void* src, DType dt, int64_t outer,
                 int64_t rows, int64_t inner, int64_t K) override {
    cpu().index_add(dst, index, src, dt, outer, rows, inner, K);
  }
  void random_uniform(void* dst, DType dt, int64_t n, uint64_t seed, uint64_t offset, double lo,
                      double hi) override {
    cpu().random_uniform(dst, dt, n, seed, offset, lo, hi);
  }
  void random_normal(void* dst, DType dt, int64_t n, uint64_t seed, uint64_t offset, double mean,
                     double stddev) override {
    cpu().random_normal(dst, dt, n, seed, offset, mean, stddev);
  }
  void matmul(const void* a, const void* b, void* c, DType dt, const MatmulArgs& p) override {
    record({p, dt, false, in_recurrence_});
    const bool gemm = p.batch > 0 && p.m > 0 && p.n > 0 && p.k > 0;  // else matmul.cu's own paths
    if (mode_ == Matmul::Mapped && gemm && dt == DType::Float64) return mapped<double>(a, b, c, p);
    if (mode_ == Matmul::Mapped && gemm && dt == DType::Float32) return mapped<float>(a, b, c, p);
    cpu().matmul(a, b, c, dt, p);
  }

  // ---- the fused kernels -------------------------------------------------------------------
  FusedKernels* fused() override { return this; }
  void lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& b) override {
    if (r.B == 0) return;
    RecurrenceScope scope(*this);
    ShadowRecurrence<ShadowBackend>(*this).forward(r, b);
  }
  void lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) override {
    if (r.B == 0) return;
    RecurrenceScope scope(*this);
    ShadowRecurrence<ShadowBackend>(*this).backward(r, b);
  }
  bool lstm_persistent_fits(const LstmRecurrence&) override { return false; }
  void adam_step(const AdamParam* params, int num, DType dt, const AdamHyper& h,
                 const float* found_inf) override {
    cpu::cpu_backend().adam_step(params, num, dt, h, found_inf);
  }
  void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num, DType dt,
                             const float* inv_scale, float* found_inf) override {
    cpu::cpu_backend().amp_unscale_and_check(grads, counts, num, dt, inv_scale, found_inf);
  }
  void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                        const AmpScaleUpdate& a) override {
    cpu::cpu_backend().amp_update_scale(scale, counters, found_inf, a);
  }
  void matmul_mixed(const void* a, const void* b, DType ab, void* c, DType cd,
                    const MatmulArgs& p) override {
    record({p, ab, true, in_recurrence_});
    cpu::cpu_backend().matmul_mixed(a, b, ab, c, cd, p);
  }
  void conv1d_im2col(const void* x, void* cols, DType dt, const Conv1dShape& s) override {
    cpu::cpu_backend().conv1d_im2col(x, cols, dt, s);
  }
  void conv1d_col2im(const void* cols, void* dx, DType dt, const Conv1dShape& s) override {
    cpu::cpu_backend().conv1d_col2im(cols, dx, dt, s);
  }
  void conv1d_direct(const void* x, const void* w, const void* bias, void* y, DType dt,
                     const Conv1dShape& s, int64_t out_channels) override {
    cpu::cpu_backend().conv1d_direct(x, w, bias, y, dt, s, out_channels);
  }

 private:
  static Backend& cpu() { return backend_for(kCPU); }

  // Marks the GEMMs made while a recurrence runs (the model runs on one thread).
  struct RecurrenceScope {
    ShadowBackend& be;
    explicit RecurrenceScope(ShadowBackend& b) : be(b) { be.in_recurrence_ = true; }
    ~RecurrenceScope() { be.in_recurrence_ = false; }
  };

  void record(const Call& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
  }

  // cuda/kernels/matmul.cu's GEMM path, with the reference in place of cuBLAS; each operand's
  // extent is exactly what loom's contract says the call may touch.
  template <typename T>
  void mapped(const void* a, const void* b, void* c, const MatmulArgs& p) {
    using cpu::matmul_operand_span;
    const int64_t na = matmul_operand_span(p.batch, p.stride_a, p.trans_a ? p.k : p.m,
                                           p.trans_a ? p.m : p.k, p.lda);
    const int64_t nb = matmul_operand_span(p.batch, p.stride_b, p.trans_b ? p.n : p.k,
                                           p.trans_b ? p.k : p.n, p.ldb);
    const int64_t nc = matmul_operand_span(p.batch, p.stride_c, p.m, p.n, p.ldc);
    const GemmOutcome r = run_mapped<T>(p, static_cast<const T*>(a), na, static_cast<const T*>(b),
                                        nb, static_cast<T*>(c), nc);
    LOOM_CHECK(r.ok, "shadow matmul (batch ", p.batch, " m ", p.m, " n ", p.n, " k ", p.k, " lda ",
               p.lda, " ldb ", p.ldb, " ldc ", p.ldc, "): ", r.error);
  }

  Matmul mode_;
  bool in_recurrence_ = false;
  std::mutex mutex_;
  std::vector<Call> calls_;
};

// Registers a ShadowBackend for cuda:0 for its lifetime, then puts back what was there (the
// real CUDA backend in a CUDA build, none otherwise).
class ShadowCuda {
 public:
  explicit ShadowCuda(ShadowBackend::Matmul mode) : backend_(mode) {
    previous_ = has_backend(DeviceType::CUDA) ? &backend_for(kShadowDevice) : nullptr;
    register_backend(DeviceType::CUDA, &backend_);
  }
  ~ShadowCuda() { register_backend(DeviceType::CUDA, previous_); }
  ShadowCuda(const ShadowCuda&) = delete;
  ShadowCuda& operator=(const ShadowCuda&) = delete;
  ShadowBackend& backend() { return backend_; }

 private:
  ShadowBackend backend_;
  Backend* previous_;
};

}  // namespace loom::test
