// tensor/ops_join.cpp: concat and stack (copies), split and chunk (views).
#include "tensor/ops.h"

namespace loom {

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  LOOM_CHECK(!tensors.empty(), "concat: needs at least one tensor");
  const Tensor& first = tensors[0];
  LOOM_CHECK(first.defined(), "concat: tensor 0 is undefined");
  const int64_t d = normalize_dim(dim, first.dim(), "concat");
  LOOM_CHECK(first.dim() > 0, "concat: cannot concatenate 0-d tensors");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    LOOM_CHECK(t.defined(), "concat: tensor ", i, " is undefined");
    LOOM_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), "concat: tensor ", i,
               " is ", dtype_name(t.dtype()), " on ", t.device().str(), ", tensor 0 is ",
               dtype_name(first.dtype()), " on ", first.device().str());
    bool same = t.dim() == first.dim();
    for (int64_t j = 0; same && j < t.dim(); ++j)
      same = j == d || t.size(j) == first.size(j);
    LOOM_CHECK(same, "concat: tensor ", i, " has shape ", shape_str(t.shape()),
               ", expected tensor 0's shape ", shape_str(first.shape()), " except in dim ", d);
    out_shape[d] += t.size(d);
  }
  Tensor out = empty(out_shape, TensorOptions(first.dtype(), first.device()));
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    out.narrow(d, at, t.size(d)).copy_(t);  // write each input into its slot of the output
    at += t.size(d);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  LOOM_CHECK(!tensors.empty() && tensors[0].defined(), "stack: needs at least one tensor");
  const int64_t d = normalize_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    LOOM_CHECK(tensors[i].defined() && tensors[i].shape() == tensors[0].shape(), "stack: tensor ",
               i, " has shape ", tensors[i].defined() ? shape_str(tensors[i].shape()) : "undefined",
               ", expected ", shape_str(tensors[0].shape()));
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return concat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  LOOM_CHECK(split_size >= 1, "split: split_size must be >= 1, got ", split_size);
  const int64_t d = normalize_dim(dim, x.dim(), "split");
  std::vector<Tensor> out;
  const int64_t n = x.size(d);
  for (int64_t start = 0; start < n; start += split_size) {
    out.push_back(x.narrow(d, start, std::min(split_size, n - start)));
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const int64_t d = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes)
    total += s;
  LOOM_CHECK(total == x.size(d), "split: sizes ", shape_str(sizes), " sum to ", total, " but dim ",
             d, " of ", shape_str(x.shape()), " has size ", x.size(d));
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  LOOM_CHECK(chunks >= 1, "chunk: chunks must be >= 1, got ", chunks);
  const int64_t d = normalize_dim(dim, x.dim(), "chunk");
  const int64_t size = (x.size(d) + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), d);
}

}  // namespace loom
