// cuda/kernels/matmul.cu: batched GEMM on cuBLAS, and matmul_mixed. CPU twin:
// tensor/cpu/matmul.cpp.
//
// loom is row-major, cuBLAS column-major: each call asks cuBLAS for the transposed problem
// C^T = op(B)^T op(A)^T, so no data moves (gemm_mapping.h, tested on the CPU). float32 and float64
// use cublas{S,D}gemmStridedBatched in true fp32/64 (no TF32: runtime/blas.cuh); float16 and
// bfloat16 use cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F, one rounding at the end, as the
// CPU. matmul_mixed (lab 07): 16-bit A and B, a float32 C, the same GemmEx. k == 0 is not a
// GEMM: C = beta * C by a small kernel (matmul_kernels.cuh). Integer matmul throws.
//
// Leaves out: cublasLt epilogues (bias, activation fused into the GEMM), TF32 and fp16
// tensor-core modes for fp32 inputs.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/gemm_mapping.h"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/matmul_kernels.cuh"
#include "cuda/runtime/blas.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"

namespace loom::cuda {
namespace {

using namespace matmul_kernels;  // the kernels of matmul_kernels.cuh

// ---- host launcher -----------------------------------------------------------------------

// cuBLAS's operation flag for gemm_mapping.h's GemmOp.
cublasOperation_t cublas_op(GemmOp op) {
  return op == GemmOp::T ? CUBLAS_OP_T : CUBLAS_OP_N;
}

// cuBLAS's name of a 16-bit storage type: CUDA_R_16F (float16) or CUDA_R_16BF (bfloat16).
cudaDataType_t cuda_16bit_type(DType dtype) {
  return dtype == DType::BFloat16 ? CUDA_R_16BF : CUDA_R_16F;
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
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16 ||
                 dtype == DType::BFloat16,
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
  const cublasOperation_t op1 = cublas_op(g.op1), op2 = cublas_op(g.op2);
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
    // 16-bit storage, float compute: alpha and beta are floats (CUBLAS_COMPUTE_32F).
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    const cudaDataType_t t = cuda_16bit_type(dtype);
    LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op1, op2, M, N, K, &alpha, b, t, ld1, s1,
                                                 a, t, ld2, s2, &beta, c, t, ldc, sc, batch,
                                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

// float16 or bfloat16 A and B, float32 C (tensor/backend.h's matmul_mixed): the same mapping,
// with CUDA_R_16F / CUDA_R_16BF inputs, a CUDA_R_32F output and CUBLAS_COMPUTE_32F — products of
// 16-bit values accumulated in float and stored as float, never rounded to 16 bits; cuBLAS may
// use tensor cores for it.
void CudaBackend::matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                               const MatmulArgs& p) {
  LOOM_CHECK(
      (ab_dtype == DType::Float16 || ab_dtype == DType::BFloat16) && c_dtype == DType::Float32,
      "matmul_mixed on cuda: supports float16 or bfloat16 operands -> float32, got ",
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
  const cudaDataType_t t = cuda_16bit_type(ab_dtype);
  LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      blas_handle(current_device()), cublas_op(g.op1), cublas_op(g.op2), g.M, g.N, g.K, &alpha, b,
      t, g.ld1, g.s1, a, t, g.ld2, g.s2, &beta, c, CUDA_R_32F, g.ldc, g.sc, g.batch,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace loom::cuda
