// tensor/ops_index.cpp: index_select (gather along a dim) and index_add (scatter-add).
//
// Both view the tensor as [outer, rows, inner] around `dim`, like reductions, so one kernel
// pair covers every dim; an embedding lookup is index_select along dim 0.
#include "tensor/backend.h"
#include "tensor/ops.h"

namespace loom {
namespace {

Tensor check_index(const Tensor& index, const Tensor& x, const char* op) {
  LOOM_CHECK(index.defined(), op, ": index is undefined");
  LOOM_CHECK(index.dim() == 1, op, ": index must be 1-D, got shape ", shape_str(index.shape()));
  LOOM_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, op,
             ": index must be int64 or int32, got ", dtype_name(index.dtype()));
  LOOM_CHECK(index.device() == x.device(), op, ": index on ", index.device().str(), ", x on ",
             x.device().str());
  return index.to(DType::Int64).contiguous();
}

void outer_inner(const Shape& sh, int64_t d, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < d; ++i)
    *outer *= sh[i];
  for (size_t i = d + 1; i < sh.size(); ++i)
    *inner *= sh[i];
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  LOOM_CHECK(x.defined() && x.dim() >= 1, "index_select: x must have >= 1 dim");
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  const Tensor idx = check_index(index, x, "index_select");
  const Tensor c = x.contiguous();
  Shape out_shape = x.shape();
  out_shape[d] = idx.numel();
  Tensor out = empty(out_shape, TensorOptions(x.dtype(), x.device()));
  int64_t outer, inner;
  outer_inner(x.shape(), d, &outer, &inner);
  if (out.numel() > 0) {
    backend_for(x.device())
        .index_select(c.raw_data(), static_cast<const int64_t*>(idx.raw_data()), out.raw_data(),
                      x.dtype(), outer, x.size(d), inner, idx.numel());
  }
  return out;
}

void index_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  LOOM_CHECK(x.defined() && x.dim() >= 1, "index_add: x must have >= 1 dim");
  const int64_t d = normalize_dim(dim, x.dim(), "index_add");
  const Tensor idx = check_index(index, x, "index_add");
  LOOM_CHECK(x.is_contiguous(), "index_add_: x must be contiguous");
  LOOM_CHECK(src.defined() && src.dtype() == x.dtype() && src.device() == x.device(),
             "index_add: src must match x's dtype and device");
  Shape want = x.shape();
  want[d] = idx.numel();
  LOOM_CHECK(src.shape() == want, "index_add: src has shape ", shape_str(src.shape()),
             ", expected ", shape_str(want), " (x ", shape_str(x.shape()), " with dim ", d,
             " = index size ", idx.numel(), ")");
  const Tensor s = src.contiguous();
  int64_t outer, inner;
  outer_inner(x.shape(), d, &outer, &inner);
  if (s.numel() > 0) {
    backend_for(x.device())
        .index_add(x.raw_data(), static_cast<const int64_t*>(idx.raw_data()), s.raw_data(),
                   x.dtype(), outer, x.size(d), inner, idx.numel());
  }
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  LOOM_CHECK(x.defined(), "index_add: x is undefined");
  Tensor out = x.clone();
  index_add_(out, dim, index, src);
  return out;
}

}  // namespace loom
