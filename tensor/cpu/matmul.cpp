// tensor/cpu/matmul.cpp: batched GEMM on Eigen, reading transposed operands in place; the
// mixed-precision GEMMs (float16 or bfloat16 x the same -> float32).
//
// Each operand is an Eigen::Map of a row-major matrix with an outer stride (the leading
// dimension), so a transposed view costs nothing: Eigen reads the Map with .transpose().
// float16 converts to float, multiplies in float and rounds the result (the CUDA backend does the
// same with float accumulation). bfloat16 runs on the packed GEMM (tensor/cpu/gemm/gemm.h:
// VDPBF16PS where the CPU has it), which reads the 16-bit operands as they are and sums in float;
// it is deterministic on any thread count too. float32 and float64 stay on Eigen. int8 and uint8
// have no matmul here: their products need wider sums (tensor/cpu/gemm/gemm.h's u8 x s8 -> s32).
//
// Threads: loom, not Eigen, splits a product (Eigen runs single-threaded). A large product
// splits its output rows, or a batch its matrices, into one slice per thread, each slice a
// single-threaded Eigen GEMM; inside a parallel region (the LSTM's per-thread loops) nothing is
// split. With the slice rules of tensor/cpu/threads.h every output element is computed the same
// way however many threads run, and there are no nested thread teams.
#include <algorithm>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"
#include "tensor/cpu/gemm/gemm.h"
#include "tensor/cpu/matmul_span.h"
#include "tensor/cpu/threads.h"

