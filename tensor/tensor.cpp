// tensor/tensor.cpp: Tensor metadata, views, conversions and in-place copies.
//
// Views only compute new (shape, strides, offset) over the same Storage. Anything that moves
// data goes through backend_for(device): compact (view -> dense), strided_write (dense ->
// view), cast and the copy_* functions. Math is in ops_*.cpp; factories in factories.cpp.
#include "tensor/tensor.h"

#include <algorithm>
#include <numeric>

#include "tensor/backend.h"

namespace loom {

Tensor::Tensor(StoragePtr storage, Shape shape, Shape strides, int64_t offset, DType dtype)
    : impl_(std::make_shared<Impl>(
          Impl{std::move(storage), std::move(shape), std::move(strides), offset, dtype})) {
  LOOM_CHECK(impl_->shape.size() == impl_->strides.size(), "Tensor: shape ",
             shape_str(impl_->shape), " and strides ", shape_str(impl_->strides),
             " differ in length");
  LOOM_CHECK(impl_->shape.size() <= static_cast<size_t>(kMaxDims), "Tensor: at most ", kMaxDims,
             " dims are supported, got shape ", shape_str(impl_->shape));
}

const Tensor::Impl& Tensor::impl() const {
  LOOM_CHECK(impl_ != nullptr, "Tensor: this tensor is undefined (default-constructed)");
  return *impl_;
}

const Shape& Tensor::shape() const {
  return impl().shape;
}
const Shape& Tensor::strides() const {
  return impl().strides;
}
int64_t Tensor::numel() const {
  return loom::numel(impl().shape);
}
DType Tensor::dtype() const {
  return impl().dtype;
}
Device Tensor::device() const {
  return impl().storage->device();
}
int64_t Tensor::offset() const {
  return impl().offset;
}
const StoragePtr& Tensor::storage() const {
  return impl().storage;
}

int64_t Tensor::size(int64_t d) const {
  return shape()[normalize_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  const Shape& sh = shape();
  int64_t expected = 1;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] != 1 && strides()[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

StridedLayout strided_layout(const Tensor& t) {
  StridedLayout l;
  l.ndim = static_cast<int>(t.dim());
  for (int i = 0; i < l.ndim; ++i) {
    l.sizes[i] = t.shape()[i];
    l.strides[i] = t.strides()[i];
  }
  l.offset = t.offset();
  return l;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * dtype_size(dtype());
}

Tensor Tensor::with_layout(Shape shape, Shape strides, int64_t offset) const {
  return Tensor(storage(), std::move(shape), std::move(strides), offset, dtype());
}

// ---- conversion ------------------------------------------------------------------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), TensorOptions(dtype(), device()));
  if (numel() > 0) {
    backend_for(device()).compact(storage()->data(), strided_layout(*this), out.raw_data(),
                                  dtype());
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor src = contiguous();
  if (src.storage() != storage()) return src;  // contiguous() already copied
  Tensor out = empty(shape(), TensorOptions(dtype(), device()));
  backend_for(device()).copy_device_to_device(out.raw_data(), src.raw_data(),
                                              numel() * dtype_size(dtype()), device());
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape(), TensorOptions(dtype(), target));
  const std::size_t bytes = numel() * dtype_size(dtype());
  if (device().is_cpu()) {
    backend_for(target).copy_host_to_device(out.raw_data(), src.raw_data(), bytes, target);
  } else if (target.is_cpu()) {
    backend_for(device()).copy_device_to_host(out.raw_data(), src.raw_data(), bytes, device());
  } else {
    // Between two GPUs: through the host (simple; peer copies are a later optimisation).
    out.copy_(src.to(kCPU));
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape(), TensorOptions(target, device()));
  backend_for(device()).cast(src.raw_data(), dtype(), out.raw_data(), target, numel());
  return out;
}

// ---- views -----------------------------------------------------------------------------

namespace {
Shape infer_shape(const Shape& requested, int64_t total, const Shape& from, const char* op) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      LOOM_CHECK(infer_at < 0, op, ": only one -1 allowed in ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      LOOM_CHECK(out[i] >= 0, op, ": negative size in ", shape_str(requested));
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    LOOM_CHECK(known != 0 && total % known == 0, op, ": cannot view shape ", shape_str(from),
               " as ", shape_str(requested));
    out[infer_at] = total / known;
  }
  LOOM_CHECK(numel(out) == total, op, ": cannot view shape ", shape_str(from), " (", total,
             " elements) as ", shape_str(requested));
  return out;
}
}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  const Shape target = infer_shape(requested, numel(), shape(), "view");
  LOOM_CHECK(is_contiguous(), "view: tensor of shape ", shape_str(shape()), " with strides ",
             shape_str(strides()), " is not contiguous; use reshape() (which copies)");
  return with_layout(target, contiguous_strides(target), offset());
}

