// tensor/cpu/cpu_backend.h (internal): the CPU implementation of loom::Backend.
//
// One class, its methods spread over files by job: cpu_backend.cpp (memory), copy_cast.cpp
// (fill, compact, strided_write, cast), elementwise.cpp, reduce.cpp, matmul.cpp, index.cpp,
// random.cpp, cpu_lstm.cpp (the fused LSTM cell), cpu_amp.cpp (the loss scaler's kernels),
// cpu_adam.cpp (the fused Adam/AdamW step).
// Buffers are plain host memory, 64-byte aligned. No Eigen in this header.
#pragma once

#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/backend.h"

namespace loom::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void* allocate(std::size_t bytes, Device device) override;
  void deallocate(void* ptr, std::size_t bytes, Device device) override;
  // Frees every cached block (see cpu_backend.cpp).
  void empty_cache();
  void copy_host_to_device(void* dst, const void* src, std::size_t bytes, Device dev) override;
  void copy_device_to_host(void* dst, const void* src, std::size_t bytes, Device dev) override;
  void copy_device_to_device(void* dst, const void* src, std::size_t bytes, Device dev) override;
  void fill(void* dst, DType dtype, int64_t n, double value) override;
  void compact(const void* src, const StridedLayout& src_layout, void* dst, DType dtype) override;
  void strided_write(const void* src, void* dst, const StridedLayout& dst_layout,
                     DType dtype) override;
  void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) override;
  void unary(UnaryOp op, const void* x, void* y, DType dtype, int64_t n) override;
  void unary_scalar(ScalarOp op, const void* x, double scalar, void* y, DType dtype,
                    int64_t n) override;
  void binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
              int64_t n) override;
  void where(const void* cond, const void* a, const void* b, void* out, DType dtype,
             int64_t n) override;
  void reduce(ReduceOp op, const void* x, void* out, DType dtype, int64_t outer, int64_t n,
              int64_t inner) override;
  void matmul(const void* a, const void* b, void* c, DType dtype, const MatmulArgs& args) override;
  void index_select(const void* src, const int64_t* index, void* out, DType dtype, int64_t outer,
                    int64_t rows, int64_t inner, int64_t K) override;
  void index_add(void* dst, const int64_t* index, const void* src, DType dtype, int64_t outer,
                 int64_t rows, int64_t inner, int64_t K) override;
  void random_uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low,
                      double high) override;
  void random_normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean,
                     double stddev) override;
  // cpu_lstm.cpp: float32/float64, rows split over threads.
  void lstm_pointwise_forward(void* gates, const void* c_prev, void* c, void* tanh_c, void* h,
                              DType dtype, int64_t B, int64_t H) override;
  void lstm_pointwise_backward(const void* dh, void* dc, const void* act, void* d_pre,
                               const void* c_prev, const void* tanh_c, DType dtype, int64_t B,
                               int64_t H) override;
  // cpu_lstm_persistent.cpp: the persistent LSTM's CPU twin (whole recurrence per call).
  bool lstm_persistent_fits(DType dtype, int64_t H) override;
  void lstm_persistent_forward(const void* xproj, const void* w_hh, const void* h0, const void* c0,
                               void* act, void* c, void* tanh_c, void* h, void* h_n, void* c_n,
                               bool reverse, DType dtype, int64_t T, int64_t B, int64_t H) override;
  void lstm_persistent_backward(const void* dh, const void* dh_n, const void* dc_n,
                                const void* w_hh, const void* act, const void* c, const void* c0,
                                const void* tanh_c, void* dgates, void* dh0, void* dc0,
                                bool reverse, DType dtype, int64_t T, int64_t B,
                                int64_t H) override;
  // cpu_amp.cpp: mixed precision: the loss scaler's kernels (plain loops), the fp16 x fp16 ->
  // fp32 GEMM.
  void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num, DType dtype,
                             const float* inv_scale, float* found_inf) override;
  void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                        const AmpScaleUpdate& args) override;
  void matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                    const MatmulArgs& args) override;
  // cpu_adam.cpp: Adam/AdamW, one vectorised loop per parameter (float32, float64).
  void adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& hyper,
                 const float* found_inf) override;

 private:
  std::mutex cache_mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> cache_;  // rounded size -> free blocks
  std::size_t cached_bytes_ = 0;
};

CpuBackend& cpu_backend();

}  // namespace loom::cpu
