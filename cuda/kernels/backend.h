// cuda/kernels/backend.h: CudaBackend, loom's CUDA implementation of loom::Backend and its
// FusedKernels, and the backend's runtime setting. CPU twin: tensor/cpu/backend.h.
//
// Public (no CUDA header): any folder may include it, but nobody needs to: an executable that
// links loom::cuda registers the backend for DeviceType::CUDA before main()
// (register_backend.cpp), and `tensor.to(Device("cuda:0"))` then runs here. With no usable
// device, the first allocation throws "no CUDA device (...)". The methods live in the files
// named after their CPU twins in tensor/cpu/ (cuda/README.md lists them); each contract is
// tensor/backend.h's or tensor/fused_kernels.h's. Every kernel runs on the current device
// (cuda::set_device) and this thread's current stream (runtime/stream.cuh).
//
// Leaves out: tensors on a device other than the current one (call cuda::set_device(N) before
// working on cuda:N), integer matmul.
#pragma once

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"

namespace loom::cuda {

class CudaBackend final : public Backend, public FusedKernels {
 public:
  const char* name() const override { return "cuda"; }
  // Memory comes from the device's caching allocator (cuda/runtime/allocator.cuh), on the current
  // stream. Throws "no CUDA device (...)" when the device does not exist.
  void* allocate(std::size_t bytes, Device device) override;
  void deallocate(void* ptr, std::size_t bytes, Device device) override;
  // Asynchronous on the current stream, except copy_device_to_host, which returns only when
  // the bytes are on the host.
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
  FusedKernels* fused() override { return this; }
  // lstm.cu: the recurrence, a cuBLAS GEMM and a pointwise kernel per step, or (persistent, when
  // it fits: lstm_persistent.cu) the whole recurrence in one kernel, W_hh in shared memory.
  void lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& b) override;
  void lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) override;
  bool lstm_persistent_fits(const LstmRecurrence& r) override;
  // rnn.cu: the tanh RNN's recurrence from the backend's own ops, a cuBLAS GEMM per step.
  void rnn_recurrence_forward(const RnnRecurrence& r, const RnnForwardBuffers& b) override;
  void rnn_recurrence_backward(const RnnRecurrence& r, const RnnBackwardBuffers& b) override;
  // loss_scale.cu: one launch over up to 64 gradient buffers (a by-value table), and the scaler's
  // state machine as a one-thread kernel; neither reads anything back to the host.
  void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num, DType dtype,
                             const float* inv_scale, float* found_inf) override;
  void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                        const AmpScaleUpdate& args) override;
  // matmul.cu: cublasGemmStridedBatchedEx, float16 A and B, float32 C, CUBLAS_COMPUTE_32F.
  void matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                    const MatmulArgs& args) override;
  // conv1d.cu: one thread per output element (im2col, col2im gathering its K sources, direct).
  void conv1d_im2col(const void* x, void* cols, DType dtype, const Conv1dShape& s) override;
  void conv1d_col2im(const void* cols, void* dx, DType dtype, const Conv1dShape& s) override;
  void conv1d_direct(const void* x, const void* w, const void* bias, void* y, DType dtype,
                     const Conv1dShape& s, int64_t out_channels) override;
  // adam.cu: Adam/AdamW for up to 48 parameters per launch (a by-value table), step counters
  // advanced on the device, skipped when *found_inf is set; float32, float64.
  void adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& hyper,
                 const float* found_inf) override;
};

// The one CudaBackend of the process (what register_backend.cpp installs). CUDA builds only.
CudaBackend& cuda_backend();

// index_add's algorithm, process-wide. true (the default): deterministic — indices are sorted
// (CUB radix sort, stable) and each destination row sums its sources in index order, so the
// result is bitwise reproducible and equal to the CPU backend's. false: one atomicAdd per
// element — faster for large K, but the summation order (and so the rounding) varies run to
// run. Available in every build (the stub build just stores the flag).
void set_deterministic(bool on);
bool deterministic();

}  // namespace loom::cuda
