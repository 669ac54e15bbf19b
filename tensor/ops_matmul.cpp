// tensor/ops_matmul.cpp: (batched) matrix multiply, mapping views onto GEMM arguments.
//
// a [..., m, k] @ b [..., k, n] -> [..., m, n]. Each operand is described to the backend as
// (pointer, transposed?, leading dimension, batch stride). A row-major matrix, a transposed
// one (a.t()) and a batch broadcast over stride 0 all fit that description without a copy;
// anything else (e.g. a narrowed column block with a gap) is made contiguous first.
#include "tensor/ops.h"

namespace loom {
namespace {

struct Operand {
  Tensor t;  // what the pointer comes from (possibly a dense copy)
  bool trans = false;
  int64_t ld = 0, batch_stride = 0;
};

// Collapses the batch dims [0, nb) into one stride, if they are evenly spaced.
bool batch_stride_of(const Tensor& t, int64_t nb, int64_t* stride) {
  int64_t bs = -1, prod = 1;
  for (int64_t i = nb - 1; i >= 0; --i) {
    const int64_t size = t.size(i), st = t.strides()[i];
    if (size == 1) continue;
    if (bs < 0) {
      if (st % prod != 0) return false;
      bs = st / prod;
    }
    if (st != bs * prod) return false;
    prod *= size;
  }
  *stride = bs < 0 ? 0 : bs;
  return true;
}

Operand describe(const Tensor& x, const Shape& batch, int64_t rows, int64_t cols) {
  Shape full = batch;
  full.push_back(rows);
  full.push_back(cols);
  const Tensor t = x.expand(full);
  const int64_t nb = static_cast<int64_t>(batch.size());
  const int64_t sr = t.strides()[nb], sc = t.strides()[nb + 1];
  Operand op{t};
  bool ok = batch_stride_of(t, nb, &op.batch_stride);
  if (ok && (cols == 1 || sc == 1) && (rows == 1 || sr >= cols)) {
    op.trans = false;
    op.ld = rows == 1 ? cols : sr;
  } else if (ok && (rows == 1 || sr == 1) && (cols == 1 || sc >= rows)) {
    op.trans = true;
    op.ld = cols == 1 ? rows : sc;
  } else {
    ok = false;
  }
  if (ok && op.ld >= 1) return op;
  // Fall back to a dense copy, which is plain row-major.
  const Tensor dense = t.contiguous();
  return Operand{dense, false, cols, rows * cols};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && b.defined(), "matmul: undefined operand");
  LOOM_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected operands with >= 2 dims, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  LOOM_CHECK(a.device() == b.device(), "matmul: operands on ", a.device().str(), " and ",
             b.device().str());
  LOOM_CHECK(a.dtype() == b.dtype(), "matmul: dtype mismatch ", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " vs ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  LOOM_CHECK(b.size(-2) == k, "matmul: shapes ", shape_str(a.shape()), " and ",
             shape_str(b.shape()), " cannot be multiplied (", k, " != ", b.size(-2), ")");
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, TensorOptions(a.dtype(), a.device()));
  const int64_t nbatch = numel(batch);
  if (out.numel() == 0) return out;
  if (k == 0) {
    out.fill_(0);
    return out;
  }
  const Operand A = describe(a, batch, m, k), B = describe(b, batch, k, n);
  MatmulArgs args;
  args.batch = nbatch;
  args.m = m;
  args.n = n;
  args.k = k;
  args.trans_a = A.trans;
  args.trans_b = B.trans;
  args.lda = A.ld;
  args.ldb = B.ld;
  args.ldc = n;
  args.stride_a = A.batch_stride;
  args.stride_b = B.batch_stride;
  args.stride_c = m * n;
  backend_for(a.device()).matmul(A.t.raw_data(), B.t.raw_data(), out.raw_data(), a.dtype(), args);
  return out;
}

}  // namespace loom
