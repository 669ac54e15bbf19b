// tensor/backend.h: the one narrow interface every device backend implements.
//
// The Tensor frontend (tensor.cpp, ops_*.cpp) handles shapes, views, broadcasting, dtype
// checks and error messages. A Backend only runs kernels on raw buffers: every pointer is the
// start of a compact (dense, row-major) buffer of `n` elements, except `compact` and
// `strided_write`, which take a StridedLayout and are how views become dense and dense
// results are written into views. All operands of one call are on the same device and, unless
// stated, share one dtype. The frontend checks shapes, dtypes and devices before calling;
// a backend checks only what it alone can (index bounds, unsupported dtypes) and throws
// loom::Error. The full contract, op by op, is in tensor/README.md.
//
// Dispatch happens in exactly one place: backend_for(device). The CPU backend registers
// itself; the CUDA library calls register_backend(DeviceType::CUDA, ...) at start-up, so
// tensor/ never depends on cuda/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace loom {

constexpr int kMaxDims = 8;  // the most dims a strided copy handles (views have at most this)

// A view into a buffer, in elements: element (i0..in-1) lives at offset + sum(ik * strides[k]).
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t offset = 0;
};

enum class UnaryOp { Neg, Exp, Log, Tanh, Sigmoid, Relu, Sqrt, Abs, Sign };
// y = f(x, s): Add x+s, Mul x*s, Div x/s, RSub s-x, RDiv s/x, Pow x^s, LeakyRelu (x>0?x:s*x),
// Max max(x,s), Min min(x,s).
enum class ScalarOp { Add, Mul, Div, RSub, RDiv, Pow, LeakyRelu, Max, Min };
// Arithmetic ops produce the input dtype; comparisons (Eq..Ge) produce Bool.
enum class BinaryOp { Add, Sub, Mul, Div, Max, Min, Pow, Eq, Ne, Lt, Le, Gt, Ge };
// Sum and Max produce the input dtype; ArgMax produces Int64 (first maximum wins).
enum class ReduceOp { Sum, Max, Min, ArgMax };

