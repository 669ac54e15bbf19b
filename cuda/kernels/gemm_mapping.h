// cuda/kernels/gemm_mapping.h: how matmul.cu turns loom's row-major MatmulArgs into cuBLAS's
// column-major strided-batched GEMM arguments. Plain C++, so tests/cuda/gemm_mapping_test.cpp
// runs it in every build against a reference of cuBLAS's documented semantics. Internal to cuda/
// and tests/cuda/.
//
// A row-major [r, c] matrix with leading dimension ld is, byte for byte, the column-major [c, r]
// matrix (its transpose) with the same ld. So instead of C = op(A) op(B) cuBLAS is asked for
//     C^T = op(B)^T op(A)^T        (an [n, m] column-major matrix == C [m, n] row-major),
// with B as its first operand, A as its second, and m and n swapped: no data moves. Leading
// dimensions and batch strides pass through unchanged, but for fit_ld's one adjustment.
//
// Leaves out: the cuBLAS calls and the k == 0 case (matmul.cu), sizes of 0 (matmul returns
// before mapping).
#pragma once

#include <cstdint>
#include <limits>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace loom::cuda {

// cuBLAS's cublasOperation_t, for the two values loom uses (matmul.cu converts: N ->
// CUBLAS_OP_N, T -> CUBLAS_OP_T).
enum class GemmOp { N, T };

// A size or leading dimension as cuBLAS's 32-bit int; throws when it does not fit.
inline int to_int(int64_t v, const char* what) {
  LOOM_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "matmul: ", what, " = ", v,
             " does not fit cuBLAS's 32-bit int");
  return static_cast<int>(v);
}

// cuBLAS needs ld >= max(1, the operand's column-major row count), even when there is only one
// column and ld is never used to step; loom may pass a smaller ld for such single-column
// operands (a [1, k] row has nothing to step over), so raise it there and check everywhere else.
inline int64_t fit_ld(int64_t ld, int64_t rows, int64_t cols, const char* name) {
  if (cols <= 1 && ld < rows) ld = rows;
  if (ld < 1) ld = 1;
  LOOM_CHECK(ld >= rows, "matmul: leading dimension ", name, " = ", ld, " < ", rows);
  return ld;
}

// The cuBLAS (column-major) problem for loom's row-major MatmulArgs: the transposed problem
// C^T [n, m] = op(B)^T [n, k] * op(A)^T [k, m]. cuBLAS operand 1 is B: stored column-major as
// [n, k] (op N) when loom's B is [k, n] row-major, or as [k, n] (op T) when loom stores B
// transposed ([n, k] row-major). Operand 2 is A likewise. Shared by matmul and matmul_mixed.
struct ColMajorGemm {
  GemmOp op1, op2;
  int M, N, K, batch;    // cuBLAS's m, n, k, batchCount: loom's n, m, k, batch
  int ld1, ld2, ldc;     // leading dimensions of operand 1 (B), operand 2 (A), C
  long long s1, s2, sc;  // batch strides of B, A, C (elements)
};

// Throws loom::Error (naming the argument) when a size or ld does not fit cuBLAS; call with
// batch, m, n, k >= 1 (matmul handles the empty and k == 0 cases before).
inline ColMajorGemm col_major_gemm(const MatmulArgs& p) {
  ColMajorGemm g;
  g.op1 = p.trans_b ? GemmOp::T : GemmOp::N;
  g.op2 = p.trans_a ? GemmOp::T : GemmOp::N;
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

}  // namespace loom::cuda