namespace loom::cpu {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMatMap = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MatMap = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;

template <typename T, typename A, typename B>
void gemm(const A& a, const B& b, MatMap<T>& c, T alpha, T beta) {
  if (beta == T(0)) {
    c.noalias() = alpha * (a * b);
  } else {
    c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

// C = alpha op(A) op(B) + beta C for rows [m0, m1) of one batch entry (single-threaded).
template <typename T>
void gemm_rows(const T* a, const T* b, T* c, const MatmulArgs& p, int64_t m0, int64_t m1) {
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  const int64_t m = m1 - m0;
  // Row m0 of op(A): row m0 of A, or column m0 of the stored (transposed) A [k, m].
  a += p.trans_a ? m0 : m0 * p.lda;
  c += m0 * p.ldc;
  ConstMatMap<T> A(a, p.trans_a ? p.k : m, p.trans_a ? m : p.k, Eigen::OuterStride<>(p.lda));
  ConstMatMap<T> B(b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n, Eigen::OuterStride<>(p.ldb));
  MatMap<T> C(c, m, p.n, Eigen::OuterStride<>(p.ldc));
  if (!p.trans_a && !p.trans_b) gemm<T>(A, B, C, alpha, beta);
  if (!p.trans_a && p.trans_b) gemm<T>(A, B.transpose(), C, alpha, beta);
  if (p.trans_a && !p.trans_b) gemm<T>(A.transpose(), B, C, alpha, beta);
  if (p.trans_a && p.trans_b) gemm<T>(A.transpose(), B.transpose(), C, alpha, beta);
}

template <typename T>
void matmul_impl(const T* a, const T* b, T* c, const MatmulArgs& p) {
  const int64_t work = p.batch * p.m * p.n * p.k;
  if (p.batch > 1) {  // threads over the batch, each matrix whole
    const int slices = row_slices(p.batch, work);
#pragma omp parallel for num_threads(slices) schedule(static)
    for (int64_t i = 0; i < p.batch; ++i)
      gemm_rows(a + i * p.stride_a, b + i * p.stride_b, c + i * p.stride_c, p, 0, p.m);
    return;
  }
  for_each_row_slice(p.m, work, [&](int64_t m0, int64_t rows) {  // threads over the rows of C
    gemm_rows(a, b, c, p, m0, m0 + rows);
  });
}

// The float32 copy of `n` float16 or bfloat16 (H) values (an operand of a 16-bit or mixed GEMM).
template <typename H>
std::vector<float> widen(const void* src, int64_t n) {
  std::vector<float> out(static_cast<std::size_t>(n));
  const auto* h = static_cast<const H*>(src);
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(h[i]);
  return out;
}

// Elements of A and B a GEMM reads (stored shapes: A [m, k] or [k, m], B [k, n] or [n, k]).
int64_t span_a(const MatmulArgs& p) {
  return matmul_operand_span(p.batch, p.stride_a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k,
                             p.lda);
}
int64_t span_b(const MatmulArgs& p) {
  return matmul_operand_span(p.batch, p.stride_b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n,
                             p.ldb);
}

// float32 C (+)= A B for float16 or bfloat16 (H) A and B: bfloat16 on the packed GEMM, float16
// widened to float for Eigen.
template <typename H>
void matmul_into_float(const void* a, const void* b, float* c, const MatmulArgs& p) {
  if constexpr (std::is_same_v<H, Eigen::bfloat16>) {  // Eigen::bfloat16 is its 16 bits
    gemm::gemm_bf16(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), c, p);
  } else {
    const std::vector<float> fa = widen<H>(a, span_a(p)), fb = widen<H>(b, span_b(p));
    matmul_impl(fa.data(), fb.data(), c, p);
  }
}

// float16 or bfloat16 (H): C (read when beta != 0) widened to float, the product, C rounded back.
template <typename H>
void matmul_narrow(const void* a, const void* b, void* c, const MatmulArgs& p) {
  std::vector<float> fc(matmul_operand_span(p.batch, p.stride_c, p.m, p.n, p.ldc));
  auto* hc = static_cast<H*>(c);
  if (p.beta != 0.0) {
    for (std::size_t i = 0; i < fc.size(); ++i)
      fc[i] = static_cast<float>(hc[i]);
  }
  matmul_into_float<H>(a, b, fc.data(), p);
  // Write back only the C elements (rows may have padding when ldc > n).
  for (int64_t bi = 0; bi < p.batch; ++bi)
    for (int64_t r = 0; r < p.m; ++r)
      for (int64_t col = 0; col < p.n; ++col) {
        const int64_t off = bi * p.stride_c + r * p.ldc + col;
        hc[off] = static_cast<H>(fc[off]);
      }
}

}  // namespace

void CpuBackend::matmul(const void* a, const void* b, void* c, DType dtype, const MatmulArgs& p) {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  switch (dtype) {
    case DType::Float64:
      return matmul_impl(static_cast<const double*>(a), static_cast<const double*>(b),
                         static_cast<double*>(c), p);
    case DType::Float32:
      return matmul_impl(static_cast<const float*>(a), static_cast<const float*>(b),
                         static_cast<float*>(c), p);
    case DType::Int32:
      return matmul_impl(static_cast<const int32_t*>(a), static_cast<const int32_t*>(b),
                         static_cast<int32_t*>(c), p);
    case DType::Int64:
      return matmul_impl(static_cast<const int64_t*>(a), static_cast<const int64_t*>(b),
                         static_cast<int64_t*>(c), p);
    case DType::Float16:
      return matmul_narrow<Eigen::half>(a, b, c, p);
    case DType::BFloat16:
      return matmul_narrow<Eigen::bfloat16>(a, b, c, p);
    case DType::Bool:
    case DType::Int8:
    case DType::UInt8:
      break;
  }
  LOOM_FAIL("matmul: not supported for dtype ", dtype_name(dtype));
}

// 16-bit A and B, float32 C, never rounded to 16 bits: the numbers of a GPU's fp16-input,
// fp32-accumulate GEMM, up to summation order. float16 is widened exactly to float32 for Eigen;
// bfloat16 goes to the packed GEMM as it is.
void CpuBackend::matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                              const MatmulArgs& p) {
  LOOM_CHECK(
      (ab_dtype == DType::Float16 || ab_dtype == DType::BFloat16) && c_dtype == DType::Float32,
      "matmul_mixed: supports float16 or bfloat16 operands into float32, got ",
      dtype_name(ab_dtype), " -> ", dtype_name(c_dtype));
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  if (ab_dtype == DType::BFloat16)
    matmul_into_float<Eigen::bfloat16>(a, b, static_cast<float*>(c), p);
  else
    matmul_into_float<Eigen::half>(a, b, static_cast<float*>(c), p);
}

}  // namespace loom::cpu
