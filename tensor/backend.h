// tensor/backend.h: the one narrow interface every device backend implements (its core table).
//
// The Tensor frontend (tensor.cpp, ops_*.cpp) handles shapes, views, broadcasting, dtype checks
// and error messages; a Backend only runs kernels on raw buffers. Every pointer is the start of a
// compact (dense, row-major) buffer of `n` elements, except in `compact` and `strided_write`,
// which take a StridedLayout: how views become dense and dense results are written into views.
// All operands of one call are on the same device and, unless stated, share one dtype. A backend
// checks only what it alone can (index bounds, unsupported dtypes) and throws loom::Error. The
// contract, op by op, is in tensor/README.md. Fused kernels (the LSTM recurrence, Adam, the loss
// scaler, mixed-precision GEMM) are an optional extension: tensor/fused_kernels.h.
//
// Dispatch happens in exactly one place, backend_for(device), and only tensor/ calls it. The
// CPU backend registers itself; the CUDA library calls register_backend() at start-up, so tensor/
// never depends on cuda/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/strided_layout.h"

namespace loom {

class FusedKernels;  // tensor/fused_kernels.h

// kCount is last in each enum: the size of the op's name table (static_assert beside it).
enum class UnaryOp { Neg, Exp, Log, Tanh, Sigmoid, Relu, Sqrt, Abs, Sign, kCount };
// y = f(x, s): Add x+s, Mul x*s, Div x/s, RSub s-x, RDiv s/x, Pow x^s, LeakyRelu (x>0?x:s*x),
// Max max(x,s), Min min(x,s), Elu (x>0?x:s*(e^x-1), floats only).
enum class ScalarOp { Add, Mul, Div, RSub, RDiv, Pow, LeakyRelu, Max, Min, Elu, kCount };
// Arithmetic ops produce the input dtype; comparisons (Eq..Ge) produce Bool.
enum class BinaryOp { Add, Sub, Mul, Div, Max, Min, Pow, Eq, Ne, Lt, Le, Gt, Ge, kCount };
// Sum and Max produce the input dtype; ArgMax produces Int64 (first maximum wins).
enum class ReduceOp { Sum, Max, Min, ArgMax, kCount };

bool is_comparison(BinaryOp op);
// Names for messages ("exp", "maximum", "argmax", ...).
const char* unary_op_name(UnaryOp op);
const char* scalar_op_name(ScalarOp op);
const char* binary_op_name(BinaryOp op);
const char* reduce_op_name(ReduceOp op);

// A binary op where one operand repeats along a middle axis: `out` and the full operand are
// dense [outer, mid, inner], the repeated one dense [outer, 1, inner] (a bias row over a batch:
// outer 1; a dropout mask [B, 1, E] over the steps of [B, T, E]). repeated_is_a: a is the
// repeated operand, else b.
struct RepeatedOperand {
  int64_t outer = 1, mid = 1, inner = 1;
  bool repeated_is_a = false;
};

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
  // out = a op b with one operand repeated (RepeatedOperand), reading it where it is instead of
  // a materialized copy. Returns false when this backend has no such loop (the default): the
  // frontend then expands the repeated operand into a dense copy and calls binary. Called for
  // the ops whose every element is exactly rounded (Add Sub Mul Div and the comparisons), so the
  // result is the same bits either way.
  virtual bool binary_repeated(BinaryOp, const void*, const void*, void*, DType,
                               const RepeatedOperand&) {
    return false;
  }
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

  // ---- the optional extension ------------------------------------------------------------
  // This backend's fused kernels (tensor/fused_kernels.h), or nullptr when it has none; the
  // Tensor ops that need them (tensor/lstm.h, tensor/adam.h, tensor/loss_scale.h,
  // matmul_mixed in tensor/ops.h) then throw, naming the op and the backend.
  virtual FusedKernels* fused() { return nullptr; }
};

// The only dispatch point: the backend that runs work for `device`. Throws loom::Error
// "this build has no CUDA backend" when no backend is registered for the device type.
Backend& backend_for(Device device);
// backend_for(device)'s fused kernels; throws "<op>: backend <name> has no fused kernels".
FusedKernels& fused_kernels_for(Device device, const char* op);
// Installs `backend` (not owned; must outlive all tensors) for a device type.
void register_backend(DeviceType type, Backend* backend);
// Whether a backend is registered for the type (does not check that a device exists).
bool has_backend(DeviceType type);

}  // namespace loom
