// tests/cuda/shadow_backend.h: a stand-in "cuda" backend for tests without a GPU. It keeps its
// buffers in host memory and runs every Backend method with the CPU backend, except matmul,
// which it records and (optionally) runs the way cuda/matmul.cu does: mapped by
// cuda/gemm_mapping.h and executed by the cuBLAS reference of tests/cuda/cublas_reference.h.
//
//   ShadowCuda shadow(ShadowCuda::Matmul::Mapped);   // registered for cuda:0 while it lives
//   model.to(kShadowDevice); ... forward, backward ...
//   shadow.backend().calls()                          // every MatmulArgs the frontend issued
//
// Why a fake cuda device rather than recording on the CPU: the frontend and nn/ are
// device-agnostic, but nn/ makes different GEMM calls on a CPU (it splits big GEMMs into row
// slices for threads, nn/lstm_layer_common.cpp's slices_for) than on any other device. Under
// this backend the model issues exactly the calls a GPU would get.
//
// Every tensor made on kShadowDevice must die while the ShadowCuda lives: its storage is freed
// through whatever backend is registered for cuda:0 at that moment.
//
// Leaves out: float16 matmul through the mapping (forwarded to the CPU; the reference is for
// float32/float64), anything device-specific (streams, the allocator, graphs).
#pragma once

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/matmul_span.h"
#include "tensor/error.h"
#include "tests/cuda/cublas_reference.h"

namespace loom::test {

inline const Device kShadowDevice{DeviceType::CUDA, 0};

class ShadowBackend final : public Backend {
 public:
  enum class Matmul { Cpu, Mapped };
  explicit ShadowBackend(Matmul mode) : mode_(mode) {}

  struct Call {
    MatmulArgs args;
    DType dtype;
    bool mixed;  // matmul_mixed (float16 x float16 -> float32)
  };
  const std::vector<Call>& calls() const { return calls_; }

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
  void lstm_pointwise_forward(void* gates, const void* c_prev, void* c, void* tanh_c, void* h,
                              DType dt, int64_t B, int64_t H) override {
    cpu().lstm_pointwise_forward(gates, c_prev, c, tanh_c, h, dt, B, H);
  }
  void lstm_pointwise_backward(const void* dh, void* dc, const void* act, void* d_pre,
                               const void* c_prev, const void* tanh_c, DType dt, int64_t B,
                               int64_t H) override {
    cpu().lstm_pointwise_backward(dh, dc, act, d_pre, c_prev, tanh_c, dt, B, H);
  }
  bool lstm_persistent_fits(DType dt, int64_t H) override {
    return cpu().lstm_persistent_fits(dt, H);
  }
  void lstm_persistent_forward(const void* xproj, const void* w_hh, const void* h0, const void* c0,
                               void* act, void* c, void* tanh_c, void* h, void* h_n, void* c_n,
                               bool reverse, DType dt, int64_t T, int64_t B, int64_t H) override {
    cpu().lstm_persistent_forward(xproj, w_hh, h0, c0, act, c, tanh_c, h, h_n, c_n, reverse, dt, T,
                                  B, H);
  }
  void lstm_persistent_backward(const void* dh, const void* dh_n, const void* dc_n,
                                const void* w_hh, const void* act, const void* c, const void* c0,
                                const void* tanh_c, void* dgates, void* dh0, void* dc0,
                                bool reverse, DType dt, int64_t T, int64_t B, int64_t H) override {
    cpu().lstm_persistent_backward(dh, dh_n, dc_n, w_hh, act, c, c0, tanh_c, dgates, dh0, dc0,
                                   reverse, dt, T, B, H);
  }
  void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num, DType dt,
                             const float* inv_scale, float* found_inf) override {
    cpu().amp_unscale_and_check(grads, counts, num, dt, inv_scale, found_inf);
  }
  void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                        const AmpScaleUpdate& a) override {
    cpu().amp_update_scale(scale, counters, found_inf, a);
  }
  void adam_step(const AdamParam* params, int num, DType dt, const AdamHyper& h,
                 const float* found_inf) override {
    cpu().adam_step(params, num, dt, h, found_inf);
  }

  void matmul(const void* a, const void* b, void* c, DType dt, const MatmulArgs& p) override {
    record({p, dt, false});
    const bool gemm = p.batch > 0 && p.m > 0 && p.n > 0 && p.k > 0;  // else matmul.cu's own paths
    if (mode_ == Matmul::Mapped && gemm && dt == DType::Float64) return mapped<double>(a, b, c, p);
    if (mode_ == Matmul::Mapped && gemm && dt == DType::Float32) return mapped<float>(a, b, c, p);
    cpu().matmul(a, b, c, dt, p);
  }
  void matmul_mixed(const void* a, const void* b, DType ab, void* c, DType cd,
                    const MatmulArgs& p) override {
    record({p, ab, true});
    cpu().matmul_mixed(a, b, ab, c, cd, p);
  }

 private:
  static Backend& cpu() { return backend_for(kCPU); }

  void record(const Call& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
  }

  // cuda/matmul.cu's GEMM path, with the reference in place of cuBLAS; each operand's extent is
  // exactly what loom's contract says the call may touch.
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
