// tensor/cpu/backend.h (internal): the CPU implementation of loom::Backend and its fused kernels.
//
// One class, its methods spread over files by job, each file named after its CUDA twin in
// cuda/kernels/: backend.cpp (memory, threads), copy_cast.cpp, elementwise.cpp, reduce.cpp,
// matmul.cpp (also the mixed-precision GEMM), index.cpp, random.cpp, and the fused kernels:
// lstm.cpp (the LSTM recurrence), rnn.cpp (the tanh RNN's), adam.cpp, loss_scale.cpp, conv1d.cpp,
// and for inference int8_linear.cpp, lstm_inference.cpp and conv1d_int8.cpp. Buffers are plain host
// memory, 64-byte aligned. No Eigen in this header.
#pragma once

#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"

namespace loom::cpu {

class CpuBackend final : public Backend, public FusedKernels {
 public:
  const char* name() const override { return "cpu"; }
  void* allocate(std::size_t bytes, Device device) override;
  void deallocate(void* ptr, std::size_t bytes, Device device) override;
  // Frees every cached block (see backend.cpp).
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
  // elementwise.cpp: one call of the kernel per row of the full operand.
  bool binary_repeated(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
                       const RepeatedOperand& r) override;
  void where(const void* cond, const void* a, const void* b, void* out, DType dtype,
             int64_t n) override;
  void reduce(ReduceOp op, const void* x, void* out, DType dtype, int64_t outer, int64_t n,
              int64_t inner) override;
  // matmul.cpp: Eigen GEMMs; large products split their rows (or batch) over threads.
  void matmul(const void* a, const void* b, void* c, DType dtype, const MatmulArgs& args) override;
  void index_select(const void* src, const int64_t* index, void* out, DType dtype, int64_t outer,
                    int64_t rows, int64_t inner, int64_t K) override;
  void index_add(void* dst, const int64_t* index, const void* src, DType dtype, int64_t outer,
                 int64_t rows, int64_t inner, int64_t K) override;
  void random_uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low,
                      double high) override;
  void random_normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean,
                     double stddev) override;

  FusedKernels* fused() override { return this; }
  // lstm.cpp: one time loop each way, batch rows split over threads.
  void lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& b) override;
  void lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) override;
  bool lstm_persistent_fits(const LstmRecurrence& r) override;
  bool lstm_projects_input() override { return true; }
  // rnn.cpp: the tanh RNN's time loop each way, batch rows split over threads.
  void rnn_recurrence_forward(const RnnRecurrence& r, const RnnForwardBuffers& b) override;
  void rnn_recurrence_backward(const RnnRecurrence& r, const RnnBackwardBuffers& b) override;
  // adam.cpp: one vectorised loop per parameter.
  void adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& hyper,
                 const float* found_inf) override;
  // loss_scale.cpp: plain loops.
  void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num, DType dtype,
                             const float* inv_scale, float* found_inf) override;
  void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                        const AmpScaleUpdate& args) override;
  // matmul.cpp: widens A and B to float32 and runs the float32 GEMM into C.
  void matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                    const MatmulArgs& args) override;
  // conv1d.cpp: plain loops, batch rows split over threads.
  void conv1d_im2col(const void* x, void* cols, DType dtype, const Conv1dShape& s) override;
  void conv1d_col2im(const void* cols, void* dx, DType dtype, const Conv1dShape& s) override;
  void conv1d_direct(const void* x, const void* w, const void* bias, void* y, DType dtype,
                     const Conv1dShape& s, int64_t out_channels) override;
  // int8_linear.cpp: rows quantized to uint8, the packed u8 x s8 GEMM, int32 -> float32.
  void linear_int8(const float* x, int64_t m, const Int8Weights& w, const float* bias,
                   float* y) override;
  // lstm_inference.cpp: the eval-mode time loop, batch rows split over threads.
  void lstm_inference(const LstmInference& args) override;
  // conv1d_int8.cpp: rows quantized once, one packed u8 x s8 GEMM per tap, shifted sums.
  void conv1d_int8(const float* x, const Conv1dShape& s, const Int8Weights* taps, const float* bias,
                   float* y) override;
  // int8_linear.cpp: a gemm::PackedU8S8B of w (pack_weights).
  std::shared_ptr<const void> pack_int8(const Int8Weights& w) override;

 private:
  std::mutex cache_mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> cache_;  // rounded size -> free blocks
  std::size_t cached_bytes_ = 0;
};

CpuBackend& cpu_backend();

}  // namespace loom::cpu
