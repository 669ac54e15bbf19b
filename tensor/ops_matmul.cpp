// tensor/ops_matmul.cpp: (batched) matrix multiply, mapping views onto GEMM arguments.
//
// a [..., m, k] @ b [..., k, n] -> [..., m, n]. Each operand is described to the backend as
// (pointer, transposed?, leading dimension, batch stride). A row-major matrix, a transposed
// one (a.t()) and a batch broadcast over stride 0 all fit that description without a copy;
// anything else (e.g. a narrowed column block with a gap) is made contiguous first.
// matmul_mixed is the same GEMM with float16 operands and a float32 result (fused kernels).
// cpu_bf16_gemm_kernel names the CPU's bfloat16 micro-kernel for reports.
#include "tensor/backend.h"
#include "tensor/cpu/gemm/kernels.h"
#include "tensor/fused_kernels.h"
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

// What one GEMM call needs: the output and the two operands as the backend reads them.
struct GemmPlan {
  Tensor out;
  Operand A, B;
  MatmulArgs args;
  bool empty = false;  // nothing to multiply: out is already final (empty, or zeros when k = 0)
};

GemmPlan plan_gemm(const char* op, const Tensor& a, const Tensor& b, DType out_dtype) {
  LOOM_CHECK(a.defined() && b.defined(), op, ": undefined operand");
  LOOM_CHECK(a.dim() >= 2 && b.dim() >= 2, op, ": expected operands with >= 2 dims, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  LOOM_CHECK(a.device() == b.device(), op, ": operands on ", a.device().str(), " and ",
             b.device().str());
  LOOM_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch ", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " vs ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  LOOM_CHECK(b.size(-2) == k, op, ": shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " cannot be multiplied (", k, " != ", b.size(-2), ")");
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, op);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  GemmPlan p;
  p.out = empty(out_shape, TensorOptions(out_dtype, a.device()));
  if (p.out.numel() == 0 || k == 0) {
    if (k == 0) p.out.fill_(0);
    p.empty = true;
    return p;
  }
  p.A = describe(a, batch, m, k);
  p.B = describe(b, batch, k, n);
  MatmulArgs& g = p.args;
  g.batch = numel(batch);
  g.m = m, g.n = n, g.k = k;
  g.trans_a = p.A.trans, g.trans_b = p.B.trans;
  g.lda = p.A.ld, g.ldb = p.B.ld, g.ldc = n;
  g.stride_a = p.A.batch_stride, g.stride_b = p.B.batch_stride, g.stride_c = m * n;
  return p;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  GemmPlan p = plan_gemm("matmul", a, b, a.defined() ? a.dtype() : DType::Float32);
  if (!p.empty)
    backend_for(a.device())
        .matmul(p.A.t.raw_data(), p.B.t.raw_data(), p.out.raw_data(), a.dtype(), p.args);
  return p.out;
}

Tensor matmul_mixed(const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.defined() && (a.dtype() == DType::Float16 || a.dtype() == DType::BFloat16),
             "matmul_mixed: operands must be float16 or bfloat16, got ",
             a.defined() ? dtype_name(a.dtype()) : "undefined");
  GemmPlan p = plan_gemm("matmul_mixed", a, b, DType::Float32);
  if (!p.empty)
    fused_kernels_for(a.device(), "matmul_mixed")
        .matmul_mixed(p.A.t.raw_data(), p.B.t.raw_data(), a.dtype(), p.out.raw_data(),
                      DType::Float32, p.args);
  return p.out;
}

const char* cpu_bf16_gemm_kernel() {
  return cpu::gemm::bf16_kernel(cpu::kernel_level()).name;
}

}  // namespace loom