bool is_comparison(BinaryOp op);
const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b in [0, batch), where op(X) is X or
// X^T. A[b] starts at a + b*stride_a and is stored row-major with leading dimension lda:
// untransposed it is [m, k] (lda >= k), transposed it is stored as [k, m] (lda >= m).
// Likewise B is [k, n] or stored [n, k]; C is [m, n] with ldc >= n. stride_a == 0 broadcasts
// one A over the batch. beta == 0 means C is not read (it may hold garbage).
struct MatmulArgs {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory -----------------------------------------------------------------------
  // `bytes` may be 0 (return nullptr or any pointer deallocate accepts). deallocate gets
  // the same byte count back, so a backend can keep freed blocks in a cache by size.
  virtual void* allocate(std::size_t bytes, Device device) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes, Device device) = 0;
  virtual void copy_host_to_device(void* dst, const void* src, std::size_t bytes, Device dev) = 0;
  virtual void copy_device_to_host(void* dst, const void* src, std::size_t bytes, Device dev) = 0;
  virtual void copy_device_to_device(void* dst, const void* src, std::size_t bytes, Device dev) = 0;

  // ---- layout -----------------------------------------------------------------------
  // dst[0..n) = value converted to dtype (n elements).
  virtual void fill(void* dst, DType dtype, int64_t n, double value) = 0;
  // Gathers the view `src_layout` of buffer `src` into the compact buffer `dst`.
  virtual void compact(const void* src, const StridedLayout& src_layout, void* dst,
                       DType dtype) = 0;
  // Scatters the compact buffer `src` into the view `dst_layout` of buffer `dst`.
  virtual void strided_write(const void* src, void* dst, const StridedLayout& dst_layout,
                             DType dtype) = 0;
  // dst[i] = (dst_dtype) src[i]; float16 rounds to nearest even; bool is x != 0.
  virtual void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) = 0;

  // ---- elementwise (floating dtypes; Neg/Abs/Sign also integers) ----------------------
  virtual void unary(UnaryOp op, const void* x, void* y, DType dtype, int64_t n) = 0;
  virtual void unary_scalar(ScalarOp op, const void* x, double scalar, void* y, DType dtype,
                            int64_t n) = 0;
  // out[i] = a[i] op b[i]; a, b have `dtype`; out has `dtype` or Bool for comparisons.
  virtual void binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
                      int64_t n) = 0;
  // out[i] = cond[i] ? a[i] : b[i]; cond is Bool.
  virtual void where(const void* cond, const void* a, const void* b, void* out, DType dtype,
                     int64_t n) = 0;

  // ---- reductions ---------------------------------------------------------------------
  // x is [outer, n, inner]; out is [outer, inner]: reduces the middle axis (n >= 1).
  virtual void reduce(ReduceOp op, const void* x, void* out, DType dtype, int64_t outer, int64_t n,
                      int64_t inner) = 0;

  // ---- linear algebra -----------------------------------------------------------------
  virtual void matmul(const void* a, const void* b, void* c, DType dtype,
                      const MatmulArgs& args) = 0;

  // ---- indexing (index is Int64, K entries, each in [0, rows)) -------------------------
  // src [outer, rows, inner] -> out [outer, K, inner]: out[o, k, i] = src[o, index[k], i].
  virtual void index_select(const void* src, const int64_t* index, void* out, DType dtype,
                            int64_t outer, int64_t rows, int64_t inner, int64_t K) = 0;
  // dst [outer, rows, inner] += scattered src [outer, K, inner]: dst[o, index[k], i] +=
  // src[o, k, i]. Repeated indices accumulate.
  virtual void index_add(void* dst, const int64_t* index, const void* src, DType dtype,
                         int64_t outer, int64_t rows, int64_t inner, int64_t K) = 0;

  // ---- random (floating dtypes; see tensor/philox.h for the counter convention) --------
  virtual void random_uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                              double low, double high) = 0;
  virtual void random_normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset,
                             double mean, double stddev) = 0;

  // ---- fused LSTM cell, one timestep of B rows x H units (tensor/kernels/lstm_pointwise.h) --
  // The fused LSTM (nn/lstm_fused.cpp) does its GEMMs with matmul() and everything between
  // them with these two calls. Gate order i, f, g, o: gate k of unit j is column k*H + j of a
  // [B, 4H] row. All buffers dense row-major; floating dtypes. Not pure virtual, so a backend
  // without them still builds: the default throws "not implemented by backend <name>".
  //
  // forward:  gates [B, 4H]  in: pre-activations (both biases included), out: activations
  //           c_prev [B, H] in;  c, tanh_c, h [B, H] out  (c may not alias c_prev)
  virtual void lstm_pointwise_forward(void* gates, const void* c_prev, void* c, void* tanh_c,
                                      void* h, DType dtype, int64_t B, int64_t H);
  // backward: dh [B, H] in: dL/dh_t through every path
  //           dc [B, H] in: dL/dc_t arriving from step t+1, out: dL/dc_{t-1} (in place)
  //           act [B, 4H] in: the saved activations
  //           d_pre [B, 4H] out: dL/d(pre-activations); may alias act
  //           c_prev, tanh_c [B, H] in: saved by forward (c_{t-1} and tanh(c_t))
  virtual void lstm_pointwise_backward(const void* dh, void* dc, const void* act, void* d_pre,
                                       const void* c_prev, const void* tanh_c, DType dtype,
                                       int64_t B, int64_t H);

  // ---- persistent LSTM: one layer's whole recurrence in one call (nn/lstm_persistent.cpp) -----
  // One (layer, direction): T steps of B rows x H units; the input projection is done before
  // (one GEMM) and the weight gradients after (GEMMs over all steps); these two calls are the
  // sequential part in between. All buffers dense row-major and time-major, indexed by t in
  // input order also when `reverse` (then the steps run t = T-1 .. 0). Gate layout and math as
  // lstm_pointwise_* (tensor/kernels/lstm_pointwise.h). float32 and float64. CPU twin:
  // tensor/cpu/cpu_lstm_persistent.cpp; CUDA: cuda/lstm_persistent.cu (W_hh kept in one block's
  // shared memory, hence lstm_persistent_fits). Not pure virtual: the defaults throw "not
  // implemented by backend <name>" (lstm_persistent_fits returns false).
  //
  // Whether the two calls can run hidden size H in `dtype` on the current device.
  virtual bool lstm_persistent_fits(DType dtype, int64_t H);
  // forward:  xproj [T, B, 4H] in: x_t W_ih^T + b_ih + b_hh for every t
  //           w_hh [4H, H] in;  h0, c0 [B, H] in: the state before the first step
  //           act [T, B, 4H] out: activated gates of every step; may alias xproj
  //           c, tanh_c, h [T, B, H] out: c_t, tanh(c_t), h_t of every step
  //           h_n, c_n [B, H] out, each may be null: h and c after the last step
  virtual void lstm_persistent_forward(const void* xproj, const void* w_hh, const void* h0,
                                       const void* c0, void* act, void* c, void* tanh_c, void* h,
                                       void* h_n, void* c_n, bool reverse, DType dtype, int64_t T,
                                       int64_t B, int64_t H);
  // backward: dh [T, B, H] in: dL/dh_t from outside the recurrence (the output's gradient)
  //           dh_n, dc_n [B, H] in, each may be null (= zero): gradients of h_n and c_n
  //           w_hh, act, c, tanh_c: as in forward (saved);  c0 [B, H]: the first step's c_prev
  //           dgates [T, B, 4H] out: dL/d(pre-activations) of every step; may alias act
  //           dh0, dc0 [B, H] out, each may be null: gradients of h0 and c0
  virtual void lstm_persistent_backward(const void* dh, const void* dh_n, const void* dc_n,
                                        const void* w_hh, const void* act, const void* c,
                                        const void* c0, const void* tanh_c, void* dgates, void* dh0,
                                        void* dc0, bool reverse, DType dtype, int64_t T, int64_t B,
                                        int64_t H);

  // ---- mixed precision: the dynamic loss scaler's two kernels (nn/amp/grad_scaler.cpp) ------
  // The scaler's state (scale, counters, found_inf) lives in one-element buffers on the device,
  // so that neither call needs the host to read a device value (no synchronisation on a GPU).
  // Not pure virtual: the default throws "not implemented by backend <name>"; the CPU versions
  // are in tensor/cpu/cpu_amp.cpp.
  //
  // Unscale + check, ONE pass over `num` gradient buffers: buffer i (grads[i], a device pointer)
  // holds counts[i] dense elements of `dtype` (floating). Every element is multiplied in place
  // by *inv_scale; if any element is inf or NaN, *found_inf is set to 1.0f, otherwise it is not
  // written (so several calls OR into one flag). `grads` and `counts` are HOST arrays of `num`
  // entries; inv_scale and found_inf are device pointers to one float32 each.
  virtual void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num,
                                     DType dtype, const float* inv_scale, float* found_inf);
  // Update after a step. scale: one float32; counters: int64 [kAmpNumCounters] (below);
  // found_inf: one float32 (nonzero = this step overflowed). All device pointers.
  //   overflow: scale *= backoff_factor, growth_tracker = 0, consecutive_skips++, skipped_steps++,
  //             collapsed = 1 if scale < min_scale, else 2 if consecutive_skips >=
  //             max_consecutive_skips (> 0)
  //   else:     consecutive_skips = 0, growth_tracker++, and when it reaches growth_interval:
  //             scale *= growth_factor (unless that overflows float32), growth_tracker = 0.
  // `collapsed` is sticky: once nonzero only the host (loading a state) resets it.
  enum AmpCounter {
    kAmpGrowthTracker,
    kAmpConsecutiveSkips,
    kAmpSkippedSteps,
    kAmpCollapsed,
    kAmpNumCounters
  };
  struct AmpScaleUpdate {
    double growth_factor = 2.0, backoff_factor = 0.5;
    int64_t growth_interval = 2000;
    double min_scale = 1.0;
    int64_t max_consecutive_skips = 20;  // <= 0: no limit
  };
  virtual void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                                const AmpScaleUpdate& args);

  // ---- mixed precision: a GEMM with float16 inputs and a float32 output ----------------------
  // C = alpha * op(A) @ op(B) + beta * C exactly as matmul() (same MatmulArgs), but A and B are
  // `ab_dtype` (Float16) and C is `c_dtype` (Float32): products of float16 values accumulated
  // in float32 and stored as float32, with no rounding of C to float16 (cuBLAS: cublasGemmEx
  // with CUDA_R_16F inputs, CUDA_R_32F output, CUBLAS_COMPUTE_32F; tensor cores). For code that
  // keeps a float32 accumulator across GEMMs, e.g. the fused LSTM's gates += h W_hh^T (beta = 1)
  // under autocast. Default: throws "not implemented by backend <name>".
  virtual void matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                            const MatmulArgs& args);

  // ---- optimizer: Adam / AdamW over many parameters in one call (nn/optim/adam.cpp) ----------
  // One update of `num` parameters (the formulas are torch.optim's, in nn/optim/adam.h).
  // `params` is a HOST array; each entry holds DEVICE pointers: param, grad, exp_avg and
  // exp_avg_sq are dense buffers of `numel` elements of `dtype` (Float32 or Float64; no two of
  // them overlap), and `step` points to that parameter's step counter (one int64). The count is
  // kept on the device so that no host value of t is baked into a captured CUDA Graph: the call
  // reads t = *step + 1, computes the bias corrections from it (in double) and stores t back.
  // found_inf: null, or a device pointer to one float32; when *found_inf is nonzero (read on
  // the device) the call writes nothing at all, step counters included: a step the loss scaler
  // skips does not count, as in PyTorch. The hyper-parameters are host values.
  // Not pure virtual: the default throws "not implemented by backend <name>". CPU:
  // tensor/cpu/cpu_adam.cpp (one loop per parameter); CUDA: cuda/adam.cu (one multi-tensor
  // launch for all parameters, plus one tiny launch that advances the step counters).
  struct AdamParam {
    void* param;
    const void* grad;
    void* exp_avg;
    void* exp_avg_sq;
    int64_t* step;
    int64_t numel;
  };
  struct AdamHyper {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool decoupled = false;  // AdamW: p *= 1 - lr * weight_decay first; Adam: g += wd * p
  };
  virtual void adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& hyper,
                         const float* found_inf);
  // The argument checks every adam_step runs first, on the host (whatever found_inf says):
  // float32/float64, num >= 0, a table, and per parameter numel >= 0, a step counter and
  // non-null buffers. Throws loom::Error naming the parameter's index.
  static void check_adam_step_args(const AdamParam* params, int num, DType dtype);
};

// The only dispatch point: the backend that runs work for `device`. Throws loom::Error
// "this build has no CUDA backend" when no backend is registered for the device type.
Backend& backend_for(Device device);
// Installs `backend` (not owned; must outlive all tensors) for a device type.
void register_backend(DeviceType type, Backend* backend);
// Whether a backend is registered for the type (does not check that a device exists).
bool has_backend(DeviceType type);

}  // namespace loom
