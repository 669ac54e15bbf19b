// tensor/ops.h: forward-only math on Tensors (no autograd; autograd/functions.h wraps these).
//
// Every op checks its inputs (defined, same device, same dtype, compatible shapes) and throws
// loom::Error naming the op and the shapes, then dispatches through backend_for(device).
// Binary ops broadcast NumPy-style; both operands must have the same dtype (loom does not
// promote types: cast explicitly with .to(dtype)). Results are new, contiguous tensors, except
// split/chunk, which return views.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace loom {

// ---- elementwise binary, broadcasting: out shape = broadcast(a.shape, b.shape) ----------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
// Comparisons return Bool tensors.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);

// ---- with a scalar (result keeps a's dtype) ---------------------------------------------
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor rdiv(double s, const Tensor& a);  // s / a
Tensor pow(const Tensor& a, double exponent);
Tensor clamp(const Tensor& a, double lo, double hi);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

// ---- elementwise unary (floating dtypes; neg/abs also integers) -------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// x > 0 ? x : alpha * (e^x - 1), alpha > 0 (PyTorch's default alpha is 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);

// ---- selection ---------------------------------------------------------------------------
// cond (Bool), a, b broadcast together; out[i] = cond[i] ? a[i] : b[i].
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` wherever mask (Bool, broadcastable to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor cast(const Tensor& x, DType dtype);  // == x.to(dtype)

// ---- reductions (dim may be negative) ----------------------------------------------------
Tensor sum(const Tensor& x);  // 0-d
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // 0-d
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);  // 0-d Int64 index into the flattened tensor
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // Int64
// Sums x down to `shape` (the inverse of broadcasting `shape` up to x.shape()): leading
// dims are summed away, dims where shape has 1 are summed with keepdim. Used by backward.
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

// ---- matmul: a [..., m, k] @ b [..., k, n] -> [..., m, n] -------------------------------
// Both operands need >= 2 dims; batch dims broadcast. Transposed views (a.t(),
// x.transpose(-1, -2)) are read in place through the backend's transpose flags.
Tensor matmul(const Tensor& a, const Tensor& b);
// The same product of float16 (or, on the CPU, bfloat16) operands with a float32 result,
// accumulated in float32 and never rounded to 16 bits (cuBLAS GemmEx with fp32 compute; the CPU
// widens float16 operands and runs bfloat16 on its packed GEMM). Needs the backend's fused
// kernels (tensor/fused_kernels.h).
Tensor matmul_mixed(const Tensor& a, const Tensor& b);
// The name of the micro-kernel a bfloat16 GEMM runs on this CPU now, e.g. "avx512_bf16 bf16
// 10x32" (VDPBF16PS) or "reference bf16 4x16" (the portable scalar kernel): reports say with it
// what a bf16 timing measured. Follows LOOM_CPU_KERNELS (tensor/cpu/cpu_features.h).
const char* cpu_bf16_gemm_kernel();

// ---- joining and splitting ---------------------------------------------------------------
// Same dtype/device; shapes equal except along dim.
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Joins along a new dim at `dim` (all shapes equal): n tensors [S...] -> [.., n, ..].
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Views of `split_size` along dim (the last may be shorter).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// `chunks` views of ceil(size / chunks) along dim (fewer if the dim is small).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ---- indexing (index: 1-D Int64 or Int32, values in [0, x.size(dim))) --------------------
// out = x with dim replaced by index.numel(): out[..., k, ...] = x[..., index[k], ...].
// Embedding lookup: index_select(table [V, E], 0, ids [N]) -> [N, E].
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// Returns a copy of x with src slices added at the index rows (repeats accumulate):
// out[..., index[k], ...] += src[..., k, ...]. src has x's shape with dim = index.numel().
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// In place on x (which must be contiguous).
void index_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace loom
