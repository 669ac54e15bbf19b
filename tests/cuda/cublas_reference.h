// tests/cuda/cublas_reference.h: a plain-C++ reference of what cuBLAS's strided-batched GEMM
// (cublas{S,D}gemmStridedBatched, GemmStridedBatchedEx with one data type) is documented to do,
// so the arguments cuda/kernels/gemm_mapping.h computes run on the CPU
// (tests/cuda/gemm_mapping_test.cpp).
//
// Column-major; for every b < batchCount, C_b = alpha op(A_b) op(B_b) + beta C_b with
// X_b = X + b * strideX; beta == 0 does not read C. CUBLAS_STATUS_INVALID_VALUE (nothing
// computed) for m, n, k or batchCount < 0, lda < max(1, op(A) == N ? m : k), ldb < max(1,
// op(B) == N ? k : n), ldc < max(1, m); strides are not checked (0 is legal). On top of cuBLAS
// every element read or written is checked against the extent of its buffer, so an argument that
// would fault (or corrupt memory) on a GPU fails here by name.
//
// Leaves out: alpha/beta on the device, the pointer-array batched API, op C, mixed input/output
// and compute types.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "cuda/kernels/gemm_mapping.h"

namespace loom::test {

// The outcome of one reference call: "ok", or what cuBLAS would refuse (INVALID_VALUE) or what
// would have touched memory outside a buffer.
struct GemmOutcome {
  bool ok = true;
  std::string error;  // "INVALID_VALUE: lda = 2 < max(1, 3)" or "out of bounds: B[17] ..."
};

// A buffer as the reference sees it: its first element and how many elements exist.
template <typename T>
struct Extent {
  T* data;
  int64_t size;
};

template <typename T>
GemmOutcome reference_gemm_strided_batched(cuda::GemmOp op_a, cuda::GemmOp op_b, int m, int n,
                                           int k, T alpha, Extent<const T> A, int lda,
                                           long long stride_a, Extent<const T> B, int ldb,
                                           long long stride_b, T beta, Extent<T> C, int ldc,
                                           long long stride_c, int batch) {
  using cuda::GemmOp;
  GemmOutcome out;
  auto refuse = [&](const std::string& why) {
    out.ok = false;
    out.error = "INVALID_VALUE: " + why;
    return out;
  };
  auto ld_check = [](const char* name, int ld, int rows) -> std::string {
    if (ld >= std::max(1, rows)) return "";
    std::ostringstream s;
    s << name << " = " << ld << " < max(1, " << rows << ")";
    return s.str();
  };
  if (m < 0 || n < 0 || k < 0 || batch < 0) return refuse("a negative m, n, k or batchCount");
  for (const std::string& why :
       {ld_check("lda", lda, op_a == GemmOp::N ? m : k),
        ld_check("ldb", ldb, op_b == GemmOp::N ? k : n), ld_check("ldc", ldc, m)}) {
    if (!why.empty()) return refuse(why);
  }
  if (m == 0 || n == 0 || batch == 0) return out;

  // Bounds-checked element access (what a GPU would fault on, or silently corrupt).
  auto at = [&](auto ext, const char* name, int64_t off) -> decltype(ext.data) {
    if (off < 0 || off >= ext.size) {
      if (out.ok) {
        std::ostringstream s;
        s << "out of bounds: " << name << "[" << off << "] of " << ext.size << " elements";
        out.ok = false;
        out.error = s.str();
      }
      return nullptr;
    }
    return ext.data + off;
  };
  for (int b = 0; b < batch && out.ok; ++b) {
    for (int j = 0; j < n && out.ok; ++j) {
      for (int i = 0; i < m && out.ok; ++i) {
        T acc = T(0);
        for (int l = 0; l < k && out.ok; ++l) {
          const int64_t a_off =
              b * stride_a + (op_a == GemmOp::N ? i + int64_t{l} * lda : l + int64_t{i} * lda);
          const int64_t b_off =
              b * stride_b + (op_b == GemmOp::N ? l + int64_t{j} * ldb : j + int64_t{l} * ldb);
          const T* a = at(A, "A", a_off);
          const T* bb = at(B, "B", b_off);
          if (a && bb) acc += *a * *bb;
        }
        T* c = at(C, "C", b * stride_c + i + int64_t{j} * ldc);
        if (c) *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
      }
    }
  }
  return out;
}

// loom's MatmulArgs run the way cuda/kernels/matmul.cu runs them: mapped by col_major_gemm, then
// the reference with cuBLAS operand 1 = B, operand 2 = A. a, b, c and their sizes are loom's
// buffers. Throws what col_major_gemm throws.
template <typename T>
GemmOutcome run_mapped(const MatmulArgs& p, const T* a, int64_t a_size, const T* b, int64_t b_size,
                       T* c, int64_t c_size) {
  const cuda::ColMajorGemm g = cuda::col_major_gemm(p);
  return reference_gemm_strided_batched<T>(
      g.op1, g.op2, g.M, g.N, g.K, static_cast<T>(p.alpha), Extent<const T>{b, b_size}, g.ld1, g.s1,
      Extent<const T>{a, a_size}, g.ld2, g.s2, static_cast<T>(p.beta), Extent<T>{c, c_size}, g.ldc,
      g.sc, g.batch);
}

}  // namespace loom::test