Tensor Tensor::reshape(const Shape& requested) const {
  const Shape target = infer_shape(requested, numel(), shape(), "reshape");
  return is_contiguous() ? view(target) : contiguous().view(target);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = normalize_dim(d, dim(), "narrow");
  LOOM_CHECK(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  LOOM_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " length ",
             length, " out of range for dim ", d, " of shape ", shape_str(shape()));
  Shape sh = shape();
  sh[d] = length;
  return with_layout(sh, strides(), offset() + start * strides()[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  LOOM_CHECK(step >= 1, "slice: step must be >= 1, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sh = shape(), st = strides();
  sh[d] = (end - start + step - 1) / step;
  st[d] *= step;
  return with_layout(sh, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  LOOM_CHECK(dim() > 0, "select: cannot select from a 0-d tensor");
  const int64_t n = shape()[d];
  if (index < 0) index += n;
  LOOM_CHECK(index >= 0 && index < n, "select: index ", index, " out of range for dim ", d,
             " of shape ", shape_str(shape()));
  Shape sh = shape(), st = strides();
  const int64_t off = offset() + index * st[d];
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  return with_layout(sh, st, off);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_dim(d0, dim(), "transpose");
  d1 = normalize_dim(d1, dim(), "transpose");
  Shape sh = shape(), st = strides();
  if (dim() == 0) return *this;
  std::swap(sh[d0], sh[d1]);
  std::swap(st[d0], st[d1]);
  return with_layout(sh, st, offset());
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  LOOM_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(),
             " dims for a tensor of shape ", shape_str(shape()));
  Shape sh(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = normalize_dim(dims[i], dim(), "permute");
    LOOM_CHECK(!seen[d], "permute: dim ", d, " repeated in ", shape_str(dims));
    seen[d] = true;
    sh[i] = shape()[d];
    st[i] = strides()[d];
  }
  return with_layout(sh, st, offset());
}

Tensor Tensor::t() const {
  LOOM_CHECK(dim() == 2, "t: expected a 2-D tensor, got shape ", shape_str(shape()));
  return transpose(0, 1);
}

Tensor Tensor::expand(const Shape& target) const {
  LOOM_CHECK(target.size() >= shape().size(), "expand: cannot expand shape ", shape_str(shape()),
             " to fewer dims ", shape_str(target));
  const size_t lead = target.size() - shape().size();
  Shape sh(target.size()), st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      LOOM_CHECK(target[i] >= 0, "expand: size -1 not allowed for a new leading dim in ",
                 shape_str(target));
      sh[i] = target[i];
      continue;
    }
    const int64_t have = shape()[i - lead];
    const int64_t want = target[i] == -1 ? have : target[i];
    LOOM_CHECK(have == want || have == 1, "expand: cannot expand shape ", shape_str(shape()),
               " to ", shape_str(target), " (dim ", i, ": ", have, " vs ", want, ")");
    sh[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  return with_layout(sh, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape()[d] != 1) return *this;
  return select(d, 0);
}

Tensor Tensor::squeeze() const {
  Shape sh, st;
  for (int64_t i = 0; i < dim(); ++i) {
    if (shape()[i] != 1) {
      sh.push_back(shape()[i]);
      st.push_back(strides()[i]);
    }
  }
  return with_layout(sh, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape sh = shape(), st = strides();
  // Any stride works for a size-1 dim; this one keeps a contiguous tensor contiguous.
  const int64_t s = d < dim() ? st[d] * sh[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, s);
  return with_layout(sh, st, offset());
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = normalize_dim(start_dim, dim(), "flatten");
  end_dim = normalize_dim(end_dim, dim(), "flatten");
  LOOM_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " > end_dim ", end_dim);
  Shape sh(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i)
    merged *= shape()[i];
  sh.push_back(merged);
  sh.insert(sh.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(sh);
}

// ---- in-place writes -------------------------------------------------------------------

const Tensor& Tensor::copy_(const Tensor& src_in) const {
  Tensor src = src_in.to(device()).to(dtype()).expand(shape()).contiguous();
  if (src.storage() == storage()) src = src.clone();  // overlapping source: copy it first
  if (numel() == 0) return *this;
  Backend& be = backend_for(device());
  if (is_contiguous()) {
    be.copy_device_to_device(raw_data(), src.raw_data(), numel() * dtype_size(dtype()), device());
  } else {
    be.strided_write(src.raw_data(), storage()->data(), strided_layout(*this), dtype());
  }
  return *this;
}

const Tensor& Tensor::fill_(double value) const {
  if (is_contiguous()) {
    backend_for(device()).fill(raw_data(), dtype(), numel(), value);
  } else {
    copy_(full({}, value, TensorOptions(dtype(), device())));
  }
  return *this;
}

}  // namespace loom
