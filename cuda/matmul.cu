// cuda/matmul.cu: batched GEMM on cuBLAS. CPU twin: tensor/cpu/matmul.cpp.
//
// loom's matrices are row-major; cuBLAS's are column-major. A row-major [r, c] matrix with
// leading dimension ld is, byte for byte, the column-major [c, r] matrix (its transpose) with
// the same ld. So instead of C = op(A) op(B) we ask cuBLAS for the transpose,
//
//     C^T = op(B)^T op(A)^T        (an [n, m] column-major matrix == C [m, n] row-major),
//
// passing B as cuBLAS's first operand and A as its second, with m and n swapped. No data moves
// and no transpose kernel runs: a loom operand stored untransposed is exactly cuBLAS's
// "op = N" operand of the transposed problem, and a loom operand with trans_a/trans_b set is
// "op = T". The leading dimensions and batch strides pass through unchanged.
//
// float32 uses cublasSgemmStridedBatched and float64 cublasDgemmStridedBatched, in true fp32/64
// (the handle's math mode forbids TF32, see blas.cuh). float16 uses cublasGemmStridedBatchedEx
// with half inputs and output and CUBLAS_COMPUTE_32F: products and sums in float, alpha/beta
// applied in float, one rounding to half at the end, as the CPU does (it widens to float,
// multiplies, rounds C). Integer and bool matmul throw: cuBLAS has no integer GEMM for these
// types, and loom's models do not need one.
//
// k == 0 is not a GEMM: C = beta * C (or 0 when beta == 0) by a small kernel, like the CPU.
//
// matmul_mixed (mixed precision, lab 08; CPU twin tensor/cpu/cpu_amp.cpp): float16 A and B, a
// float32 C, the same mapping and cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F.
//
// Left out: cublasLt epilogues (bias, activation fused into the GEMM), TF32 and fp16 tensor-core
// modes for fp32 inputs.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <limits>

#include "cuda/blas.cuh"
#include "cuda/check.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/device.h"
#include "cuda/kernel_util.cuh"
#include "cuda/launch.cuh"

namespace loom::cuda {
namespace {

// ---- kernels -----------------------------------------------------------------------------

// k == 0: C[b, r, col] = beta == 0 ? 0 : beta * C[b, r, col] for the m x n block of each batch
// (rows of C may be padded: ldc >= n; the padding is not touched).
template <typename T>
__global__ void scale_c_kernel(T* __restrict__ c, int64_t batch, int64_t m, int64_t n, int64_t ldc,
                               int64_t stride_c, ComputeT<T> beta) {
  for (int64_t t : grid_stride(batch * m * n)) {
    const int64_t col = t % n, r = (t / n) % m, b = t / (m * n);
    T* p = c + b * stride_c + r * ldc + col;
    *p = beta == ComputeT<T>(0) ? to_out<T>(0) : to_out<T>(beta * to_compute(*p));
  }
}

// ---- host launcher -----------------------------------------------------------------------

int to_int(int64_t v, const char* what) {
  LOOM_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "matmul: ", what, " = ", v,
             " does not fit cuBLAS's 32-bit int");
  return static_cast<int>(v);
}

// cuBLAS needs ld >= the operand's column-major row count, even when there is only one column
// and ld is never used to step; loom may pass a smaller ld for such single-column operands
// (a [1, k] row has nothing to step over), so raise it there and check everywhere else.
int64_t fit_ld(int64_t ld, int64_t rows, int64_t cols, const char* name) {
  if (cols <= 1 && ld < rows) ld = rows;
  if (ld < 1) ld = 1;
  LOOM_CHECK(ld >= rows, "matmul: leading dimension ", name, " = ", ld, " < ", rows);
  return ld;
}

// The cuBLAS (column-major) problem for loom's row-major MatmulArgs: the transposed problem
// C^T [n, m] = op(B)^T [n, k] * op(A)^T [k, m]. cuBLAS operand 1 is B: stored column-major as
// [n, k] (op N) when loom's B is [k, n] row-major, or as [k, n] (op T) when loom stores B
// transposed ([n, k] row-major). Shared by matmul and matmul_mixed.
struct ColMajorGemm {
  cublasOperation_t op1, op2;
  int M, N, K, batch;
  int ld1, ld2, ldc;     // leading dimensions of operand 1 (B), operand 2 (A), C
  long long s1, s2, sc;  // batch strides of B, A, C
};

ColMajorGemm col_major_gemm(const MatmulArgs& p) {
  ColMajorGemm g;
  g.op1 = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  g.op2 = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  g.M = to_int(p.n, "n");
  g.N = to_int(p.m, "m");
  g.K = to_int(p.k, "k");
  g.batch = to_int(p.batch, "batch");
  // Column-major row counts of each stored operand, which its ld must cover.
  g.ld1 = to_int(fit_ld(p.ldb, p.trans_b ? p.k : p.n, p.trans_b ? p.n : p.k, "ldb"), "ldb");
  g.ld2 = to_int(fit_ld(p.lda, p.trans_a ? p.m : p.k, p.trans_a ? p.k : p.m, "lda"), "lda");
  g.ldc = to_int(fit_ld(p.ldc, p.n, p.m, "ldc"), "ldc");
  g.s1 = p.stride_b;
  g.s2 = p.stride_a;
  g.sc = p.stride_c;
  return g;
}

// k == 0 is not a GEMM: C = beta * C (or 0), by scale_c_kernel.
template <typename T>
void launch_scale_c(void* c, const MatmulArgs& p, cudaStream_t stream, const char* op) {
  const LaunchConfig cfg = launch_for(p.batch * p.m * p.n, kDefaultBlockSize, op);
  scale_c_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
      static_cast<T*>(c), p.batch, p.m, p.n, p.ldc, p.stride_c, static_cast<ComputeT<T>>(p.beta));
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::matmul(const void* a, const void* b, void* c, DType dtype, const MatmulArgs& p) {
  LOOM_CHECK(p.batch >= 0 && p.m >= 0 && p.n >= 0 && p.k >= 0, "matmul: bad sizes batch ", p.batch,
             " m ", p.m, " n ", p.n, " k ", p.k);
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16,
             "matmul on cuda: not supported for dtype ", dtype_name(dtype),
             " (cuBLAS has no integer GEMM here; cast to float32, or run it on the CPU)");
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  const cudaStream_t stream = op_stream();

