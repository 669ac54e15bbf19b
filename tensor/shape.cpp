// tensor/shape.cpp: shape arithmetic and NumPy broadcasting.
#include "tensor/shape.h"

#include <algorithm>
#include <sstream>

#include "tensor/error.h"

namespace loom {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t running = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = running;
    running *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op_name) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  // BEGIN LAB 01 TASK 1 uses(op_name)
  for (size_t i = 0; i < n; ++i) {
    // i counts from the right: both shapes are aligned on their last dimension.
    const int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
    LOOM_CHECK(sa == sb || sa == 1 || sb == 1, op_name, ": shapes ", shape_str(a), " and ",
               shape_str(b), " cannot be broadcast (dim -", i + 1, ": ", sa, " vs ", sb, ")");
    out[n - 1 - i] = sa == 1 ? sb : sa;
  }
  // END LAB 01 TASK 1
  return out;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const std::string& op_name) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  LOOM_CHECK(dim >= lo && dim <= hi, op_name, ": dim ", dim, " out of range for a ", ndim,
             "-d tensor (expected ", lo, "..", hi, ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

}  // namespace loom
