// tensor/cpu/matmul.cpp: batched GEMM on Eigen, reading transposed operands in place.
//
// Each operand is an Eigen::Map of a row-major matrix with an outer stride (the leading
// dimension), so a transposed view costs nothing: Eigen reads the Map with .transpose().
// float16 converts to float, multiplies in float and rounds the result (the CUDA backend
// does the same with float accumulation). Eigen parallelises the product with OpenMP.
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/dtype_dispatch.h"
#include "tensor/cpu/matmul_span.h"

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

template <typename T>
void matmul_impl(const T* a, const T* b, T* c, const MatmulArgs& p) {
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  for (int64_t i = 0; i < p.batch; ++i) {
    // Stored shapes: A is [m, k] or (transposed) [k, m]; B is [k, n] or [n, k].
    ConstMatMap<T> A(a + i * p.stride_a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k,
                     Eigen::OuterStride<>(p.lda));
    ConstMatMap<T> B(b + i * p.stride_b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n,
                     Eigen::OuterStride<>(p.ldb));
    MatMap<T> C(c + i * p.stride_c, p.m, p.n, Eigen::OuterStride<>(p.ldc));
    if (!p.trans_a && !p.trans_b) gemm<T>(A, B, C, alpha, beta);
    if (!p.trans_a && p.trans_b) gemm<T>(A, B.transpose(), C, alpha, beta);
    if (p.trans_a && !p.trans_b) gemm<T>(A.transpose(), B, C, alpha, beta);
    if (p.trans_a && p.trans_b) gemm<T>(A.transpose(), B.transpose(), C, alpha, beta);
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
    case DType::Float16: {
      // Widen the spans of A, B and C to float, multiply, round C back.
      const int64_t na = matmul_operand_span(p.batch, p.stride_a, p.trans_a ? p.k : p.m,
                                             p.trans_a ? p.m : p.k, p.lda);
      const int64_t nb = matmul_operand_span(p.batch, p.stride_b, p.trans_b ? p.n : p.k,
                                             p.trans_b ? p.k : p.n, p.ldb);
      const int64_t nc = matmul_operand_span(p.batch, p.stride_c, p.m, p.n, p.ldc);
      std::vector<float> fa(na), fb(nb), fc(nc);
      const auto* ha = static_cast<const Eigen::half*>(a);
      const auto* hb = static_cast<const Eigen::half*>(b);
      auto* hc = static_cast<Eigen::half*>(c);
      for (int64_t i = 0; i < na; ++i)
        fa[i] = static_cast<float>(ha[i]);
      for (int64_t i = 0; i < nb; ++i)
        fb[i] = static_cast<float>(hb[i]);
      if (p.beta != 0.0) {
        for (int64_t i = 0; i < nc; ++i)
          fc[i] = static_cast<float>(hc[i]);
      }
      matmul_impl(fa.data(), fb.data(), fc.data(), p);
      // Write back only the C elements (rows may have padding when ldc > n).
      for (int64_t bi = 0; bi < p.batch; ++bi)
        for (int64_t r = 0; r < p.m; ++r)
          for (int64_t col = 0; col < p.n; ++col) {
            const int64_t off = bi * p.stride_c + r * p.ldc + col;
            hc[off] = static_cast<Eigen::half>(fc[off]);
          }
      return;
    }
    case DType::Bool:
      break;
  }
  LOOM_FAIL("matmul: not supported for dtype ", dtype_name(dtype));
}

}  // namespace loom::cpu