  if (p.k == 0) {
    dispatch_dtype(dtype, "matmul", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsFloat<T>) launch_scale_c<T>(c, p, stream, "matmul");
    });
    return;
  }

  // The transposed problem C^T [n, m] = op(B)^T [n, k] * op(A)^T [k, m], column-major.
  const ColMajorGemm g = col_major_gemm(p);
  const cublasOperation_t op1 = g.op1, op2 = g.op2;
  const int M = g.M, N = g.N, K = g.K, batch = g.batch;
  const int ld1 = g.ld1, ld2 = g.ld2, ldc = g.ldc;
  const long long s1 = g.s1, s2 = g.s2, sc = g.sc;

  cublasHandle_t handle = blas_handle(current_device());  // bound to current_stream()
  if (dtype == DType::Float32) {
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    LOOM_CUBLAS_CHECK(cublasSgemmStridedBatched(
        handle, op1, op2, M, N, K, &alpha, static_cast<const float*>(b), ld1, s1,
        static_cast<const float*>(a), ld2, s2, &beta, static_cast<float*>(c), ldc, sc, batch));
  } else if (dtype == DType::Float64) {
    const double alpha = p.alpha, beta = p.beta;
    LOOM_CUBLAS_CHECK(cublasDgemmStridedBatched(
        handle, op1, op2, M, N, K, &alpha, static_cast<const double*>(b), ld1, s1,
        static_cast<const double*>(a), ld2, s2, &beta, static_cast<double*>(c), ldc, sc, batch));
  } else {
    // float16 storage, float compute: alpha and beta are floats (CUBLAS_COMPUTE_32F).
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle, op1, op2, M, N, K, &alpha, b, CUDA_R_16F, ld1, s1, a, CUDA_R_16F, ld2, s2, &beta, c,
        CUDA_R_16F, ldc, sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

// float16 A and B, float32 C (tensor/backend.h's matmul_mixed): the same mapping, with
// CUDA_R_16F inputs, a CUDA_R_32F output and CUBLAS_COMPUTE_32F — products of halves accumulated
// in float and stored as float, never rounded to half; cuBLAS may use tensor cores for it.
void CudaBackend::matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                               const MatmulArgs& p) {
  LOOM_CHECK(ab_dtype == DType::Float16 && c_dtype == DType::Float32,
             "matmul_mixed on cuda: supports float16 x float16 -> float32, got ",
             dtype_name(ab_dtype), " x ", dtype_name(ab_dtype), " -> ", dtype_name(c_dtype),
             " (use matmul for one dtype)");
  LOOM_CHECK(p.batch >= 0 && p.m >= 0 && p.n >= 0 && p.k >= 0, "matmul_mixed: bad sizes batch ",
             p.batch, " m ", p.m, " n ", p.n, " k ", p.k);
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    launch_scale_c<float>(c, p, op_stream(), "matmul_mixed");
    return;
  }
  const ColMajorGemm g = col_major_gemm(p);  // checks the sizes and lds before any CUDA call
  const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
  LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      blas_handle(current_device()), g.op1, g.op2, g.M, g.N, g.K, &alpha, b, CUDA_R_16F, g.ld1,
      g.s1, a, CUDA_R_16F, g.ld2, g.s2, &beta, c, CUDA_R_32F, g.ldc, g.sc, g.batch,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace loom::cuda
